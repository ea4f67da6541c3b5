"""``FeatureStore``: the one face of fspg for Python users.

    from fspg import FeatureStore
    fs = FeatureStore()                 # FSPG_DSN, else the embedded server
    fs.apply("examples/features")       # definitions -> SQL API
    fs.list_feature_views(); fs.describe("user_stats@1")

The constructor only records where to connect: the pool opens (and the embedded
server starts) on first use. Pass ``connection=`` to run fspg's calls inside a
transaction of your own; fspg then neither commits nor rolls back.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import psycopg

from fspg import catalog, definitions
from fspg.connection import DSN_ENV, dsn_from_engine, make_pool, resolve_dsn
from fspg.errors import FspgError, from_db_error

if TYPE_CHECKING:
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

    def migrate(self) -> str:
        """Migrate the database to the newest schema; returns the revision."""
        from fspg import migrate

        return migrate.upgrade(self.dsn)


#: The name the original specification uses.
FeatureStoreClient = FeatureStore


__all__ = ["FeatureStore", "FeatureStoreClient"]
