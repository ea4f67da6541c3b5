"""Arrow in and out: turning what users pass (dicts, Arrow, pandas, polars) into a
stream of record batches shaped for a feature view's staging table.

Type rules for staging (fs.ingest parses and checks the rest per row, in SQL):
- a column already of the feature's type, or one Arrow widens losslessly, is sent as
  that type;
- a number that may not fit an integer feature (float -> int, int64 -> int) is sent as
  it is and checked per row in SQL; any string for a non-text feature is sent as text
  and parsed per row: one bad value quarantines one row instead of failing the batch;
- timestamps are sent in microseconds, naive ones read as UTC (the documented rule).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pyarrow as pa

from fspg.errors import SchemaMismatch
from fspg.times import utc
from fspg.values import RowReasons, fix

# dtype -> Arrow type of the staging column
_ARROW_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


# dtypes whose staging Arrow type pgpq encodes exactly as the history column's binary
# COPY format (so a batch can be copied straight into history).
_DIRECT_OK: dict[str, pa.DataType] = {
    **_ARROW_TYPES,
    **{f"{k}[]": pa.list_(v) for k, v in _ARROW_TYPES.items()},
}


@dataclass(frozen=True)
class ViewColumn:
    """One column a batch may carry: a key, event_ts or a feature."""

    name: str
    role: str
    dtype: str
    sql_type: str  #: the column's type in SQL, as fs.sql_type names it


class BatchSource:
    """Record batches of one input, readable again when the input allows it.

    In-memory inputs (dicts, Arrow tables, DataFrames) and files can be read twice,
    which lets the ingest take its fast path and fall back if a row is bad; a one-shot
    RecordBatchReader cannot, and goes through staging directly.
    """

    def __init__(self, schema: pa.Schema, open_batches: Callable[[], Iterator[pa.RecordBatch]], *, rewindable: bool,
                 table: pa.Table | None = None):
        self.schema = schema
        self._open = open_batches
        self.rewindable = rewindable
        self.table = table

    def batches(self) -> Iterator[pa.RecordBatch]:
        """A fresh pass over the input's non-empty batches."""
        return (b for b in self._open() if b.num_rows)

    def column_range(self, name: str, *, finite: bool = False) -> tuple[Any, Any]:
        """(min, max) of one column over the whole input, without keeping it in memory
        (``finite``: of a float column's finite values)."""
        import pyarrow.compute as pc

        lo = hi = None
        for batch in self.batches():
            column = batch.column(name)
            if finite:
                column = pc.filter(column, pc.is_finite(column))
            result = pc.min_max(column)
            bmin, bmax = result["min"].as_py(), result["max"].as_py()
            if bmin is not None:
                lo = bmin if lo is None else min(lo, bmin)
                hi = bmax if hi is None else max(hi, bmax)
        return lo, hi

    def time_profile(self, name: str) -> tuple[Any, Any, list[dt.datetime]]:
        """(min, max, distinct UTC days as midnight instants) of a timestamp column, in one
        pass: the range says whether every event is plausible, the days which partitions
        the batch lands in."""
        import pyarrow.compute as pc

        lo = hi = None
        days: set[int] = set()
        for batch in self.batches():
            column = batch.column(name)
            result = pc.min_max(column)
            try:
                bmin, bmax = result["min"].as_py(), result["max"].as_py()
            except (OverflowError, ValueError):
                # Beyond what a Python datetime holds (year 10,000 on): implausible, so the
                # batch takes the staging path, which quarantines those rows.
                return None, None, []
            if bmin is None:
                continue
            lo = bmin if lo is None else min(lo, bmin)
            hi = bmax if hi is None else max(hi, bmax)
            per_day = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}[column.type.unit]
            # The stored integer is UTC whatever the zone: whole days by integer division
            # (exact for any instant; before 1970 the batch is refused by its range anyway).
            epoch = pc.cast(column, pa.int64())
            days.update(v for v in pc.unique(pc.divide(epoch, per_day)).to_pylist() if v is not None)
        epoch_day = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return lo, hi, [epoch_day + dt.timedelta(days=int(d)) for d in sorted(days)]

