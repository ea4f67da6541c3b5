"""Training sets, client side: point-in-time joins computed in PostgreSQL.

A spine is Arrow-shaped data (uploaded into the temp table ``pg_temp.fs_spine`` with its
row order as ``fs_ord``) or a table name or SQL query the server reads itself. SQL writes
the join (``fs.training_set_sql``) or builds and stores a versioned training set
(``fs.create_training_set``); the ADBC PostgreSQL driver streams results to Arrow in
batches, so a training set can go to Parquet with bounded client memory.

Everything for one request runs in one ADBC session: the uploaded spine and a query
spine's temp view live there.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from typing import Any, Callable, Iterator

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from fspg.arrow import to_source
from fspg.arrow_pool import ArrowPool
from fspg.errors import InvalidArgument, SchemaMismatch, from_adbc_error
from fspg.times import utc
from fspg.statements import Q

SPINE_TABLE = "fs_spine"
#: Spines at least this long are joined by several sessions at once (see parallel_join).
PARALLEL_MIN_ROWS = 200_000
#: Rows per Arrow batch the driver aims for (about 16 MiB), which bounds client memory.
BATCH_BYTES = 16 << 20


@dataclasses.dataclass(frozen=True)
class TrainingSetVersion:
    """A stored training set version: what ``create_training_set`` made (or found)."""

    name: str
    version: int
    action: str
    row_count: int
    content_hash: str
    as_of: dt.datetime
    relation: str  #: the SQL view that returns this version's rows


def feature_refs(conn: psycopg.Connection, features: list[str] | None, service: str | None,
                 service_version: int | None, model: str | None, model_version: int | None) -> list[str]:
    """The feature references a request names: a list, a feature service's, or a model's (pinned)."""
    if sum(x is not None for x in (features, service, model)) != 1:
        raise InvalidArgument("name exactly one of features, service or model")
    if features is not None:
        if isinstance(features, str) or not list(features):
            raise InvalidArgument("features is a non-empty list of references such as ['user_stats.spend_7d']")
        return list(features)
    if service is not None:
        refs = conn.execute(Q.service_refs, {"name": service, "version": service_version}).fetchone()[0]
        if refs is None:
            from fspg.errors import NotFound

            raise NotFound(f"feature service {service}" + (f"@{service_version}" if service_version else "")
                           + " does not exist", hint="fspg apply defines feature services")
        return refs
    return conn.execute(Q.model_refs, {"name": model, "version": model_version}).fetchone()[0]


def requested_refs(conn: psycopg.Connection, spine: Any, features: list[str] | None, service: str | None,
                   service_version: int | None, model: str | None, model_version: int | None) -> list[str] | None:
    """The feature references of a request, or None when it names a stored training set
    (a string spine and nothing else)."""
    if isinstance(spine, str) and features is None and service is None and model is None:
        return None
    return feature_refs(conn, features, service, service_version, model, model_version)


def request_query(s: "Session", spine: Any, refs: list[str] | None, timestamp_column: str, as_of: Any,
                  version: int | None) -> str:
    """The SELECT of a request: a stored set's rebuild (refs None) or the join for a spine."""
    if refs is None:
        return query_for_stored(s, spine, version)
    return query_for_spine(s, spine, refs, timestamp_column, as_of)


def spine_table(spine: Any, timestamp_column: str) -> pa.Table:
    """The spine as an Arrow table with a UTC timestamp column and its row order (fs_ord).

    Naive times are UTC; text times may carry offsets (each row is read on its own, so a
    column mixing time zones gives the right instants). The server names rows without a
    timestamp or key (fs.check_spine); duplicate rows are kept.
    """
    source = to_source(spine)
    table = source.table if source.table is not None else pa.Table.from_batches(list(source.batches()), source.schema)
    if timestamp_column not in table.column_names:
        raise SchemaMismatch(f"the spine has no timestamp column {timestamp_column!r}",
                             hint="name it with timestamp_column=")
    ts = _utc_timestamps(table.column(timestamp_column), timestamp_column)
    table = table.set_column(table.column_names.index(timestamp_column), timestamp_column, ts)
    if "fs_ord" in table.column_names:
        raise SchemaMismatch("the spine has a column fs_ord, which fspg uses for the row order; rename it")
    return table.append_column("fs_ord", pa.array(range(1, table.num_rows + 1), pa.int64()))


