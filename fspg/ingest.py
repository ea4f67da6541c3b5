"""The write path, client side.

Two ways into history, one result (every row inserted or quarantined, the batch whole
or not at all):

- fast path: when every column already has the history table's type and the input can
  be read twice, the batch is copied (binary COPY) straight into the history table
  inside a savepoint. The table's CHECK constraints and history guard validate each
  row; ``fs.log_direct_batch`` logs it.
- staging path: otherwise, or when the fast path meets a bad row (its savepoint is
  rolled back), the batch is copied into a temp staging table and ``fs.ingest``
  validates it set-wise, appends the good rows and quarantines the bad ones.

Memory stays bounded by the chunk size: batches are shaped, encoded (pgpq) and sent one
at a time. Temp tables vanish with the session, so a client that dies mid-batch leaves
nothing behind.
"""
from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from fspg.arrow import BatchShaper, BatchSource, ColumnsMismatch, NeedsStaging, ViewColumn, narrowable, to_source
from fspg.values import text_staged
from fspg.progress import new_phase
from fspg.statements import Q

# The batch fs.open_batch opened in this transaction (a pipelined write names it so).
OPENED_BATCH = "current_setting('fspg.open_batch')::bigint"
# Events later than this are refused by the history table anyway (now + 5 minutes there);
# the client only needs to know a batch is plausible enough to try the direct path.
FUTURE_SLACK = dt.timedelta(hours=1)
MODES = ("quarantine", "strict")
# Memory for the history triggers' transition table, for this transaction only: a
# batch that fits stays off disk (measured: the trigger's cost halves at 1M rows).
INGEST_WORK_MEM = "256MB"
# A batch this small needs no more memory than the session's default.
SMALL_BATCH = 10_000
# A batch this small (of scalar columns) is sent as one pipelined INSERT: the batch id,
# the rows and the log in one round trip instead of six.
PIPELINED_ROWS = 1_000
# Errors by which the history table refuses a row: the staging path sorts them out.
# A row the history table refuses sends the batch to staging, which says which and why
# (two rows of one entity and moment are a UniqueViolation there).
ROW_REFUSED = (psycopg.errors.CheckViolation, psycopg.errors.NotNullViolation, psycopg.errors.DataException,
               psycopg.errors.UniqueViolation, psycopg.errors.ProgramLimitExceeded)
# A row a Citus worker refused during COPY comes back as XX000 with the worker's message:
# these are the refusals ROW_REFUSED names on one server.
_WORKER_REFUSALS = ("violates check constraint", "violates not-null constraint", "violates unique constraint",
                    "out of range", "invalid input syntax", "index row size")
_staging_names = itertools.count(1)
log = logging.getLogger("fspg.ingest")


@dataclass(frozen=True)
class IngestResult:
    """What happened to one batch: every row is inserted, quarantined or (when asked to
    skip them) unchanged: ``rows_in == inserted + quarantined + unchanged``."""

    batch_id: int
    feature_view: str
    version: int
    rows_in: int
    inserted: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    #: rows skipped because history already held them (``skip_unchanged=True``)
    unchanged: int = 0
    seconds: float = 0.0
    path: str = "staging"
    why: str = ""  # why a batch took the staging path (the direct path needs no reason)

    @property
    def rows_per_second(self) -> float:
        """Rows in per second of wall time, staging included."""
        return self.rows_in / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class ViewTarget:
    """Where a batch for a view name goes: the version it means and that version's columns."""

    version_id: int
    table: str
    columns: list[ViewColumn]
    distributed: bool = False


@dataclass
class WriteCache:
    """What a client remembers between batches, so a small one costs few round trips:
    what each view name means, and the partitions it has seen made. A promote changes
    what an unpinned name means: the client clears the cache when it notices
    (``fs.serving_epoch``), and ``fs.open_batch`` says so in any case, under a hold that
    keeps the answer true until the batch commits. A partition dropped meanwhile (by
    retention) only sends rows to the default partition, which maintain adopts."""

    views: dict[str, ViewTarget] = field(default_factory=dict)
    partitions: set[tuple[int, dt.datetime]] = field(default_factory=set)

    def clear(self) -> None:
        """Forget everything (after a promote or rollback)."""
        self.views.clear()
        self.partitions.clear()


def view_target(conn: psycopg.Connection, view: str, cache: WriteCache | None = None) -> ViewTarget:
    """The version ``view`` (or ``view@N``) means and the columns a batch for it may carry."""
    if cache is not None and view in cache.views:
        return cache.views[view]
    ours = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE and not conn.autocommit
    rows = conn.execute(Q.view_columns, {"view": view}).fetchall()
    target = ViewTarget(rows[0][4], rows[0][5], [ViewColumn(*row[:4]) for row in rows], rows[0][6])
    if ours:
        # A read needs no transaction left open: the batch's partitions are made in one of
        # their own, and on Citus one transaction may not touch a shard as two roles (the
        # partitions as fspg's owner, the rows as the writer).
        conn.commit()
    if cache is not None:
        cache.views[view] = target
    return target