def to_source(data: Any, *, chunk_rows: int = 65_536) -> BatchSource:
    """A BatchSource over a dict of columns, Arrow table/batch/reader, pandas or polars DataFrame,
    or a BatchSource already (as the CLI builds for files)."""
    if isinstance(data, BatchSource):
        return data
    if isinstance(data, pa.RecordBatchReader):
        used = []

        def once() -> Iterator[pa.RecordBatch]:
            if used:
                raise RuntimeError("a RecordBatchReader can be read once")
            used.append(True)
            return iter(data)

        return BatchSource(data.schema, once, rewindable=False)
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    elif isinstance(data, dict):
        try:
            data = pa.table(data)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as err:
            raise SchemaMismatch(f"cannot read the data as columns: {err}") from err
    elif type(data).__module__.startswith("pandas"):
        data = pa.Table.from_pandas(data, preserve_index=False)
    elif type(data).__module__.startswith("polars"):
        data = data.to_arrow()
    if not isinstance(data, pa.Table):
        raise SchemaMismatch(
            f"cannot ingest a {type(data).__name__}: pass a dict of columns, a pyarrow Table, "
            "RecordBatch or RecordBatchReader, or a pandas or polars DataFrame")
    table = data
    return BatchSource(table.schema, lambda: iter(table.to_batches(max_chunksize=chunk_rows)), rewindable=True, table=table)


def _is_lossless(source: pa.DataType, target: pa.DataType) -> bool:
    if source == target:
        return True
    t = pa.types
    if t.is_integer(source) and t.is_integer(target):
        return source.bit_width < target.bit_width or (source.bit_width == target.bit_width and t.is_signed_integer(source) == t.is_signed_integer(target))
    if t.is_integer(source) and t.is_floating(target):
        return source.bit_width <= 32 or target == pa.float64()
    if t.is_floating(source) and t.is_floating(target):
        return True  # float8 -> float4 loses precision by the feature's own declaration
    if t.is_timestamp(source) and t.is_timestamp(target):
        return True
    if t.is_date(source) and t.is_date(target):
        return True
    if (t.is_string(source) or t.is_large_string(source)) and t.is_string(target):
        return True
    if t.is_null(source):
        return True
    return False


def narrowable(batches: "BatchSource", columns: list[ViewColumn]) -> dict[str, pa.DataType]:
    """Integer columns wider than their int feature whose values all fit it: a dict's Python
    ints arrive as int64, and int32 would take the direct path. Values are looked at, never
    cut: a value that does not fit leaves the column to the staging path's per-row check."""
    found = {}
    for column in columns:
        if column.dtype != "int" or column.name not in batches.schema.names:
            continue
        if batches.schema.field(column.name).type not in (pa.int64(), pa.uint32(), pa.uint64()):
            continue
        lo, hi = batches.column_range(column.name)
        if lo is None or (-2**31 <= lo and hi < 2**31):
            found[column.name] = pa.int32()
    return found


def staging_type(name: str, source: pa.DataType, dtype: str) -> pa.DataType:
    """The Arrow type a column is staged as (see the module docstring)."""
    t = pa.types
    if dtype.startswith("vector(") or dtype.endswith("[]"):
        if not (t.is_list(source) or t.is_large_list(source) or t.is_fixed_size_list(source) or t.is_null(source)):
            raise SchemaMismatch(f"column {name} holds {source}, but its dtype {dtype} needs a list of numbers per row")
        element = {"vector": pa.float32()}.get(dtype.split("(")[0]) or _ARROW_TYPES.get(dtype[:-2], pa.string())
        return pa.list_(element)
    target = _ARROW_TYPES.get(dtype)
    if target is not None and _is_lossless(source, target):
        return target
    if dtype in ("numeric", "int", "bigint") and (t.is_integer(source) or t.is_floating(source)):
        return pa.float64() if t.is_floating(source) else pa.int64()
    if t.is_nested(source) or t.is_binary(source) or t.is_large_binary(source):
        raise SchemaMismatch(f"column {name} holds {source}, which cannot become dtype {dtype}")
    return pa.string()


def event_ts_column(timestamp: dt.datetime | dt.date | str, rows: int) -> pa.Array:
    """A constant event_ts column (read by fspg.times: naive datetimes are UTC)."""
    return pa.repeat(pa.scalar(utc(timestamp), pa.timestamp("us", tz="UTC")), rows)


