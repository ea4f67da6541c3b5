"""Online lookups: features, services and models for a batch of entities, one round trip."""
from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any, Iterator, Literal, overload

import psycopg

from fspg import online
from fspg.api.base import StoreBase
from fspg.catalog import split_ref
from fspg.connection import make_pool
from fspg.errors import mapped_errors
from fspg.statements import Q, one, scalar

#: seconds between checks whether a promote elsewhere changed what unpinned lookups mean
SERVING_EPOCH_INTERVAL = 1.0

if TYPE_CHECKING:
    import pyarrow as pa


class OnlineMethods(StoreBase):
    """Online lookups: features, services and models for a batch of entities, one round trip."""

    # One result type per call: a table, or with as_dicts=True a list of dicts.
    @overload
    def get_online_features(self, features: list[str] | None = None, *, entities: Any,
                            service: str | None = None, service_version: int | None = None,
                            model: str | None = None, model_version: int | None = None,
                            with_event_ts: bool = False, as_dicts: Literal[False] = False) -> "pa.Table": ...

    @overload
    def get_online_features(self, features: list[str] | None = None, *, entities: Any,
                            service: str | None = None, service_version: int | None = None,
                            model: str | None = None, model_version: int | None = None,
                            with_event_ts: bool = False, as_dicts: Literal[True]) -> list[dict[str, Any]]: ...

    def get_online_features(self, features: list[str] | None = None, *, entities: Any,
                            service: str | None = None, service_version: int | None = None,
                            model: str | None = None, model_version: int | None = None,
                            with_event_ts: bool = False, as_dicts: bool = False) -> "pa.Table | list[dict[str, Any]]":
        """Latest feature values for a batch of entities, in one round trip.

        Name ``features`` (``view.feature``, ``view@2.feature``, ``view.*``), a feature
        ``service``, or a registered ``model`` (``NAME`` or ``NAME@V``): exactly the feature
        view versions that model version was trained with (default: its newest active
        version), however the views have moved on since. ``entities``: a dict of key columns (``{"user_id": [1, 2]}``), a
        list of dicts, an Arrow table, or a list of keys for single-key requests; at most
        10,000. Rows come back in request order (entities without values as NULLs):
        the key columns, then one column per feature (``view__feature`` where two views
        share a name); a value older than its view's TTL is NULL. ``with_event_ts`` adds
        ``<view>__event_ts`` columns. Reads go to a replica when the store has some.
        """
        model_name, asked = online.request(features, service, service_version, model)
        if model_name is not None:
            asked = online.Request(tuple(self._model_refs(*split_ref(model_name, model_version))), None, None)
        assert asked is not None
        statement = self._online_statement(asked)
        arrays, _ = online.key_arrays(statement, entities)
        with self._read_connection() as conn:
            rows = online.lookup(conn, statement, arrays)
        return online.shape(statement, rows, as_dicts=as_dicts, with_event_ts=with_event_ts)

    def _model_refs(self, model: str, version: int | None) -> list[str]:
        # A model version is immutable: its pinned references are looked up once. Without
        # a version the newest active one is asked for each time (it changes on register).
        key = ("model", model, version)
        refs = self._statements.get(key) if version is not None else None
        if refs is None:
            with self.connection() as conn:
                refs = scalar(conn, Q.model_refs, {"name": model, "version": version})
            if version is not None:
                self._statements[key] = refs
        return list(refs)

    def _check_serving_epoch(self) -> None:
        # A lookup statement (and the write cache) names the versions it was built for. A
        # promote, rollback or new service version elsewhere changes what unpinned names
        # mean: look at most once a second whether that happened, and rebuild if so.
        now = time.monotonic()
        if now - self._epoch_checked < SERVING_EPOCH_INTERVAL:
            return
        with self.connection() as conn:
            epoch = scalar(conn, Q.serving_epoch)
        self._epoch_checked = now
        if epoch != self._epoch:
            self._epoch = epoch
            self._statements.clear()
            self._write_cache.clear()

    def _online_statement(self, asked: "online.Request") -> "online.OnlineStatement":
        # Built once on the primary (replicas have no catalog), then reused.
        self._check_serving_epoch()
        statement: online.OnlineStatement | None = self._statements.get(asked)
        if statement is None:
            with self.connection() as conn:
                statement = online.statement_from_row(*one(conn, *asked.statement_sql()))
            self._statements[asked] = statement
        return statement

    @contextlib.contextmanager
    def _read_connection(self) -> Iterator[psycopg.Connection]:
        """A connection for online reads.

        The caller's connection when the store was given one (its transaction sees its own
        writes) or a pool (the caller sized it). Otherwise one of the store's lookup pool:
        autocommit and read-only connections to the first replica, or to the primary
        without replicas. A lookup there is one round trip: no BEGIN, no COMMIT, and the
        statement stays prepared on the connection.
        """
        if self._connection is not None or not self._own_pool and self._pool is not None:
            with self.connection() as conn:
                yield conn
            return
        if self._lookup_pool is None:
            self._ensure_ready()
            self._lookup_pool = make_pool(self._replica_dsns[0] if self._replica_dsns else self.dsn, lookups=True)
        pool = self._lookup_pool
        # getconn/putconn, not pool.connection(): that one also commits, which an
        # autocommit connection does not need (it costs a lock and a wait per call).
        conn = pool.getconn()
        try:
            with mapped_errors():
                yield conn
        finally:
            pool.putconn(conn)

    def nearest(self, name: str, feature: str, vector: Any, k: int = 10, *,
                filters: dict[str, Any] | None = None) -> "pa.Table":
        """The ``k`` entities whose vector ``feature`` is nearest to ``vector`` (online values
        within the TTL), with their distance and features; ``filters`` are feature equalities.
        The metric is the feature's index metric (l2 unless declared)."""
        with self._read_connection() as conn:
            return online.nearest(conn, name, feature, vector, k, filters)
