"""Point-in-time-correct training sets: built, streamed, stored and verified."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from fspg import models
from fspg.api.base import StoreBase
from fspg.catalog import split_ref
from fspg.results import TrainingSetCheck
from fspg.connection import side_dsn
from fspg.statements import Q, one

if TYPE_CHECKING:
    import pyarrow as pa

    from fspg import training


class TrainingMethods(StoreBase):
    """Point-in-time-correct training sets: built, streamed, stored and verified."""

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
                    return training.parallel_join(self._arrow, side_dsn(self.dsn, conn), conn, table, refs, timestamp_column, as_of, count)
                spine = training.PreparedSpine(table)
            with training.session(self._arrow, side_dsn(self.dsn, conn), conn) as session:
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
            with training.session(self._arrow, side_dsn(self.dsn, conn), conn) as session:
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
            with training.session(self._arrow, side_dsn(self.dsn, conn), conn) as session:
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
            with training.session(self._arrow, side_dsn(self.dsn, conn), conn) as session:
                return training.create(session, name, spine, refs, timestamp_column, as_of, description)

    def training_sets(self, name: str | None = None) -> list[dict[str, Any]]:
        """Stored training set versions (all, or one name's): features, as_of, rows, content hash."""
        with self.connection() as conn:
            return models.rows(conn, Q.training_sets, {"name": name})

    def verify_training_set(self, name: str, version: int | None = None) -> TrainingSetCheck:
        """Rebuild a stored training set (``NAME`` or ``NAME@V``) in the server and compare its
        content hash with the recorded one (``identical``)."""
        name, version = split_ref(name, version)
        with self.connection() as conn:
            return TrainingSetCheck(*one(conn, Q.verify_training_set, {"name": name, "version": version}))


def _training_request(spine: Any, features: list[str] | None, service: str | None, service_version: int | None,
                      model: str | None, model_version: int | None, version: int | None) -> tuple[Any, ...]:
    """A training-set request with ``NAME@V`` references split: a stored set named as the
    spine (no features asked), a service or a model."""
    if isinstance(spine, str) and features is None and service is None and model is None and "@" in spine:
        spine, version = split_ref(spine, version)
    if service is not None:
        service, service_version = split_ref(service, service_version)
    if model is not None:
        model, model_version = split_ref(model, model_version)
    return spine, features, service, service_version, model, model_version, version