class BatchShaper:
    """Shapes every record batch of one input to the same staging schema."""

    def __init__(self, source: pa.Schema, columns: list[ViewColumn], *, view: str, timestamp: Any = None,
                 narrow: dict[str, pa.DataType] | None = None):
        """``narrow``: columns whose values were seen to fit a narrower type (an int64 column of
        an int feature whose values all fit in int32), staged as that type."""
        by_name = {c.name: c for c in columns}
        self.dtypes = {c.name: c.dtype for c in columns}
        self.sql_types = {c.name: c.sql_type for c in columns}
        if any(n not in by_name for n in source.names):
            raise ColumnsMismatch(list(source.names))
        duplicated = {n for n in source.names if source.names.count(n) > 1}
        if duplicated:
            raise SchemaMismatch(f"column(s) {', '.join(sorted(duplicated))} appear twice")
        # Read once (a relative "-1h" must mean one moment for the whole input).
        self.stamp = utc(timestamp) if "event_ts" not in source.names else None
        missing = [c.name for c in columns
                   if c.role in ("key", "event_ts") and c.name not in source.names
                   and not (c.name == "event_ts" and self.stamp is not None)]
        if missing:
            raise ColumnsMismatch(list(source.names) + (["event_ts"] if self.stamp is not None else []))
        fields = [pa.field(n, (narrow or {}).get(n) or staging_type(n, source.field(n).type, by_name[n].dtype))
                  for n in source.names]
        if self.stamp is not None:
            fields.append(pa.field("event_ts", pa.timestamp("us", tz="UTC")))
        # The fast path needs every column in the history table's exact binary type.
        inexact = [f for f in fields if _DIRECT_OK.get(by_name[f.name].dtype) != f.type]
        self.direct = not inexact
        # (A stamped event_ts is always exact: an inexact column is one of the input's.)
        self.why = "" if self.direct else (
            f"column {inexact[0].name} arrives as {source.field(inexact[0].name).type} for dtype"
            f" {by_name[inexact[0].name].dtype}: each value is parsed and checked in the database")
        self.data_schema = pa.schema(fields)
        # Staging also carries each row's position and what the client found wrong with
        # it before sending (fspg.values).
        fields.append(pa.field("fs_row", pa.int64()))
        fields.append(pa.field("fs_reasons", pa.list_(pa.string())))
        self.schema = pa.schema(fields)
        self._next_row = 1

    def restart(self) -> None:
        """Number rows from 1 again (for a second pass over the input)."""
        self._next_row = 1

    def shape(self, batch: pa.RecordBatch, *, numbered: bool = True) -> pa.RecordBatch:
        """Cast one batch to the staging schema and number its rows (1-based, across the input).

        ``numbered=False`` leaves fs_row and fs_reasons out, as the history table has no
        such columns; a batch with a value only staging can quarantine raises NeedsStaging.
        """
        arrays = []
        reasons = RowReasons(batch.num_rows)
        for field in self.data_schema:
            if field.name == "event_ts" and self.stamp is not None:
                arrays.append(event_ts_column(self.stamp, batch.num_rows))
            else:
                fixed = fix(batch.column(field.name), field.name, self.dtypes[field.name], field.type, reasons)
                arrays.append(_cast(fixed, field.type, field.name))
        if not numbered:
            if reasons:
                raise NeedsStaging("a value the database cannot take as sent: staging quarantines its row")
            return pa.RecordBatch.from_arrays(arrays, schema=self.data_schema)
        arrays.append(pa.array(range(self._next_row, self._next_row + batch.num_rows), pa.int64()))
        arrays.append(reasons.array())
        self._next_row += batch.num_rows
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class ColumnsMismatch(Exception):
    """The batch's columns do not fit the view; ``fs.check_batch_columns`` says how (the
    rule and its message live in SQL)."""

    def __init__(self, columns: list[str]):
        super().__init__(", ".join(columns))
        self.columns = columns


class NeedsStaging(Exception):
    """A batch the direct path cannot copy as it is (fspg.values found a row to quarantine)."""


def _cast(array: pa.Array, target: pa.DataType, name: str) -> pa.Array:
    if array.type == target:
        return array
    try:
        # Nanoseconds PostgreSQL cannot store are truncated: the only unsafe cast allowed
        # (coarser units are checked for overflow by fspg.values first).
        truncating = pa.types.is_timestamp(array.type) and array.type.unit == "ns"
        return array.cast(target, safe=not truncating)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise SchemaMismatch(f"column {name}: cannot convert {array.type} to {target}: {err}") from err