def _utc_timestamps(ts: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    if pa.types.is_string(ts.type) or pa.types.is_large_string(ts.type):
        ts = _parse_text_times(ts, name)
    elif pa.types.is_date(ts.type):
        ts = ts.cast(pa.timestamp("us"))
    elif not pa.types.is_timestamp(ts.type):
        if ts.type == pa.null():
            return ts.cast(pa.timestamp("us", tz="UTC"))
        raise SchemaMismatch(f"spine column {name} is {ts.type}, not a timestamp")
    if ts.type.tz is None:
        ts = pc.assume_timezone(ts, "UTC")  # naive spine times are UTC, as everywhere in fspg
    return ts.cast(pa.timestamp("us", tz="UTC"))


def _parse_text_times(ts: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """ISO 8601 text (as CSV spines bring it) to UTC instants; an offset per row is honoured."""
    values = ts.to_pylist()
    out = []
    for i, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise SchemaMismatch(f"spine row {i + 1}: {name} {value!r} is not an ISO 8601 timestamp") from None
        out.append(parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt.timezone.utc))
    return pa.chunked_array([pa.array(out, pa.timestamp("us", tz="UTC"))])


class Session:
    """One ADBC connection for one training-set request; database errors become fspg errors.
    The connection is lent by an ``ArrowPool``, which takes it back clean."""

    def __init__(self, conn: Any, render: Callable[[str, tuple], str]):
        self._render = render
        self._conn = conn
        self._cur = self._conn.cursor()
        self._cur.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)})
        # Each spine row's lookups are distinct (entity, moment) pairs: a memo of them
        # never hits and only costs (measured: ~5% of a join).
        self._cur.execute(Q.no_memoize)

    def share_snapshot(self) -> str:
        """Start a repeatable-read transaction and export its snapshot for other sessions."""
        with self._errors():
            self._cur.execute(Q.repeatable_read)
            self._cur.execute(Q.export_snapshot)
            return self._cur.fetchone()[0]

    def use_snapshot(self, snapshot: str) -> None:
        """See exactly what the session that exported ``snapshot`` sees."""
        with self._errors():
            self._cur.execute(Q.repeatable_read)
            self._cur.execute(self._render(Q.use_snapshot, (snapshot,)))

    def upload(self, table: pa.Table) -> str:
        """The spine as the temp table pg_temp.fs_spine; returns its name."""
        with self._errors():
            self._cur.adbc_ingest(SPINE_TABLE, table, mode="create", temporary=True)
        return f"pg_temp.{SPINE_TABLE}"

    def row(self, query: str, params: tuple) -> tuple:
        """The first row of a query with client-side bound parameters."""
        with self._errors():
            self._cur.execute(self._render(query, params))
            return self._cur.fetchone()

    def batches(self, query: str) -> Iterator[pa.RecordBatch]:
        """The query's result, one Arrow record batch at a time (about BATCH_BYTES each)."""
        with self._errors():
            yield from self._reader(query)

    def read_all(self, query: str) -> pa.Table:
        """The query's whole result as an Arrow table."""
        with self._errors():
            return self._reader(query).read_all()

    def write_parquet(self, query: str, path: str, on_rows: Callable[[int], None] | None = None) -> int:
        """Stream the query's result into a Parquet file one batch at a time; returns the row count."""
        import pyarrow.parquet as pq

        rows = 0
        with self._errors():
            reader = self._reader(query)
            with pq.ParquetWriter(path, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
                    if on_rows:
                        on_rows(batch.num_rows)
        return rows

    def commit(self) -> None:
        """Commit the session's transaction."""
        with self._errors():
            self._conn.commit()

    def close(self) -> None:
        """Close the cursor; the connection goes back to its pool (which rolls back)."""
        self._cur.close()

    def _reader(self, query: str) -> pa.RecordBatchReader:
        self._cur.execute(query)
        return self._cur.fetch_record_batch()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        import adbc_driver_manager

        try:
            yield
        except (adbc_driver_manager.Error, OSError) as err:
            # OSError: a failure while batches stream in (a spine key that does not parse
            # as its type, say) reaches us through Arrow's reader, without its SQLSTATE.
            raise from_adbc_error(err) from err


@contextlib.contextmanager
def session(arrow: ArrowPool, dsn: str, conn: psycopg.Connection) -> Iterator[Session]:
    """An ADBC session on a connection of ``arrow`` whose statements are bound the way psycopg binds them."""
    cursor = psycopg.ClientCursor(conn)
    with arrow.connection(dsn) as adbc_conn:
        s = Session(adbc_conn, lambda query, params: cursor.mogrify(query, params))
        try:
            yield s
        finally:
            s.close()


@dataclasses.dataclass(frozen=True)
class PreparedSpine:
    """A spine already shaped by ``spine_table`` (UTC timestamps, fs_ord)."""

    table: pa.Table


def spine_relation(s: Session, spine: Any, timestamp_column: str) -> str:
    """What the server reads as the spine: a table name or query as given, or the uploaded data."""
    if isinstance(spine, str):
        return spine
    if isinstance(spine, PreparedSpine):
        return s.upload(spine.table)
    return s.upload(spine_table(spine, timestamp_column))


def query_for_spine(s: Session, spine: Any, refs: list[str], timestamp_column: str, as_of: Any) -> str:
    """The training-set SELECT for a spine (uploaded first when it is data); as_of settled."""
    relation = spine_relation(s, spine, timestamp_column)
    return s.row(Q.training_set_sql, (relation, refs, timestamp_column, utc(as_of)))[0]


def parallel_join(arrow: ArrowPool, dsn: str, conn: psycopg.Connection, table: pa.Table, refs: list[str], timestamp_column: str,
                  as_of: Any, sessions: int) -> pa.Table:
    """The training set for a spine (as made by ``spine_table``) computed by ``sessions``
    connections at once, each joining a contiguous slice, all reading one exported snapshot
    (as ``pg_dump --jobs`` does) so the slices see the same history. Spine order is kept.
    """
    from concurrent.futures import ThreadPoolExecutor

    as_of = utc(as_of)
    if as_of is not None:
        conn.execute(Q.settle_as_of, {"as_of": as_of})  # before the snapshot, which must see what settling waited for
    step = -(-table.num_rows // sessions)
    slices = [table.slice(i, step) for i in range(0, table.num_rows, step)]
    cursor = psycopg.ClientCursor(conn)
    opened: list[Session] = []
    with contextlib.ExitStack() as lent:
        for _ in slices:
            opened.append(Session(lent.enter_context(arrow.connection(dsn)), cursor.mogrify))
            lent.callback(opened[-1].close)
        snapshot = opened[0].share_snapshot()
        for other in opened[1:]:
            other.use_snapshot(snapshot)
        with ThreadPoolExecutor(len(slices)) as pool:
            relations = list(pool.map(lambda job: job[0].upload(job[1]), zip(opened, slices)))
            # Rendered one after the other: the psycopg cursor that binds parameters is shared.
            queries = [s.row(Q.training_set_sql, (relation, refs, timestamp_column, as_of))[0]
                       for s, relation in zip(opened, relations)]
            parts = list(pool.map(lambda job: job[0].read_all(job[1]), zip(opened, queries)))
    return pa.concat_tables(parts)


def query_for_stored(s: Session, name: str, version: int | None) -> str:
    """The SELECT that rebuilds training set name@version (the current one by default)."""
    return s.row(Q.training_set_query, (name, version))[0]


def create(s: Session, name: str, spine: Any, refs: list[str], timestamp_column: str, as_of: Any,
           description: str | None) -> TrainingSetVersion:
    """Build and catalog a training set version in the server (committed)."""
    relation = spine_relation(s, spine, timestamp_column)
    row = s.row(Q.create_training_set, (name, relation, refs, timestamp_column, utc(as_of), description))
    s.commit()
    return TrainingSetVersion(*row)
