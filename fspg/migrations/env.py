"""Alembic environment for fspg.

The version table lives in schema ``fs`` (``fs.alembic_version``) so a user's own
alembic history in ``public`` is left alone. Every run re-applies
``sql/functions/*.sql`` after the revisions, in the same transaction.
"""
from __future__ import annotations

from alembic import context

from fspg.migrations.sqlrun import execute_sql
from fspg.sqlfiles import function_files, read_function_file

VERSION_SCHEMA = "fs"
DATABASE_GRANTS = """DO $grants$ BEGIN
    EXECUTE format('GRANT CREATE, TEMPORARY ON DATABASE %I TO fs_owner', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO fs_source', current_database());
END $grants$;"""
VERSION_TABLE = "alembic_version"


def _apply_functions() -> None:
    # Function files are written against the newest schema; a migration to an older
    # revision (tests of the upgrade path) runs the DDL only.
    target = context.get_revision_argument()
    if target not in ("head", context.script.get_current_head()):
        return
    # As the owner: every function, generated table and grant belongs to fs_owner (a
    # NOLOGIN role that is never a superuser), whoever runs the migration.
    # The database's own grants to the owner are re-given on every migrate: a copy made
    # with CREATE DATABASE … TEMPLATE has the objects but not those grants.
    execute_sql(DATABASE_GRANTS)
    execute_sql("SET LOCAL ROLE fs_owner;")
    for name in function_files():
        execute_sql(f"-- sql/functions/{name}\n" + read_function_file(name))
    execute_sql("RESET ROLE;")


def run_offline() -> None:
    """Print the SQL (``fspg migrate --sql``) for a DBA to run."""
    context.configure(
        url="postgresql://",
        literal_binds=True,
        version_table_schema=VERSION_SCHEMA,
        version_table=VERSION_TABLE,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.get_context().impl.static_output(f"CREATE SCHEMA IF NOT EXISTS {VERSION_SCHEMA};\n")
        context.run_migrations()
        _apply_functions()


def run_online() -> None:
    """Migrate over the connection fspg.migrate passed in, inside its transaction.

    fspg.migrate has already taken the advisory lock and created schema fs; the
    transaction commits when fspg.migrate's ``engine.begin()`` block ends.
    """
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        version_table_schema=VERSION_SCHEMA,
        version_table=VERSION_TABLE,
        transactional_ddl=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
        _apply_functions()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
