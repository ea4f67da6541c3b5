"""Bring a database to the newest schema: alembic revisions over ``sql/migrations``,
then ``sql/functions`` re-applied. Safe to run twice, and from two processes at once.
"""
from __future__ import annotations

import io
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from fspg.connection import sqlalchemy_engine

LOCK_KEY = 7_305_118_001  # fixed and arbitrary: the "fspg migrate" advisory lock
VERSION_SCHEMA = "fs"


def alembic_config(output: io.StringIO | None = None) -> Config:
    """An alembic Config pointing at fspg's own migration scripts (no alembic.ini needed)."""
    cfg = Config(output_buffer=output) if output is not None else Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(resources.files("fspg") / "migrations"))
    cfg.set_main_option("version_locations", str(resources.files("fspg") / "migrations" / "versions"))
    return cfg


def head_revision() -> str:
    """The newest revision fspg ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(dsn: str, revision: str = "head") -> str:
    """Migrate the database at ``dsn`` to ``revision``; returns the revision it is at afterwards."""
    import psycopg
    import sqlalchemy

    try:
        return _upgrade(dsn, revision)
    except (sqlalchemy.exc.ProgrammingError, psycopg.errors.InsufficientPrivilege) as err:
        cause = getattr(err, "orig", err)
        if getattr(cause, "sqlstate", None) == "42501" and "grant role" in str(cause):
            # The fs_* roles are cluster-wide: another admin (or a superuser) made them, and
            # this role may not grant them (PostgreSQL 16 on: only with ADMIN OPTION).
            from fspg.errors import PermissionDenied

            raise PermissionDenied(
                f"{cause.diag.message_primary}: the fs_* roles on this server were made by another role",
                hint="migrate as the role that made them, or have a superuser run GRANT fs_owner, fs_admin, fs_writer,"
                     " fs_reader, fs_serving TO <you> WITH ADMIN OPTION") from err
        raise


def _upgrade(dsn: str, revision: str) -> str:
    engine = sqlalchemy_engine(dsn)
    try:
        with engine.begin() as connection:
            # The lock serialises concurrent migrates; the schema must exist before
            # alembic creates its version table in it.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
            _keep_ddl_on_coordinator(connection)
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {VERSION_SCHEMA}")
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
            return MigrationContext.configure(
                connection, opts={"version_table_schema": VERSION_SCHEMA}
            ).get_current_revision()
    finally:
        engine.dispose()


def _keep_ddl_on_coordinator(connection) -> None:
    """On a Citus coordinator, fspg's DDL stays local: the catalog, its functions and every
    table are the coordinator's until `fspg distribute` distributes history and online
    tables and puts on the workers what they need (docs/scale-out.md). Citus would
    otherwise propagate each statement to the workers as the role running it, and
    fs_owner, which owns fspg's objects and runs its SECURITY DEFINER functions, cannot
    log in to them. Set for this database, so `fspg apply` and upkeep behave the same."""
    has_citus = connection.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')").scalar()
    if has_citus:
        connection.exec_driver_sql("SET LOCAL citus.enable_ddl_propagation = off")
        connection.exec_driver_sql("DO $$ BEGIN EXECUTE format('ALTER DATABASE %%I SET citus.enable_ddl_propagation = off',"
                                   " current_database()); END $$")


def current_revision(dsn: str) -> str | None:
    """The revision the database is at, or None before the first migrate."""
    engine = sqlalchemy_engine(dsn)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(
                connection, opts={"version_table_schema": VERSION_SCHEMA}
            ).get_current_revision()
    finally:
        engine.dispose()


def upgrade_sql(revision: str = "head") -> str:
    """The SQL a DBA would run to migrate to ``revision`` (alembic's offline mode)."""
    out = io.StringIO()
    command.upgrade(alembic_config(out), revision, sql=True)
    return out.getvalue()
