"""``AsyncFeatureStore``: online lookups and pushes for asyncio serving apps.

    from fspg.aio import AsyncFeatureStore
    async with AsyncFeatureStore(dsn) as fs:
        rows = await fs.get_online_features(service="fraud_scoring",
                                            entities={"user_id": [1], "merchant_id": [7]}, as_dicts=True)
        await fs.push("transactions", {"user_id": 1, "amount": 9.5}, timestamp="now")

Lookups and pushes run on psycopg's async pool and never block the event loop: a lookup
is one round trip on an autocommit, read-only connection (a replica's when given), its
statement prepared once per connection, exactly as ``FeatureStore`` does. Offline reads
and training sets stream Arrow through ADBC, which has no asyncio interface: they run
``FeatureStore``'s methods in a worker thread (``asyncio.to_thread``), so they do not
block the loop either.
"""
from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING, Any, Literal, overload

from fspg import events as event_rows
from fspg import online
from fspg.catalog import split_ref
from fspg.connection import CONNECT_TIMEOUT, dsn_with_role, resolve_dsn, unreachable
from fspg.errors import mapped_errors
from fspg.ingest import IngestResult
from fspg.statements import Q

if TYPE_CHECKING:
    import pyarrow as pa
    from psycopg_pool import AsyncConnectionPool

    from fspg.client import FeatureStore

#: seconds between checks whether a promote elsewhere changed what unpinned lookups mean
SERVING_EPOCH_INTERVAL = 1.0


