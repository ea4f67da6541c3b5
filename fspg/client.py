"""``FeatureStore``: the one face of fspg for Python users.

    from fspg import FeatureStore
    fs = FeatureStore()                 # FSPG_DSN, else the embedded server
    fs.apply("examples/features")       # definitions -> SQL API
    fs.insert_batch("user_stats", {"user_id": [1], "spend_7d": [9.5]}, timestamp=now)
    fs.load_batch("user_stats", timestamp=now, limit=100)   # -> pyarrow.Table

The constructor only records where to connect: the pool opens (and the embedded
server starts) on first use. Pass ``connection=`` to run fspg's calls inside a
transaction of your own; fspg then neither commits nor rolls back.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import psycopg

from fspg import catalog, definitions, ingest, ingestlog, offline, upkeep
from fspg.connection import DSN_ENV, dsn_from_engine, make_pool, resolve_dsn
from fspg.errors import FspgError, from_db_error

from fspg.ingest import IngestResult

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy
    from psycopg_pool import ConnectionPool


class FeatureStore:
    """A feature store in one PostgreSQL database.

    Args:
        dsn: libpq DSN (URI or key=value). Default: ``$FSPG_DSN``, else the embedded server.
        engine: an SQLAlchemy Engine on PostgreSQL to take the DSN from instead.
        pool: an open psycopg_pool.ConnectionPool to borrow connections from.
        connection: a psycopg connection whose transaction fspg's calls join.
        auto_migrate: migrate before first use. Default: only for the embedded server,
            which fspg owns; a server given by DSN is migrated with ``fspg migrate``.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        engine: "sqlalchemy.Engine | None" = None,
        pool: "ConnectionPool | None" = None,
        connection: psycopg.Connection | None = None,
        auto_migrate: bool | None = None,
    ):
        if sum(x is not None for x in (dsn, engine, pool, connection)) > 1:
            raise ValueError("give at most one of dsn, engine, pool and connection")
        self._dsn = dsn_from_engine(engine) if engine is not None else dsn
        self._pool = pool
        self._own_pool = False
        self._connection = connection
        uses_embedded = all(x is None for x in (dsn, engine, pool, connection)) and not os.environ.get(DSN_ENV)
        self._auto_migrate = uses_embedded if auto_migrate is None else auto_migrate
        self._ready = pool is not None or connection is not None

    # -- connections ------------------------------------------------------------------
    @property
    def dsn(self) -> str:
        """The DSN this store connects to (resolving it starts the embedded server if needed)."""
        if self._dsn is None:
            if self._pool is not None:
                self._dsn = self._pool.conninfo
            elif self._connection is not None:
                self._dsn = self._connection.info.dsn
            else:
                self._dsn = resolve_dsn(None)
        return self._dsn

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        dsn = self.dsn
        if self._auto_migrate:
            from fspg import migrate

            if migrate.current_revision(dsn) != migrate.head_revision():
                migrate.upgrade(dsn)
        self._pool = make_pool(dsn)
        self._own_pool = True
        self._ready = True

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection for a unit of work: the caller's, or one from the pool (committed on success).

        Database errors that fspg knows come out as ``fspg.errors`` exceptions.
        """
        self._ensure_ready()
        try:
            if self._connection is not None:
                yield self._connection
            else:
                with self._pool.connection() as conn:
                    yield conn
        except psycopg.Error as err:
            mapped = from_db_error(err)
            if isinstance(mapped, FspgError):
                raise mapped from err
            raise

    def close(self) -> None:
        """Close the pool fspg opened (a pool or connection passed in is left to its owner)."""
        if self._own_pool and self._pool is not None:
            self._pool.close()
            self._pool = None
            self._ready = False

    def __enter__(self) -> "FeatureStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- catalog ----------------------------------------------------------------------
    def apply(self, source: str | Path | dict, *, dry_run: bool = False) -> list[definitions.PlanStep]:
        """Apply definitions from a YAML file, a directory of them, or a mapping of the same shape.

        Everything is applied in one transaction. With ``dry_run`` nothing changes and
        the plan (create / new version / update / unchanged per object) is returned.
        """
        doc = definitions.from_mapping(source) if isinstance(source, dict) else definitions.load(source)
        with self.connection() as conn:
            return catalog.apply(conn, doc, dry_run=dry_run)

    def list_feature_views(self) -> list[dict[str, Any]]:
        """Feature views with current version, entity, owner, versions, features and rows."""
        with self.connection() as conn:
            return catalog.list_feature_views(conn)

    def describe(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One feature view version in full; ``name`` may be ``view`` or ``view@3``."""
        view, ref_version = catalog.parse_ref(name)
        with self.connection() as conn:
            return catalog.describe_feature_view(conn, view, version or ref_version)

    # -- offline store ----------------------------------------------------------------
    def insert_batch(self, name: str, data: Any, timestamp: Any = None, *, mode: str = "quarantine",
                     chunk_rows: int = 65_536, progress: Callable[[int], None] | None = None) -> IngestResult:
        """Validate and append a batch of feature values to ``name`` (``view`` or ``view@N``).

        ``data``: a dict of columns, a pyarrow Table/RecordBatch/RecordBatchReader, or a
        pandas or polars DataFrame, with the view's key columns and any of its features.
        ``timestamp`` stamps every row's event_ts when the data has no event_ts column
        (naive datetimes are UTC). ``mode="quarantine"`` keeps the good rows and sets the
        bad ones aside with the rules they broke; ``mode="strict"`` writes nothing if any
        row is bad. The batch lands whole or not at all; every row is accounted for:
        ``rows_in == inserted + quarantined``.
        """
        with self.connection() as conn:
            return ingest.insert_batch(conn, name, data, timestamp=timestamp, mode=mode,
                                       chunk_rows=chunk_rows, progress=progress)

    def load_batch(self, name: str, timestamp: Any = None, limit: int | None = None, *,
                   entities: Any = None, features: list[str] | None = None, as_of: Any = None) -> "pa.Table":
        """The feature values in effect at ``timestamp`` (default now): one row per entity.

        The newest row with ``event_ts <= timestamp`` within the view's TTL wins, ties
        broken by created_ts. ``as_of`` only sees rows the store had learned by then (it
        waits until that moment is settled). ``entities`` (a list of keys, a dict of key
        columns or an Arrow table) returns one row per entity in that order, NULL where
        nothing is in effect. Reads committed data through its own connection.
        """
        with self.connection() as conn:
            query, table = offline.build_query(conn, "load_batch", name, at=offline.utc(timestamp), limit=limit,
                                               entities=entities, features=features, as_of=as_of)
        return offline.read_arrow(self.dsn, query, table)

    def load_history(self, name: str, start: Any = None, end: Any = None, *, entities: Any = None,
                     features: list[str] | None = None, as_of: Any = None) -> "pa.Table":
        """Raw history rows of ``name`` with ``start <= event_ts < end``, corrections included, oldest first."""
        with self.connection() as conn:
            query, table = offline.build_query(conn, "history", name, start=offline.utc(start), end=offline.utc(end),
                                               entities=entities, features=features, as_of=as_of)
        return offline.read_arrow(self.dsn, query, table)

    def batches(self, name: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The ingest log, newest first: rows in, inserted, quarantined, reasons, who, when."""
        with self.connection() as conn:
            return ingestlog.batches(conn, view=name, limit=limit)

    def quarantine(self, batch_id: int | None = None, *, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Quarantined rows of one batch, or (without ``batch_id``) a summary per batch."""
        with self.connection() as conn:
            if batch_id is None:
                return ingestlog.quarantine_summary(conn, view=name)
            return ingestlog.quarantine_rows(conn, batch_id, limit=limit)

    def replay_quarantine(self, batch_id: int, *, into: str | None = None, mode: str = "quarantine") -> IngestResult:
        """Re-validate a batch's quarantined rows (after a fix) into ``into`` (default: the view's current version)."""
        with self.connection() as conn:
            return ingest.replay(conn, batch_id, view=into, mode=mode)

    def maintain(self, ahead: int = 2) -> list[dict[str, Any]]:
        """Partition upkeep and retention for every active version (also run by ``fspg maintain`` or pg_cron)."""
        with self.connection() as conn:
            return upkeep.maintain(conn, ahead=ahead)

    def forget(self, name: str, entity: dict[str, Any], *, reason: str | None = None) -> int:
        """Erase one entity from every version of a view (right to erasure); logged. Returns history rows deleted."""
        with self.connection() as conn:
            return upkeep.forget(conn, name, entity, reason=reason)

    def migrate(self) -> str:
        """Migrate the database to the newest schema; returns the revision."""
        from fspg import migrate

        return migrate.upgrade(self.dsn)


#: The name the original specification uses.
FeatureStoreClient = FeatureStore


__all__ = ["FeatureStore", "FeatureStoreClient"]
