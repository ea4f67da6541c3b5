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
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import psycopg

from fspg import catalog, definitions, ingest, ingestlog, models, offline, online, rollout, upkeep
from fspg.connection import DSN_ENV, connection_dsn, dsn_from_engine, make_pool, resolve_dsn, side_dsn
from fspg.errors import InvalidArgument, mapped_errors

from fspg.ingest import IngestResult

#: seconds between checks whether a promote elsewhere changed what unpinned lookups mean
SERVING_EPOCH_INTERVAL = 1.0

if TYPE_CHECKING:
    import pyarrow as pa

    from fspg import training
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

    def __enter__(self) -> "FeatureStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- catalog ----------------------------------------------------------------------
    def apply(self, source: str | Path | dict, *, dry_run: bool = False,
              promote: bool = False) -> list[definitions.PlanStep]:
        """Apply definitions from a YAML file, a directory of them, or a mapping of the same shape.

        Everything is applied in one transaction. With ``dry_run`` nothing changes and
        the plan (create / new version / update / unchanged per object) is returned.
        A changed feature view gets a *staged* version: serving stays on the promoted one
        until ``promote`` (each step's ``message`` says so). ``promote=True`` (local
        development) backfills and promotes every staged version at once.
        """
        doc = definitions.from_mapping(source) if isinstance(source, dict) else definitions.load(source)
        with self.connection() as conn:
            plan = catalog.apply(conn, doc, dry_run=dry_run)
            has_replicas = not dry_run and catalog.has_replicas(conn)
        if promote and not dry_run:
            plan = self._promote_staged(plan)
        if has_replicas and any(step.action in ("create", "new version", "update", "staged again") for step in plan):
            self.sync_replicas()
        return plan

    def _promote_staged(self, plan: list[definitions.PlanStep]) -> list[definitions.PlanStep]:
        """apply(promote=True): backfill and promote every view version the apply staged,
        then apply again so services that follow those views are in the plan."""
        staged = [s for s in plan if s.kind == "feature_view" and s.serving != s.version
                  and s.action in ("new version", "staged again")]
        for step in staged:
            ref = f"{step.name}@{step.version}"
            self.backfill(ref)
            self.promote(ref)
        return [definitions.PlanStep(s.kind, s.name, s.version, s.action, s.version) if s in staged else s
                for s in plan]

    # -- rollout ----------------------------------------------------------------------
    def promote(self, ref: str, *, force: bool = False) -> rollout.Switch:
        """Serve ``view@N`` (a staged version) from now on, atomically.

        The online view ``fs_online.<view>``, unpinned reads, services that name the view
        without a version and CDC feeds move; models and pinned services do not. The
        version served until now stays written, so ``rollback`` loses nothing. Raises
        ``NotReady`` when the version was never (or only partly) backfilled or its online
        table is empty while the served one's is not, unless ``force``.
        """
        with self.connection() as conn:
            switch = rollout.promote(conn, ref, force=force)
        self._after_switch()
        return switch

    def rollback(self, view: str) -> rollout.Switch:
        """Serve the version served before the last promote again; the version rolled back
        from becomes staged (still written, can be promoted again)."""
        with self.connection() as conn:
            switch = rollout.rollback(conn, view)
        self._after_switch()
        return switch

    def backfill(self, ref: str, *, from_version: int | None = None, start: Any = None, end: Any = None,
                 on_step: Callable[[rollout.BackfillStep], None] | None = None) -> rollout.BackfillStep:
        """Fill staged ``view@N`` from version ``from_version`` (default: the served one).

        Rows go through N's rules (bad ones to its quarantine, counted); features N dropped
        are ignored, new ones are NULL. Only event times in [start, end) when given. One
        transaction per partition period; interrupted, calling again resumes. The online
        table is rebuilt at the end. A version defined by a source query re-runs its query
        for the range instead. Backfilled rows carry the backfill's created_ts (see
        docs/decisions.md, "Staged versions").
        """
        with self.connection() as conn:
            sourced = rollout.has_source(conn, ref)
        if sourced:
            windows = self.materialize(ref, start, end)
            return rollout.BackfillStep(0, len(windows), len(windows), sum(w.get("rows_in", 0) for w in windows),
                                        sum(w.get("inserted", 0) for w in windows),
                                        sum(w.get("quarantined", 0) for w in windows), datetime.now(timezone.utc))
        return rollout.backfill(self.connection, ref, from_version=from_version, start=offline.utc(start),
                                end=offline.utc(end), on_step=on_step)

    def rollout_status(self, view: str | None = None) -> list[dict[str, Any]]:
        """Every version (of ``view``, or all) with its stage (promoted, staged, previous,
        retired), backfill progress and when it was last promoted."""
        with self.connection() as conn:
            return rollout.status(conn, view)

    def _after_switch(self) -> None:
        # Lookups built here before name the old version; replicas need the new functions.
        self._statements.clear()
        self._write_cache.clear()
        self._epoch_checked = float("-inf")
        with self.connection() as conn:
            has_replicas = catalog.has_replicas(conn)
        if has_replicas:
            self.sync_replicas()

    def add_replica(self, dsn: str, name: str | None = None) -> Any:
        """Prepare the PostgreSQL database at ``dsn`` as a serving replica and subscribe it to
        every online table (views made later follow). Returns the replica (name, subscription)."""
        from fspg import replicas

        return replicas.add(self.dsn, dsn, name)

    def replica_status(self) -> list[dict[str, Any]]:
        """Each replica: reachable, streaming, lag in bytes and seconds, apply errors."""
        from fspg import replicas

        return replicas.status(self.dsn)

    def remove_replica(self, name: str) -> bool:
        """Drop a replica's subscription and its replication slot; False when the replica did
        not answer (the slot is then dropped on the primary alone)."""
        from fspg import replicas

        return replicas.remove(self.dsn, name)

    def sync_replicas(self) -> list[str]:
        """Give every serving replica the online tables and functions made since; returns unreachable replicas.

        ``apply`` calls this; an unreachable replica is reported with a warning and
        catches up at the next sync (``fspg replica sync``).
        """
        import warnings

        from fspg import replicas

        unreachable = replicas.sync(self.dsn)
        if unreachable:
            warnings.warn(f"replicas not reachable, run fspg replica sync later: {', '.join(unreachable)}",
                          stacklevel=2)
        return unreachable

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
                     batch_key: str | None = None, max_quarantined: float | None = None, chunk_rows: int = 65_536,
                     progress: Callable[[int], None] | None = None, skip_unchanged: bool = False) -> IngestResult:
        """Validate and append a batch of feature values to ``name`` (``view`` or ``view@N``).

        ``data``: a dict of columns, a pyarrow Table/RecordBatch/RecordBatchReader, or a
        pandas or polars DataFrame, with the view's key columns and any of its features.
        ``timestamp`` stamps every row's event_ts when the data has no event_ts column
        (naive datetimes are UTC). ``mode="quarantine"`` keeps the good rows and sets the
        bad ones aside with the rules they broke; ``mode="strict"`` writes nothing if any
        row is bad. The batch lands whole or not at all; every row is accounted for:
        ``rows_in == inserted + quarantined``.

        ``batch_key`` makes retries safe: a second batch with a key already on record for
        that view version writes nothing and returns the first batch's result (``path ==
        "existing"``), also when both run at once (the second waits for the first).
        ``max_quarantined`` (a count of rows, or a fraction below 1) fails the batch like
        strict mode when more rows are bad: nothing is written, ``BatchRejected``.
        ``skip_unchanged=True`` counts rows whose values history already holds as the
        newest for their entity and moment as ``unchanged`` instead of writing them again
        (a re-sent snapshot adds only what changed).
        """
        self._check_serving_epoch()
        with self.connection() as conn:
            return ingest.insert_batch(conn, name, data, timestamp=timestamp, mode=mode, batch_key=batch_key,
                                       max_quarantined=max_quarantined, chunk_rows=chunk_rows, progress=progress,
                                       cache=self._write_cache, skip_unchanged=skip_unchanged)

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
            dsn = side_dsn(self.dsn, conn)
        return offline.read_arrow(dsn, query, table)

    def load_history(self, name: str, start: Any = None, end: Any = None, *, entities: Any = None,
                     features: list[str] | None = None, as_of: Any = None) -> "pa.Table":
        """Raw history rows of ``name`` with ``start <= event_ts < end``, corrections included, oldest first."""
        with self.connection() as conn:
            query, table = offline.build_query(conn, "history", name, start=offline.utc(start), end=offline.utc(end),
                                               entities=entities, features=features, as_of=as_of)
            dsn = side_dsn(self.dsn, conn)
        return offline.read_arrow(dsn, query, table)

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
        """Re-validate a batch's quarantined rows (after a fix) into ``into`` (default: the view's newest staged version, else the served one)."""
        with self.connection() as conn:
            return ingest.replay(conn, batch_id, view=into, mode=mode)

    # -- training sets ----------------------------------------------------------------
    def get_training_set(self, spine: Any = None, features: list[str] | None = None, *,
                         service: str | None = None, service_version: int | None = None,
                         model: str | None = None, model_version: int | None = None,
                         timestamp_column: str = "event_ts", as_of: Any = None,
                         version: int | None = None, sessions: int | None = None) -> "pa.Table":
        """A point-in-time-correct training set: for each spine row and each feature, the value
        in effect at the row's timestamp (within the TTL; created by ``as_of`` when given).
        Computed in PostgreSQL.

        ``spine``: entity keys, a timestamp column (``event_ts`` unless ``timestamp_column``
        says otherwise; naive = UTC) and any label columns, as Arrow, pandas, polars, a dict,
        a table name or a SQL query. Features: a list of references, a feature ``service``
        or a registered ``model`` (``NAME`` or ``NAME@V``; its pinned versions). The result
        keeps the spine's rows and order: its columns, then one column per feature
        (``view__feature`` where two views share a name).

        ``get_training_set("churn@2")`` (a stored set's name and no features) rebuilds a
        stored training set instead: the same rows as when it was created.

        A spine of data with 200,000 rows or more is joined by ``sessions`` connections at
        once (default 2; each takes a slice, all read one snapshot): the join is CPU-bound
        in the server, one core per connection.

        >>> fs.get_training_set({"user_id": [1, 2], "event_ts": ["2026-11-01", "2026-11-02"]},
        ...                     ["user_stats.spend_7d"]).num_rows
        2
        """
        from fspg import training

        request = _training_request(spine, features, service, service_version, model, model_version, version)
        with self.connection() as conn:
            refs = training.requested_refs(conn, *request[:6])
            spine = request[0]
            if refs is not None and not isinstance(spine, str):
                table = training.spine_table(spine, timestamp_column)
                count = sessions or (2 if table.num_rows >= training.PARALLEL_MIN_ROWS else 1)
                if count > 1:
                    return training.parallel_join(side_dsn(self.dsn, conn), conn, table, refs, timestamp_column, as_of, count)
                spine = training.PreparedSpine(table)
            with training.session(side_dsn(self.dsn, conn), conn) as session:
                return session.read_all(training.request_query(session, spine, refs, timestamp_column, as_of, request[6]))

    def write_training_set(self, path: str | Path, spine: Any = None, features: list[str] | None = None, *,
                           service: str | None = None, service_version: int | None = None,
                           model: str | None = None, model_version: int | None = None,
                           timestamp_column: str = "event_ts", as_of: Any = None, version: int | None = None,
                           on_rows: Callable[[int], None] | None = None) -> int:
        """``get_training_set`` streamed into the Parquet file ``path`` batch by batch (bounded
        memory, one session); returns the row count. ``on_rows`` is called per batch."""
        from fspg import training

        request = _training_request(spine, features, service, service_version, model, model_version, version)
        with self.connection() as conn:
            refs = training.requested_refs(conn, *request[:6])
            with training.session(side_dsn(self.dsn, conn), conn) as session:
                query = training.request_query(session, request[0], refs, timestamp_column, as_of, request[6])
                return session.write_parquet(query, str(path), on_rows)

    def stream_training_set(self, spine: Any = None, features: list[str] | None = None, *,
                            service: str | None = None, service_version: int | None = None,
                            model: str | None = None, model_version: int | None = None,
                            timestamp_column: str = "event_ts", as_of: Any = None,
                            version: int | None = None) -> Iterator["pa.RecordBatch"]:
        """``get_training_set`` as a stream of Arrow record batches (about 16 MiB each), in
        spine order, for training sets larger than memory. Same arguments; one session."""
        from fspg import training

        request = _training_request(spine, features, service, service_version, model, model_version, version)
        with self.connection() as conn:
            refs = training.requested_refs(conn, *request[:6])
            with training.session(side_dsn(self.dsn, conn), conn) as session:
                yield from session.batches(training.request_query(session, request[0], refs, timestamp_column, as_of,
                                                                  request[6]))

    def create_training_set(self, name: str, spine: Any, features: list[str] | None = None, *,
                            service: str | None = None, service_version: int | None = None,
                            model: str | None = None, model_version: int | None = None,
                            timestamp_column: str = "event_ts", as_of: Any = None,
                            description: str | None = None) -> "training.TrainingSetVersion":
        """Build a named, versioned, reproducible training set in the store.

        The spine's rows are stored, the features pinned to their view versions, and
        ``as_of`` (default: now, settled) fixed, so ``get_training_set(name, version=v)``
        gives the same rows (and ``verify_training_set`` the same content hash) later,
        whatever arrives in history meanwhile. The same definition again returns the
        existing version; any difference makes version N+1. The rows are readable in SQL
        as ``fs_training.<name>__v<N>`` (and ``fs_training.<name>`` for the current one).
        """
        from fspg import training

        _, features, service, service_version, model, model_version, _ = _training_request(
            None, features, service, service_version, model, model_version, None)
        with self.connection() as conn:
            refs = training.feature_refs(conn, features, service, service_version, model, model_version)
            with training.session(side_dsn(self.dsn, conn), conn) as session:
                return training.create(session, name, spine, refs, timestamp_column, as_of, description)

    def training_sets(self, name: str | None = None) -> list[dict[str, Any]]:
        """Stored training set versions (all, or one name's): features, as_of, rows, content hash."""
        with self.connection() as conn:
            return models.rows(conn, models.TRAINING_SETS, {"name": name})

    def verify_training_set(self, name: str, version: int | None = None) -> dict[str, Any]:
        """Rebuild a stored training set (``NAME`` or ``NAME@V``) in the server and compare its
        content hash with the recorded one (``identical``)."""
        name, version = _ref(name, version)
        with self.connection() as conn:
            return models.rows(conn, models.VERIFY, {"name": name, "version": version})[0]

    # -- models, statistics, lineage ----------------------------------------------------
    def register_model(self, name: str, version: int | None = None, *, training_set: str | None = None,
                       features: list[str] | None = None, experiment: str | None = None,
                       params: dict | None = None, metrics: dict | None = None,
                       description: str | None = None) -> dict[str, Any]:
        """Register model ``name`` version ``version`` (default: the next) with the features it
        was trained on: a stored ``training_set`` (``name`` or ``name@v``) or a ``features``
        list, pinned to the view versions current now. Serving by model then reads exactly
        those versions. Registering the same again is a no-op; a different registration
        under a taken version raises ``fspg.errors.Conflict``."""
        with self.connection() as conn:
            return models.register(conn, name, version, training_set=training_set, features=features,
                                   experiment=experiment, params=params, metrics=metrics, description=description)

    def models(self, name: str | None = None) -> list[dict[str, Any]]:
        """Registered model versions: status, experiment, training set, pinned features, params, metrics."""
        with self.connection() as conn:
            return models.rows(conn, models.MODELS, {"name": name})

    def describe_model(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One model version (``NAME`` or ``NAME@V``; default its newest) with its pinned
        features, params, metrics and ``lineage`` (where its features come from)."""
        name, version = _ref(name, version)
        rows = [r for r in self.models(name) if version is None or r["version"] == version]
        if not rows:
            from fspg.errors import NotFound

            raise NotFound(f"model {name}{'' if version is None else f'@{version}'} is not registered",
                           hint="fspg models ls lists the registered models")
        row = rows[-1]
        return {**row, "lineage": self.lineage(f"model:{name}@{row['version']}", "up")}

    def archive_model(self, name: str, version: int | None = None) -> None:
        """Archive a model version (``NAME@V``, or ``NAME`` and ``version``): it stops holding
        its feature view versions against deprecation."""
        name, version = _ref(name, version)
        if version is None:
            raise InvalidArgument("archive names one version: NAME@V")
        with self.connection() as conn:
            conn.execute(models.ARCHIVE, {"name": name, "version": version})

    def deprecate(self, view: str) -> None:
        """Deprecate ``view@version``; refused (``fspg.errors.InUse``) while an active model uses it."""
        with self.connection() as conn:
            conn.execute(models.DEPRECATE, {"view": view})

    def compute_stats(self, name: str, start: Any = None, end: Any = None, *,
                      source: str = "history") -> list[dict[str, Any]]:
        """Statistics of every feature of ``name`` (view or view@N) over event times in
        [start, end] of history, or of what its online table serves (``source="online"``):
        count, nulls, min, max, mean, stddev, 101 quantiles (``median`` is the 50th),
        distinct values, histogram. Stored."""
        with self.connection() as conn:
            rows = models.rows(conn, models.STATS, {"view": name, "start": offline.utc(start),
                                                    "end": offline.utc(end), "source": source})
        for row in rows:
            quantiles = row.get("quantiles") or []
            row["median"] = quantiles[50] if len(quantiles) > 50 else None
        return rows

    def compare_versions(self, name: str, base: int, new: int, *, start: Any = None,
                         end: Any = None) -> list[dict[str, Any]]:
        """Drift of version ``new`` of a view against ``base``, per feature: schema change,
        PSI, mean shift (in base standard deviations), null-rate delta, and whether the view's
        drift thresholds are crossed (``drifted``, ``reasons``). Over the event-time range both
        versions cover unless ``start``/``end`` say otherwise."""
        with self.connection() as conn:
            return models.rows(conn, models.COMPARE, {"view": name, "base": base, "new": new,
                                                      "start": offline.utc(start), "end": offline.utc(end)})

    def training_serving_skew(self, name: str, *, start: Any = None, end: Any = None) -> list[dict[str, Any]]:
        """Skew between a view's history (training time, optionally [start, end]) and what its
        online table serves now, per feature, in the shape of ``compare_versions``."""
        with self.connection() as conn:
            return models.rows(conn, models.SKEW, {"view": name, "start": offline.utc(start), "end": offline.utc(end)})

    def lineage(self, obj: str, direction: str = "both") -> list[dict[str, Any]]:
        """Lineage of an object (``user_stats@2``, ``model:fraud@3``, a feature
        ``user_stats.spend_7d``): upstream (where its data comes from) and downstream (the
        services, training sets and models using it), with depth and the edge followed."""
        with self.connection() as conn:
            return models.rows(conn, models.LINEAGE, {"object": obj, "direction": direction})

    # -- online store -----------------------------------------------------------------
    def get_online_features(self, features: list[str] | None = None, *, entities: Any,
                            service: str | None = None, service_version: int | None = None,
                            model: str | None = None, model_version: int | None = None,
                            with_event_ts: bool = False, as_dicts: bool = False) -> "pa.Table | list[dict]":
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
        if sum(x is not None for x in (features, service, model)) != 1:
            raise InvalidArgument("name exactly one of features, service or model")
        if service is not None and "@" in service:
            service, service_version = _ref(service, service_version)
        if model is not None:
            features = self._model_refs(*_ref(model, model_version))
        statement = self._online_statement(features, service, service_version)
        arrays, _ = online.key_arrays(statement, entities)
        with self._read_connection() as conn:
            cursor = online.lookup(conn, statement, arrays)
            if as_dicts:
                rows = cursor.fetchall()
                names = [d.name for d in cursor.description]
                keep = [i for i, n in enumerate(names) if with_event_ts or not n.endswith("__event_ts")]
                return [{names[i]: row[i] for i in keep} for row in rows]
            return online.to_arrow(cursor, drop_event_ts=not with_event_ts)

    def _model_refs(self, model: str, version: int | None) -> list[str]:
        # A model version is immutable: its pinned references are looked up once. Without
        # a version the newest active one is asked for each time (it changes on register).
        key = ("model", model, version)
        refs = self._statements.get(key) if version is not None else None
        if refs is None:
            with self.connection() as conn:
                refs = conn.execute(models.MODEL_REFS, {"name": model, "version": version}).fetchone()[0]
            if version is not None:
                self._statements[key] = refs
        return refs

    def _check_serving_epoch(self) -> None:
        # A lookup statement (and the write cache) names the versions it was built for. A
        # promote, rollback or new service version elsewhere changes what unpinned names
        # mean: look at most once a second whether that happened, and rebuild if so.
        now = time.monotonic()
        if now - self._epoch_checked < SERVING_EPOCH_INTERVAL:
            return
        with self.connection() as conn:
            epoch = conn.execute("SELECT fs.serving_epoch()").fetchone()[0]
        self._epoch_checked = now
        if epoch != self._epoch:
            self._epoch = epoch
            self._statements.clear()
            self._write_cache.clear()

    def _online_statement(self, features, service, version) -> "online.OnlineStatement":
        # Built once on the primary (replicas have no catalog), then reused.
        self._check_serving_epoch()
        key = (tuple(features) if features else None, service, version)
        statement = self._statements.get(key)
        if statement is None:
            with self.connection() as conn:
                statement = (online.statement_for_features(conn, features) if features
                             else online.statement_for_service(conn, service, version))
            self._statements[key] = statement
        return statement

    @contextlib.contextmanager
    def _read_connection(self) -> Iterator[psycopg.Connection]:
        """A connection for online reads: a replica's when configured, else the primary's."""
        if not self._replica_dsns:
            with self.connection() as conn:
                yield conn
            return
        if self._replica_pool is None:
            self._replica_pool = make_pool(self._replica_dsns[0])
        with mapped_errors(), self._replica_pool.connection() as conn:
            yield conn

    def nearest(self, name: str, feature: str, vector: Any, k: int = 10, *,
                filters: dict[str, Any] | None = None) -> "pa.Table":
        """The ``k`` entities whose vector ``feature`` is nearest to ``vector`` (online values
        within the TTL), with their distance and features; ``filters`` are feature equalities.
        The metric is the feature's index metric (l2 unless declared)."""
        with self._read_connection() as conn:
            return online.nearest(conn, name, feature, vector, k, filters)

    def materialize(self, name: str, start: Any = None, end: Any = None, *, chunk: Any = None,
                    on_window: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """Bring ``name`` (view or view@N) up to date from where its data comes from.

        A SQL-defined view (``source:`` in its definition) runs its source query for event
        times in [start, end) — default: from its high-water mark (or ``source.start``) to
        now — and appends the rows through the validated write path; rows history already
        has unchanged are skipped, so a window can be re-run. ``chunk`` (a timedelta or
        ``"1 day"``) splits a long backfill into windows of that size, one transaction
        each: interrupted, the finished windows stay and ``materialize(name)`` resumes.
        One dict per window (rows_in = unchanged + inserted + quarantined).

        A view without a source has its online table rebuilt from history instead
        (``rebuild_online``).
        """
        from fspg import sources

        with self.connection() as conn:
            if not sources.has_source(conn, name):
                return [self.rebuild_online(name)]
        return sources.materialize(self.connection, name, offline.utc(start), offline.utc(end),
                                   sources.as_interval(chunk), on_window)

    def run_due_sources(self) -> list[dict[str, Any]]:
        """Materialize the next window of every SQL-defined view whose refresh is due."""
        from fspg import sources

        with self.connection() as conn:
            return sources.run_due(conn)

    def add_source(self, name: str, dsn: str, tables: list[str], *, schema: str = "public") -> dict[str, Any]:
        """Register another PostgreSQL database as source ``name``: ``tables`` of its
        ``schema`` appear locally as ``src_<name>.<table>`` (postgres_fdw), for source queries."""
        from fspg import sources

        with self.connection() as conn:
            return sources.add_database(conn, name, dsn, tables, schema)

    def add_cdc_source(self, name: str, dsn: str, table: str, view: str, *, event_time: str | None = None) -> str:
        """Capture changes of ``table`` (schema.table) in the database at ``dsn`` into feature
        view ``view`` by logical replication: inserts and updates become events (event time
        from column ``event_time``, else when applied), deletes tombstones. Returns the
        subscription's name. The source needs wal_level = logical and a primary key (or
        REPLICA IDENTITY FULL) on the table."""
        from fspg import cdc

        return cdc.add(self.dsn, name, dsn, table, view, event_time)

    def cdc_status(self) -> list[dict[str, Any]]:
        """Per CDC source: subscription enabled, error counts, lag in bytes on the source."""
        from fspg import cdc

        return cdc.status(self.dsn)

    def sources(self) -> list[dict[str, Any]]:
        """Registered source databases (foreign servers and CDC sources)."""
        from fspg import sources

        with self.connection() as conn:
            return models.rows(conn, sources.LIST_DATABASES, {})

    def source_views(self) -> list[dict[str, Any]]:
        """SQL-defined views: refresh, start, high-water mark, last run and error, runs, rows inserted."""
        from fspg import sources

        with self.connection() as conn:
            return models.rows(conn, sources.VIEW_STATUS, {})

    def remove_source(self, name: str) -> "RemovedSource":
        """Drop source ``name``: a foreign server with its imported tables, or a CDC source's
        subscription, its replication slot and publication on the source, and its mirror
        table. A CDC source that did not answer keeps its slot there: the result names it
        (``slot_left_on_source``) for its DBA to drop."""
        from fspg import cdc
        from fspg.sources import REMOVE_DATABASE, SOURCE_KIND, RemovedSource

        with self.connection() as conn:
            found = conn.execute(SOURCE_KIND, {"name": name}).fetchone()
            if found is None or found[0] == "fdw":
                conn.execute(REMOVE_DATABASE, {"name": name})
                return RemovedSource(name, None)
        return RemovedSource(name, None if cdc.remove(self.dsn, name) else found[1])

    def schedule(self, cron: str = "*/5 * * * *") -> int:
        """Register maintenance and due refreshes as the pg_cron job ``fspg-maintain``; returns its id.
        Raises ``ExtensionMissing`` where pg_cron is not installed."""
        with self.connection() as conn:
            return conn.execute("SELECT fs.schedule_with_pg_cron(%(cron)s)", {"cron": cron}).fetchone()[0]

    def rebuild_online(self, name: str) -> dict[str, Any]:
        """Rebuild the online table of ``name`` (view or view@N) from its history; idempotent, safe during writes."""
        with self.connection() as conn:
            row = conn.execute("SELECT * FROM fs.materialize(%(view)s)", {"view": name}).fetchone()
        return {"feature_view": row[0], "version": row[1], "entities": row[2], "removed": row[3]}

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


def _ref(name: str, version: int | None) -> tuple[str, int | None]:
    """``NAME@V`` or ``NAME`` plus an explicit version (which must agree when both are given)."""
    base, parsed = catalog.parse_ref(name)
    if parsed is not None and version is not None and parsed != version:
        raise InvalidArgument(f"{name!r} names version {parsed}, but version={version} was passed")
    return base, parsed if parsed is not None else version


def _training_request(spine: Any, features: list[str] | None, service: str | None, service_version: int | None,
                      model: str | None, model_version: int | None, version: int | None) -> tuple[Any, ...]:
    """A training-set request with ``NAME@V`` references split: a stored set named as the
    spine (no features asked), a service or a model."""
    if isinstance(spine, str) and features is None and service is None and model is None and "@" in spine:
        spine, version = _ref(spine, version)
    if service is not None:
        service, service_version = _ref(service, service_version)
    if model is not None:
        model, model_version = _ref(model, model_version)
    return spine, features, service, service_version, model, model_version, version


__all__ = ["FeatureStore", "FeatureStoreClient"]
