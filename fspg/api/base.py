"""What every FeatureStore method stands on: where to connect, the pool, the caller's
connection, and the caches a long-lived store keeps (lookup statements, the write cache)."""
from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any, Callable, Iterator

import psycopg

from fspg import ingest
from fspg.arrow_pool import ArrowPool
from fspg.connection import DSN_ENV, connection_dsn, dsn_from_engine, make_pool, resolve_dsn
from fspg.errors import mapped_errors

if TYPE_CHECKING:
    import sqlalchemy

    from fspg import rollout
    from fspg.results import MaterializeStep, OnlineRebuild, TrainingSetCheck, WindowResult
    from psycopg_pool import ConnectionPool


class StoreBase:
    """Where a FeatureStore connects and what it keeps between calls; ``fspg.client``
    documents the arguments."""

    def __init__(
        self,
        dsn: str | None = None,
        *,
        engine: "sqlalchemy.Engine | None" = None,
        pool: "ConnectionPool | None" = None,
        connection: psycopg.Connection | None = None,
        auto_migrate: bool | None = None,
        replicas: list[str] | None = None,
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
        # Online lookups go to the first replica when given (fspg replica add makes them),
        # on autocommit read-only connections of their own (see OnlineMethods._read_connection).
        self._replica_dsns = list(replicas or [])
        self._lookup_pool: ConnectionPool | None = None
        # Lookup statements by request, and a model version's pinned references.
        self._statements: dict[Any, Any] = {}
        self._epoch: str | None = None
        self._epoch_checked = float("-inf")
        self._write_cache = ingest.WriteCache()
        # ADBC connections of reads and training sets, kept open between calls.
        self._arrow = ArrowPool()

    # -- connections ------------------------------------------------------------------
    @property
    def dsn(self) -> str:
        """The DSN this store connects to (resolving it starts the embedded server if needed)."""
        if self._dsn is None:
            if self._pool is not None:
                self._dsn = str(self._pool.conninfo)
            elif self._connection is not None:
                self._dsn = connection_dsn(self._connection)
            else:
                self._dsn = resolve_dsn(None)
        assert self._dsn is not None
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
        with mapped_errors():
            if self._connection is not None:
                yield self._connection
            else:
                assert self._pool is not None
                with self._pool.connection() as conn:
                    yield conn

    def close(self) -> None:
        """Close the pool fspg opened (a pool or connection passed in is left to its owner)."""
        if self._own_pool and self._pool is not None:
            self._pool.close()
            self._pool = None
            self._ready = False
        if self._lookup_pool is not None:
            self._lookup_pool.close()
            self._lookup_pool = None
        self._arrow.close()
        self._arrow = ArrowPool()

    def __enter__(self) -> "StoreBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    if TYPE_CHECKING:
        # Methods of one area that another calls (fspg.client composes the areas).
        def promote(self, ref: str, *, force: bool = False) -> rollout.Switch: ...
        def backfill(self, ref: str, *, from_version: int | None = None, start: Any = None, end: Any = None,
                     on_step: Callable[[rollout.BackfillStep], None] | None = None) -> rollout.BackfillStep: ...
        def sync_replicas(self) -> list[str]: ...
        def rebuild_online(self, name: str) -> OnlineRebuild: ...
        def materialize(self, name: str, start: Any = None, end: Any = None, *, chunk: Any = None,
                        on_window: Callable[[WindowResult], None] | None = None) -> list[MaterializeStep]: ...
        def lineage(self, obj: str, direction: str = "both") -> list[dict[str, Any]]: ...
        def models(self, name: str | None = None) -> list[dict[str, Any]]: ...
        def verify_training_set(self, name: str, version: int | None = None) -> TrainingSetCheck: ...
        def _check_serving_epoch(self) -> None: ...

    def migrate(self) -> str:
        """Migrate the database to the newest schema; returns the revision."""
        from fspg import migrate

        return migrate.upgrade(self.dsn)
