"""What every FeatureStore method stands on: where to connect, the pool, the caller's
connection, and the caches a long-lived store keeps (lookup statements, the write cache)."""
from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Iterator

import psycopg

from fspg import catalog, ingest, online
from fspg.connection import DSN_ENV, connection_dsn, dsn_from_engine, make_pool, resolve_dsn
from fspg.errors import InvalidArgument, mapped_errors

if TYPE_CHECKING:
    import sqlalchemy
    from psycopg_pool import ConnectionPool


class StoreBase:
    """A feature store in one PostgreSQL database.

    Args:
        dsn: libpq DSN (URI or key=value). Default: ``$FSPG_DSN``, else the embedded server.
        engine: an SQLAlchemy Engine on PostgreSQL to take the DSN from instead.
        pool: an open psycopg_pool.ConnectionPool to borrow connections from.
        connection: a psycopg connection whose transaction fspg's calls join.
        auto_migrate: migrate before first use. Default: only for the embedded server,
            which fspg owns; a server given by DSN is migrated with ``fspg migrate``.
        replicas: DSNs of serving replicas; online lookups read from them.
    """

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
        # Online lookups go to the first replica when given (fspg replica add makes them).
        self._replica_dsns = list(replicas or [])
        self._replica_pool = None
        self._statements: dict[tuple, online.OnlineStatement] = {}
        self._epoch: str | None = None
        self._epoch_checked = float("-inf")
        self._write_cache = ingest.WriteCache()

    # -- connections ------------------------------------------------------------------
    @property
    def dsn(self) -> str:
        """The DSN this store connects to (resolving it starts the embedded server if needed)."""
        if self._dsn is None:
            if self._pool is not None:
                self._dsn = self._pool.conninfo
            elif self._connection is not None:
                self._dsn = connection_dsn(self._connection)
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
        with mapped_errors():
            if self._connection is not None:
                yield self._connection
            else:
                with self._pool.connection() as conn:
                    yield conn

    def close(self) -> None:
        """Close the pool fspg opened (a pool or connection passed in is left to its owner)."""
        if self._own_pool and self._pool is not None:
            self._pool.close()
            self._pool = None
            self._ready = False
        if self._replica_pool is not None:
            self._replica_pool.close()
            self._replica_pool = None

    def __enter__(self) -> "StoreBase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def migrate(self) -> str:
        """Migrate the database to the newest schema; returns the revision."""
        from fspg import migrate

        return migrate.upgrade(self.dsn)


def split_ref(name: str, version: int | None) -> tuple[str, int | None]:
    """``NAME@V`` or ``NAME`` plus an explicit version (which must agree when both are given)."""
    base, parsed = catalog.parse_ref(name)
    if parsed is not None and version is not None and parsed != version:
        raise InvalidArgument(f"{name!r} names version {parsed}, but version={version} was passed")
    return base, parsed if parsed is not None else version