class AsyncFeatureStore:
    """A feature store in one PostgreSQL database, for asyncio code.

    Args:
        dsn: libpq DSN. Default: ``$FSPG_DSN``, else the embedded server.
        replicas: DSNs of serving replicas; lookups read from the first.
        max_size: connections per pool at most (lookups, and writes/catalog reads).
        role: a role every session starts as (the HTTP server runs each request as its
            token's role); the login must be a member of it.
        wait: seconds a call waits for a free connection (or for the database to come
            back) before ConnectionFailed: a serving app should answer, not queue.
        warm: open every lookup connection at the start (a server does: a connection
            opened under load costs a login in some request's latency).
    """

    def __init__(self, dsn: str | None = None, *, replicas: list[str] | None = None, max_size: int = 8,
                 role: str | None = None, wait: float = 5.0, warm: bool = False):
        self._dsn = dsn
        self._replicas = list(replicas or [])
        self._max_size = max_size
        self._role = role
        self._wait = wait
        self._warm = warm
        self._pool: AsyncConnectionPool | None = None
        self._lookup_pool: AsyncConnectionPool | None = None
        self._statements: dict[Any, Any] = {}  # lookup statements (and column lists) by request
        self._model_refs: dict[tuple[str, int], list[str]] = {}
        self._epoch: str | None = None
        self._epoch_checked = float("-inf")
        self._sync: FeatureStore | None = None
        self._opening = asyncio.Lock()

    @property
    def dsn(self) -> str:
        """The DSN this store connects to (resolving it starts the embedded server if needed)."""
        if self._dsn is None:
            self._dsn = resolve_dsn(None)
        return self._dsn

    async def open(self) -> "AsyncFeatureStore":
        """Open the pools now (otherwise the first call does); fails fast on a wrong DSN."""
        async with self._opening:
            if self._pool is None:
                self._pool = await self._make_pool(self.dsn, lookups=False)
                self._lookup_pool = await self._make_pool(self._lookup_dsn(), lookups=True)
        return self

    async def close(self) -> None:
        """Close the pools (and the worker-thread FeatureStore of offline reads)."""
        for pool in (self._pool, self._lookup_pool):
            if pool is not None:
                await pool.close()
        self._pool = self._lookup_pool = None
        if self._sync is not None:
            await asyncio.to_thread(self._sync.close)
            self._sync = None

    async def __aenter__(self) -> "AsyncFeatureStore":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def pool_stats(self) -> dict[str, dict[str, int]]:
        """psycopg_pool's counters of both pools (size, available, waiting, errors...)."""
        return {name: pool.get_stats() for name, pool in (("primary", self._pool), ("lookups", self._lookup_pool))
                if pool is not None}

    # -- lookups ------------------------------------------------------------------------
    @overload
    async def get_online_features(self, features: list[str] | None = None, *, entities: Any,
                                  service: str | None = None, service_version: int | None = None,
                                  model: str | None = None, model_version: int | None = None,
                                  with_event_ts: bool = False, as_dicts: Literal[False] = False) -> "pa.Table": ...

    @overload
    async def get_online_features(self, features: list[str] | None = None, *, entities: Any,
                                  service: str | None = None, service_version: int | None = None,
                                  model: str | None = None, model_version: int | None = None,
                                  with_event_ts: bool = False, as_dicts: Literal[True]) -> list[dict[str, Any]]: ...

    async def get_online_features(self, features: list[str] | None = None, *, entities: Any,
                                  service: str | None = None, service_version: int | None = None,
                                  model: str | None = None, model_version: int | None = None,
                                  with_event_ts: bool = False, as_dicts: bool = False) -> "pa.Table | list[dict[str, Any]]":
        """``FeatureStore.get_online_features``, awaited: same arguments, same result."""
        statement = await self.online_statement(features, service, service_version, model, model_version)
        arrays, _ = online.key_arrays(statement, entities)
        rows = await self.lookup(statement, arrays)
        return online.shape(statement, rows, as_dicts=as_dicts, with_event_ts=with_event_ts)

    async def online_statement(self, features: list[str] | None = None, service: str | None = None,
                               service_version: int | None = None, model: str | None = None,
                               model_version: int | None = None) -> online.OnlineStatement:
        """The prepared lookup for a request (built once from the catalog, then cached);
        the HTTP server checks keys against it before it asks the database."""
        return await self._statement(await self._asked(features, service, service_version, model, model_version))

    async def lookup_plan(self, features: list[str] | None = None, service: str | None = None,
                          service_version: int | None = None, model: str | None = None,
                          model_version: int | None = None) -> tuple[online.OnlineStatement, list[online.LookupColumn]]:
        """The prepared lookup of a request and what each of its features is (column,
        view, TTL, event-time column), both cached like the statement. The HTTP server says
        from them whether a value is present, missing or too old, as Feast's statuses do."""
        asked = await self._asked(features, service, service_version, model, model_version)
        key = ("columns", asked)
        columns = self._statements.get(key)
        if columns is None:
            columns = self._statements[key] = [online.LookupColumn(*row) for row in await self._fetchall(*asked.columns_sql())]
        return await self._statement(asked), columns

    async def _statement(self, asked: online.Request) -> online.OnlineStatement:
        statement = self._statements.get(asked)
        if statement is None:
            row = await self._fetchone(*asked.statement_sql())
            statement = self._statements[asked] = online.statement_from_row(*row)
        return statement

    async def _asked(self, features: list[str] | None, service: str | None, service_version: int | None,
                     model: str | None, model_version: int | None) -> online.Request:
        model_name, asked = online.request(features, service, service_version, model)
        await self._check_serving_epoch()
        if model_name is not None:
            asked = online.Request(tuple(await self._pinned_refs(*split_ref(model_name, model_version))), None, None)
        assert asked is not None
        return asked

    async def lookup(self, statement: online.OnlineStatement, arrays: list[list[Any]]) -> list[tuple[Any, ...]]:
        """Run a prepared lookup on a lookup connection; its rows."""
        import psycopg
        from psycopg_pool import PoolTimeout

        pool = self._lookup_pool or (await self.open())._lookup_pool
        assert pool is not None
        try:
            conn = await pool.getconn(timeout=self._wait)
        except PoolTimeout as err:
            raise unreachable(self._lookup_dsn(), err) from err
        try:
            with mapped_errors():
                try:
                    cursor = await conn.execute(statement.query, online.parameters(arrays), prepare=True)
                except online.KEY_TYPE_ERRORS as err:
                    raise online.wrong_key_types(statement, err) from err
                online.remember_shape(statement, cursor)
                return await cursor.fetchall()
        except psycopg.OperationalError as err:
            raise unreachable(self._lookup_dsn(), err) from err
        finally:
            await pool.putconn(conn)

    # -- writes -------------------------------------------------------------------------
    async def push(self, name: str, events: Any, timestamp: Any = None, *, mode: str = "quarantine",
                   batch_key: str | None = None, source: str = "push") -> IngestResult:
        """``FeatureStore.push``, awaited: events through the validated write path, one round trip."""
        rows = event_rows.dumps(event_rows.as_rows(events, timestamp))
        row = await self._fetchone(Q.push, {"view": name, "rows": rows, "mode": mode, "source": source,
                                            "batch_key": batch_key})
        return dataclasses.replace(IngestResult(*row), path="push")

    async def health(self) -> dict[str, Any]:
        """The schema revision; raises ConnectionFailed when the database does not answer."""
        revision = await self._fetchone(Q.schema_revision, {})
        return {"revision": revision[0]}

    # -- offline reads, in a worker thread -------------------------------------------------
    async def load_batch(self, name: str, timestamp: Any = None, limit: int | None = None, **kwargs: Any) -> "pa.Table":
        """``FeatureStore.load_batch`` in a worker thread."""
        return await asyncio.to_thread(self._store().load_batch, name, timestamp, limit, **kwargs)

    async def load_history(self, name: str, start: Any = None, end: Any = None, **kwargs: Any) -> "pa.Table":
        """``FeatureStore.load_history`` in a worker thread."""
        return await asyncio.to_thread(self._store().load_history, name, start, end, **kwargs)

    async def get_training_set(self, spine: Any = None, features: list[str] | None = None, **kwargs: Any) -> "pa.Table":
        """``FeatureStore.get_training_set`` in a worker thread."""
        return await asyncio.to_thread(self._store().get_training_set, spine, features, **kwargs)

    # -- internals ----------------------------------------------------------------------
    def _store(self) -> "FeatureStore":
        if self._sync is None:
            from fspg.client import FeatureStore

            self._sync = FeatureStore(self._as_role(self.dsn), replicas=[self._as_role(r) for r in self._replicas])
        return self._sync

    async def _fetchone(self, query: str, params: dict[str, Any]) -> tuple[Any, ...]:
        rows = await self._fetchall(query, params)
        assert rows, query
        return rows[0]

    async def _fetchall(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        import psycopg
        from psycopg_pool import PoolTimeout

        pool = self._pool or (await self.open())._pool
        assert pool is not None
        try:
            async with pool.connection(timeout=self._wait) as conn:
                with mapped_errors():
                    return [tuple(r) for r in await (await conn.execute(query, params)).fetchall()]
        except (psycopg.OperationalError, PoolTimeout) as err:
            raise unreachable(self.dsn, err) from err

    async def _pinned_refs(self, model: str, version: int | None) -> list[str]:
        # A model version is immutable: its references are asked once; without a version
        # the newest active one is asked each time (it changes on register).
        if version is not None and (model, version) in self._model_refs:
            return self._model_refs[(model, version)]
        refs = list((await self._fetchone(Q.model_refs, {"name": model, "version": version}))[0])
        if version is not None:
            self._model_refs[(model, version)] = refs
        return refs

    async def _check_serving_epoch(self) -> None:
        # As FeatureStore: a promote elsewhere changes what unpinned names mean.
        now = time.monotonic()
        if now - self._epoch_checked < SERVING_EPOCH_INTERVAL:
            return
        epoch = (await self._fetchone(Q.serving_epoch, {}))[0]
        self._epoch_checked = now
        if epoch != self._epoch:
            self._epoch = epoch
            self._statements.clear()

    def _lookup_dsn(self) -> str:
        return self._replicas[0] if self._replicas else self.dsn

    def _as_role(self, dsn: str) -> str:
        # The role is a startup option: every session, pooled or not, starts as it.
        return dsn if self._role is None else dsn_with_role(dsn, self._role)

    async def _make_pool(self, dsn: str, *, lookups: bool) -> "AsyncConnectionPool":
        import psycopg
        from psycopg_pool import AsyncConnectionPool, PoolTimeout

        async def configure(conn: "psycopg.AsyncConnection") -> None:
            from pgvector.psycopg import register_vector_async

            await conn.execute(Q.generic_plans)
            if lookups:
                await conn.execute(Q.read_only)
            try:
                await register_vector_async(conn)
            except Exception:  # noqa: BLE001 -- no vector extension: vector features are unavailable anyway
                pass
            if not conn.autocommit:
                await conn.commit()

        dsn = self._as_role(dsn)
        # One direct attempt first, as make_pool does: a refused or wrong DSN fails now with
        # the server's own reason, instead of after the pool's retries run out.
        try:
            first = await psycopg.AsyncConnection.connect(dsn, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.OperationalError as err:
            raise unreachable(dsn, err) from err
        await first.close()
        pool = AsyncConnectionPool(dsn, min_size=self._max_size if lookups and self._warm else 1, max_size=self._max_size, open=False, configure=configure,
                                   kwargs={"connect_timeout": CONNECT_TIMEOUT, "autocommit": lookups},
                                   name="fspg-lookups" if lookups else "fspg")
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT + 1)
        except PoolTimeout as err:
            await pool.close()
            raise unreachable(dsn, err) from err
        return pool
