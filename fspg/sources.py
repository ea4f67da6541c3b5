"""SQL-defined feature views: materializing source windows, backfills in chunks, due refreshes.

The work happens in SQL (``fs.materialize_source``: run the source query for a window,
skip rows history already has, append the rest through ``fs.ingest``); this module cuts
long ranges into windows, one transaction each, so an interrupted backfill keeps what it
finished and resumes from the high-water mark.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from fspg.errors import InvalidArgument, SourceFailed

HAS_SOURCE = ("SELECT EXISTS (SELECT 1 FROM fs.view_source s"
              " WHERE s.version_id = (fs.resolve_version(%(view)s)).version_id)")
WINDOW_FROM = ("SELECT coalesce(%(start)s, s.high_water, s.start_at) FROM fs.view_source s"
               " WHERE s.version_id = (fs.resolve_version(%(view)s)).version_id")
MATERIALIZE = "SELECT * FROM fs.materialize_source(%(view)s, %(start)s, %(end)s)"
RECORD_ERROR = "SELECT fs.record_source_error((fs.resolve_version(%(view)s)).version_id, %(error)s)"
RUN_DUE = "SELECT * FROM fs.run_due_sources()"
VIEW_STATUS = ("SELECT feature_view, version, refresh, start_at, high_water, last_run_at, last_error, runs, rows_inserted"
               " FROM fs.source_status ORDER BY feature_view, version")
_UNITS = {"s": "seconds", "sec": "seconds", "second": "seconds", "min": "minutes", "minute": "minutes",
          "h": "hours", "hour": "hours", "d": "days", "day": "days", "w": "weeks", "week": "weeks"}


def has_source(conn: psycopg.Connection, view: str) -> bool:
    """Whether view[@version] is SQL-defined (has a source query)."""
    return conn.execute(HAS_SOURCE, {"view": view}).fetchone()[0]


def as_interval(value: Any) -> dt.timedelta | None:
    """A timedelta from a timedelta or text such as ``"1 day"``, ``"6 hours"``, ``"30min"``."""
    if value is None or isinstance(value, dt.timedelta):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([a-z]+?)s?\s*", str(value).lower())
    if not match or match.group(2) not in _UNITS:
        raise InvalidArgument(f"chunk must be a duration such as '1 day' or '6 hours', got {value!r}")
    delta = dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if delta <= dt.timedelta(0):
        raise InvalidArgument("chunk must be positive")
    return delta


def materialize(connection: Callable[[], ContextManager[psycopg.Connection]], view: str, start: dt.datetime | None,
                end: dt.datetime | None, chunk: dt.timedelta | None,
                on_window: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Materialize [start, end) of a SQL-defined view, in windows of ``chunk`` (one transaction each)."""
    end = end or dt.datetime.now(dt.timezone.utc)
    windows = [(start, end)]
    if chunk is not None:
        with connection() as conn:
            first = conn.execute(WINDOW_FROM, {"view": view, "start": start}).fetchone()[0]
        if first is None:
            raise InvalidArgument(f"{view}: where should the first window start?",
                                  hint="give start, or declare source.start in the definition")
        windows, at = [], first
        while at < end:
            windows.append((at, min(at + chunk, end)))
            at += chunk
    done = []
    for window_start, window_end in windows:
        try:
            with connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(MATERIALIZE, {"view": view, "start": window_start, "end": window_end}).fetchone()
        except SourceFailed as err:
            with connection() as conn:  # the failed window rolled back; note why, in a transaction of its own
                conn.execute(RECORD_ERROR, {"view": view, "error": str(err)})
            raise
        done.append(row)
        if on_window:
            on_window(row)
    return done


def run_due(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Run every due refresh; one row per view (error set where its source failed)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(RUN_DUE).fetchall()


ADD_DATABASE = "SELECT * FROM fs.add_source_database(%(name)s, %(options)s, %(user)s, %(password)s, %(tables)s, %(schema)s)"
IMPORT_TABLES = "SELECT * FROM fs.import_source_tables(%(name)s, %(schema)s)"
IS_SUPERUSER = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
REMOVE_DATABASE = "SELECT fs.remove_source_database(%(name)s)"
SOURCE_KIND = "SELECT kind, server_name FROM fs.source_database WHERE name = %(name)s"


@dataclass(frozen=True)
class RemovedSource:
    """What ``remove_source`` did: ``slot_left_on_source`` names the replication slot a
    CDC source that did not answer still has (drop it there: pg_drop_replication_slot)."""

    name: str
    slot_left_on_source: str | None
LIST_DATABASES = "SELECT name, kind, local_schema, tables, added_at, added_by FROM fs.source_database ORDER BY name"


def add_database(conn: psycopg.Connection, name: str, dsn: str, tables: list[str], schema: str = "public") -> dict[str, Any]:
    """Register the database at ``dsn`` as source ``name``: its ``tables`` (in ``schema``) are
    imported into the local schema ``src_<name>`` through postgres_fdw."""
    from psycopg.types.json import Jsonb

    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as err:
        raise InvalidArgument(f"not a PostgreSQL DSN: {err}") from None
    options = {k: str(v) for k, v in params.items() if k in ("host", "port", "dbname", "sslmode", "connect_timeout")}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(ADD_DATABASE, {
            "name": name, "options": Jsonb(options), "user": params.get("user") or "postgres",
            "password": params.get("password"), "tables": list(tables), "schema": schema})
        if not params.get("password") and cur.execute(IS_SUPERUSER).fetchone()["rolsuper"]:
            # postgres_fdw lets roles other than superusers (fs_owner, fs_source) use a
            # mapping without a password only when a superuser says so: this one does.
            cur.execute(sql.SQL("ALTER USER MAPPING FOR PUBLIC SERVER {} OPTIONS (ADD password_required 'false')").format(
                sql.Identifier(f"fs_src_{name}")))
        return cur.execute(IMPORT_TABLES, {"name": name, "schema": schema}).fetchone()