def insert_batch(
    conn: psycopg.Connection,
    view: str,
    data: Any,
    *,
    timestamp: Any = None,
    mode: str = "quarantine",
    source: str | None = None,
    batch_key: str | None = None,
    max_quarantined: float | None = None,
    chunk_rows: int = 65_536,
    progress: Callable[[int], None] | None = None,
    cache: WriteCache | None = None,
    skip_unchanged: bool = False,
) -> IngestResult:
    """Ingest ``data`` into ``view`` (see FeatureStore.insert_batch). ``cache`` remembers
    what a view name means between calls (see WriteCache)."""
    from fspg.errors import InvalidArgument

    if mode not in MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    started = time.perf_counter()
    batches = to_source(data, chunk_rows=chunk_rows)
    target = view_target(conn, view, cache)
    columns = target.columns
    narrow = (narrowable(batches, columns) | text_staged(batches, {c.name: c.dtype for c in columns})
              if batches.rewindable else {})
    try:
        shaper = BatchShaper(batches.schema, columns, view=view, timestamp=timestamp, narrow=narrow)
    except ColumnsMismatch as mismatch:
        conn.execute(Q.check_batch_columns, {"view": view, "columns": mismatch.columns})
        raise  # not reached: the check raises the error that says what is wrong
    if batch_key is not None:
        with conn.transaction():
            done = _existing(conn, view, batch_key)
        if done is not None:
            return _timed(done, started, "existing")
    why = shaper.why or ("" if batches.rewindable else "a one-shot stream (RecordBatchReader) cannot be read twice")
    if skip_unchanged:
        why = "skip_unchanged: each row is compared with history in the database"
    elif shaper.direct and batches.rewindable:
        try:
            result = _try_direct(conn, view, target, batches, shaper, mode=mode, source=source, batch_key=batch_key,
                                 progress=progress, cache=cache)
        except _ViewMoved:
            # Promoted since the client looked: again, with what the name means now.
            if cache is not None:
                cache.clear()
            return insert_batch(conn, view, data, timestamp=timestamp, mode=mode, source=source, batch_key=batch_key,
                                max_quarantined=max_quarantined, chunk_rows=chunk_rows, progress=progress, cache=cache)
        if result is not None:
            return _timed(result, started, result.path)
        shaper.restart()
        why = "a row broke a rule: the batch is sorted into good and bad rows"
    with conn.transaction():
        row = _stage_and_ingest(conn, view, batches, shaper, mode=mode, source=source, batch_key=batch_key,
                                max_quarantined=max_quarantined, progress=progress, skip_unchanged=skip_unchanged)
    log.info("batch %s of %s took the staging path: %s", row[0], view, why)
    return _timed(IngestResult(*row, why=why), started, "staging")


def _existing(conn: psycopg.Connection, view: str, batch_key: str) -> IngestResult | None:
    """The batch on record under ``batch_key`` (waiting for one in flight), or None. Inside
    the writing transaction, it also holds the key until that transaction ends."""
    row = conn.execute(Q.batch_by_key, {"view": view, "key": batch_key}).fetchone()
    return IngestResult(*row) if row[0] is not None else None


def _timed(result: IngestResult, started: float, path: str) -> IngestResult:
    return IngestResult(**{**result.__dict__, "seconds": time.perf_counter() - started, "path": path})


def _event_days(batches: BatchSource, shaper: BatchShaper) -> list[dt.datetime] | None:
    """The UTC days the batch's events fall on (the store creates partitions for those
    only), or None when some event is clearly outside [1970, now]: those rows are bad, and
    the staging path quarantines them. (The history table's constraints are the exact
    test; this one only saves a doomed copy.)"""
    if shaper.stamp is not None:
        from fspg.times import utc

        lo = hi = utc(shaper.stamp)
        days = [lo.replace(hour=0, minute=0, second=0, microsecond=0)]
    else:
        lo, hi, days = batches.time_profile("event_ts")
        if lo is None:
            return None
        lo, hi = (v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc) for v in (lo, hi))
    floor = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return days if floor <= lo and hi <= dt.datetime.now(dt.timezone.utc) + FUTURE_SLACK else None


def refused_on_worker(err: psycopg.Error) -> bool:
    """Whether an internal error (XX000) is a Citus worker refusing a row, which one
    server reports as a constraint or data error: the batch then takes the staging path."""
    message = getattr(err.diag, "message_primary", None) or str(err)
    return any(phrase in message for phrase in _WORKER_REFUSALS)


