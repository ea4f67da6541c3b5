"""Run one SQL file from an alembic revision, online or in ``--sql`` (offline) mode."""
from __future__ import annotations

from alembic import context


def execute_sql(text: str) -> None:
    """Execute a multi-statement SQL text, or print it when alembic runs offline.

    Online, the text goes to psycopg without parameters, so ``%`` in format() strings
    and ``:`` in casts reach the server untouched (SQLAlchemy's text() would parse them).
    """
    if context.is_offline_mode():
        context.get_context().impl.static_output(text.rstrip() + "\n")
        return
    dbapi = context.get_bind().connection.dbapi_connection
    dbapi.execute(text)


def run_migration(name: str) -> None:
    """Run ``sql/migrations/<name>``."""
    from fspg.sqlfiles import read_migration

    execute_sql(read_migration(name))
