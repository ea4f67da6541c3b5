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
from psycopg.rows import class_row, dict_row

from fspg.errors import InvalidArgument, SourceFailed
from fspg.results import WindowResult
from fspg.statements import Q

_UNITS = {"s": "seconds", "sec": "seconds", "second": "seconds", "min": "minutes", "minute": "minutes",
          "h": "hours", "hour": "hours", "d": "days", "day": "days", "w": "weeks", "week": "weeks"}


def has_source(conn: psycopg.Connection, view: str) -> bool:
    """Whether view[@version] is SQL-defined (has a source query)."""
    return conn.execute(Q.has_source, {"view": view}).fetchone()[0]


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
                on_window: Callable[[WindowResult], None] | None = None) -> list[WindowResult]:
    """Materialize [start, end) of a SQL-defined view, in windows of ``chunk`` (one transaction each)."""
    end = end or dt.datetime.now(dt.timezone.utc)
    windows = [(start, end)]
    if chunk is not None:
        with connection() as conn:
            first = conn.execute(Q.source_window_start, {"view": view, "start": start}).fetchone()[0]
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
            with connection() as conn, conn.cursor(row_factory=class_row(WindowResult)) as cur:
                row = cur.execute(Q.materialize_source, {"view": view, "start": window_start, "end": window_end}).fetchone()
        except SourceFailed as err:
            with connection() as conn:  # the failed window rolled back; note why, in a transaction of its own
                conn.execute(Q.record_source_error, {"view": view, "error": str(err)})
            raise
        done.append(row)
        if on_window:
            on_window(row)
    return done


def run_due(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Run every due refresh; one row per view (error set where its source failed)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.run_due_sources).fetchall()




@dataclass(frozen=True)
class RemovedSource:
    """What ``remove_source`` did: ``slot_left_on_source`` names the replication slot a
    CDC source that did not answer still has (drop it there: pg_drop_replication_slot)."""

    name: str
    slot_left_on_source: str | None


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
        cur.execute(Q.add_source_database, {
            "name": name, "options": Jsonb(options), "user": params.get("user") or "postgres",
            "password": params.get("password"), "tables": list(tables), "schema": schema})
        if not params.get("password") and cur.execute(Q.is_superuser).fetchone()["rolsuper"]:
            # postgres_fdw lets roles other than superusers (fs_owner, fs_source) use a
            # mapping without a password only when a superuser says so: this one does.
            cur.execute(sql.SQL("ALTER USER MAPPING FOR PUBLIC SERVER {} OPTIONS (ADD password_required 'false')").format(
                sql.Identifier(f"fs_src_{name}")))
        return cur.execute(Q.import_source_tables, {"name": name, "schema": schema}).fetchone()