class _EventSpan:
    """The oldest and newest event_ts of a batch, as it is copied."""

    def __init__(self) -> None:
        self.low: Any = None
        self.high: Any = None

    def add(self, column: Any) -> None:
        """Widen the span by one batch's event_ts column."""
        import pyarrow.compute as pc

        low, high = pc.min_max(column).values()
        if low.is_valid:
            self.low = low.as_py() if self.low is None else min(self.low, low.as_py())
            self.high = high.as_py() if self.high is None else max(self.high, high.as_py())


class _ViewMoved(Exception):
    """The view name means another version than the client had cached (a promote)."""


def _ensure_partitions(conn, version_id: int, days: list[dt.datetime], cache: WriteCache | None) -> None:
    missing = [d for d in days if cache is None or (version_id, d) not in cache.partitions]
    if not missing:
        return
    # In a transaction of their own when we can, so the batch's transaction does not
    # hold the partition lock while it copies.
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE and not conn.autocommit:
        with conn.transaction():
            conn.execute(Q.ensure_partitions, {"version_id": version_id, "days": missing})
    else:
        conn.execute(Q.ensure_partitions, {"version_id": version_id, "days": missing})
    if cache is not None:
        cache.partitions.update((version_id, d) for d in missing)


def _try_direct(conn, view, target: ViewTarget, batches, shaper, *, mode, source, batch_key, progress,
                cache: WriteCache | None) -> IngestResult | None:
    from pgpq import ArrowToPostgresBinaryEncoder

    days = _event_days(batches, shaper)
    if days is None:
        return None
    _ensure_partitions(conn, target.version_id, days, cache)
    # Citus plans no INSERT ... SELECT FROM unnest($1) with parameters into a distributed
    # table; a small batch there goes by COPY like a big one.
    if (batch_key is None and not target.distributed and batches.table is not None and batches.table.num_rows <= PIPELINED_ROWS
            and all(shaper.dtypes[f.name] in PIPELINED_DTYPES for f in shaper.data_schema)):
        return _pipelined(conn, view, target, batches, shaper, mode=mode, source=source, progress=progress)
    started_at = dt.datetime.now(dt.timezone.utc)
    encoder = ArrowToPostgresBinaryEncoder(shaper.data_schema.append(_batch_id_field()))
    columns = [f.name for f in shaper.data_schema] + ["batch_id"]
    copy_sql = sql.SQL("COPY fs_offline.{} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(target.table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    sent = []
    span = _EventSpan()
    try:
        with conn.transaction():
            if batches.table is None or batches.table.num_rows > SMALL_BATCH:
                conn.execute(Q.set_local_work_mem, {"work_mem": INGEST_WORK_MEM})
            if batch_key is not None:
                # Held from here to commit: a retry that raced past the first look finds
                # this batch on record once it commits.
                done = _existing(conn, view, batch_key)
                if done is not None:
                    return IngestResult(**{**done.__dict__, "path": "existing"})
            # Holds the view until commit and says which version it means now.
            batch_id, version_id, _ = conn.execute(Q.open_batch, {"view": view, "batch_key": batch_key},
                                                   prepare=True).fetchone()
            if version_id != target.version_id:
                raise _ViewMoved(view)
            with conn.cursor() as cur:
                # The default writer, not psycopg's queued one: its queue can hold a
                # hundred MB of encoded rows when the server is the slower side.
                with cur.copy(copy_sql) as copy:
                    copy.write(encoder.write_header())
                    for batch in batches.batches():
                        shaped = shaper.shape(batch, numbered=False)
                        copy.write(encoder.write_batch(shaped.append_column(_batch_id_field(), _constant(batch_id, shaped.num_rows))))
                        sent.append(batch.num_rows)
                        if target.distributed:
                            span.add(shaped.column("event_ts"))
                        if progress:
                            progress(batch.num_rows)
                    copy.write(encoder.finish())
                if target.distributed:
                    conn.execute(Q.report_batch_rows, {"rows": cur.rowcount, "min": span.low, "max": span.high})
            row = conn.execute(Q.log_direct_batch, {
                "batch_id": batch_id, "view": view, "mode": mode, "source": source,
                "columns": Jsonb([{"name": f.name, "type": _pg_type(shaper, f.name)} for f in shaper.data_schema]),
                "started": started_at, "batch_key": batch_key}, prepare=True).fetchone()
            if target.distributed:
                conn.execute(Q.dual_write, {"version_id": version_id, "batch_id": batch_id})
        return IngestResult(*row, path="direct")
    except (*ROW_REFUSED, NeedsStaging, psycopg.errors.InternalError_) as err:
        if isinstance(err, psycopg.errors.InternalError_) and not refused_on_worker(err):
            raise
        if progress and sent:
            new_phase(progress, "checking rows one by one")
        return None


def _pipelined(conn, view, target: ViewTarget, batches, shaper, *, mode, source, progress) -> IngestResult | None:
    """A small batch in one round trip: open the batch (naming the version the rows are
    for), insert them from arrays, log it, commit — pipelined, the answer read at the end.
    The history table's constraints check each row, as with COPY."""
    import pyarrow as pa

    try:
        table = pa.Table.from_batches([shaper.shape(b, numbered=False) for b in batches.batches()],
                                      schema=shaper.data_schema)
    except NeedsStaging:
        return None
    names = table.column_names
    insert = sql.SQL("INSERT INTO fs_offline.{} ({}, batch_id) SELECT u.*, " + OPENED_BATCH + " FROM unnest({}) AS u").format(
        sql.Identifier(target.table), sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(_pg_type(shaper, n))) for n in names))
    log_args = {"view": view, "mode": mode, "source": source, "started": dt.datetime.now(dt.timezone.utc),
                "columns": Jsonb([{"name": n, "type": _pg_type(shaper, n)} for n in names])}
    # A refused row's error is caught where it surfaces, inside the transaction: one that
    # escapes a block of pipeline mode (conn.transaction() opens one of its own) makes
    # psycopg log a second, meaningless error as it ends the aborted pipeline. The
    # transaction's end then fails too (caught below); the first error is the one meant.
    failed: psycopg.Error | None = None
    ours = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.pipeline():
        try:
            with conn.transaction():
                try:
                    conn.execute(Q.open_batch_for_version, {"view": view, "version_id": target.version_id},
                                 prepare=True)
                    conn.execute(insert, [table.column(n).to_pylist() for n in names], prepare=True)
                    logged = conn.execute(Q.log_opened_batch, log_args, prepare=True)
                except psycopg.Error as err:
                    failed = err
        except psycopg.Error as err:
            failed = failed or err
    if failed is not None and ours and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        # Seen once under load in CI: the refused row's error was read while the block still
        # ran, the block's COMMIT was skipped with the aborted pipeline, and the session
        # stayed in the failed transaction, so the staging path's BEGIN became a SAVEPOINT
        # in it. The transaction was ours: end it.
        conn.rollback()
    if isinstance(failed, ROW_REFUSED):
        return None
    if failed is not None:
        if failed.sqlstate == "YF021":
            raise _ViewMoved(view) from failed
        raise failed
    row = logged.fetchone()
    if progress:
        progress(table.num_rows)
    return IngestResult(*row, path="direct")


def _stage_and_ingest(conn, view, batches, shaper, *, mode, source, batch_key, max_quarantined, progress,
                      skip_unchanged=False):
    from pgpq import ArrowToPostgresBinaryEncoder

    encoder = ArrowToPostgresBinaryEncoder(shaper.schema)
    staging = f"fs_stage_{next(_staging_names)}"
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(col.name), sql.SQL(col.data_type.ddl()))
        for col in encoder.schema().columns)
    conn.execute(Q.set_local_work_mem, {"work_mem": INGEST_WORK_MEM})
    conn.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(sql.Identifier(staging), columns))
    with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(staging))) as copy:
        copy.write(encoder.write_header())
        for batch in batches.batches():
            copy.write(encoder.write_batch(shaper.shape(batch)))
            if progress:
                progress(batch.num_rows)
        copy.write(encoder.finish())
    row = conn.execute(Q.ingest_staged, {"view": view, "staging": f"pg_temp.{staging}", "mode": mode, "source": source,
                                "batch_key": batch_key, "max_quarantined": max_quarantined,
                                "skip_unchanged": skip_unchanged}).fetchone()
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(staging)))
    return row


def _batch_id_field():
    import pyarrow as pa

    return pa.field("batch_id", pa.int64())


def _constant(value: int, rows: int):
    import pyarrow as pa

    return pa.repeat(pa.scalar(value, pa.int64()), rows)


# dtypes a pipelined INSERT sends as typed arrays unambiguously (not numeric, uuid, jsonb,
# vectors or arrays of arrays): other batches take COPY.
PIPELINED_DTYPES = frozenset({"bool", "int", "bigint", "float4", "float8", "text", "timestamp", "date"})


def _pg_type(shaper: BatchShaper, name: str) -> str:
    """The column's SQL type, as the catalog names it (fs.sql_type: one owner of type names)."""
    return shaper.sql_types[name]


def replay(conn: psycopg.Connection, batch_id: int, *, view: str | None = None, mode: str = "quarantine") -> IngestResult:
    """Re-validate the quarantined rows of a batch as a new batch (into ``view``, default the current version)."""
    started = time.perf_counter()
    with conn.transaction():
        row = conn.execute(Q.replay_quarantine, {"batch_id": batch_id, "view": view, "mode": mode}).fetchone()
    return _timed(IngestResult(*row), started, "staging")
