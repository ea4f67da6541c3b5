"""Training sets, client side: point-in-time joins computed in PostgreSQL.

The spine (entity keys, a timestamp column, any labels) is uploaded into a temp table
through ADBC; ``fs.training_query`` writes the join; ADBC streams the result to Arrow.
"""
from __future__ import annotations

from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from fspg.arrow import to_source
from fspg.errors import InvalidArgument, SchemaMismatch
from fspg.offline import utc

TRAINING_QUERY = ("SELECT fs.training_query(%(refs)s, 'pg_temp.fs_spine', %(ts)s, %(as_of)s, %(columns)s)")
SETTLE = "SELECT fs.settle_as_of(%(as_of)s)"
SPINE_KEYS = ("SELECT DISTINCT k.name FROM unnest(%(refs)s::text[]) x, fs.resolve_feature_ref(x) r"
              " JOIN fs.feature_view fv ON fv.name = r.view_name JOIN fs.entity_key k ON k.entity_id = fv.entity_id")
SPINE_TABLE = "fs_spine"


def spine_table(spine: Any, timestamp_column: str) -> pa.Table:
    """The spine as an Arrow table with a UTC timestamp column and its row order (fs_ord).

    NULL timestamps or keys are an error naming the rows; duplicate rows are kept.
    """
    source = to_source(spine)
    table = source.table if source.table is not None else pa.Table.from_batches(list(source.batches()), source.schema)
    if timestamp_column not in table.column_names:
        raise SchemaMismatch(f"the spine has no timestamp column {timestamp_column!r}",
                             hint="name it with timestamp_column=")
    ts = table.column(timestamp_column)
    if pa.types.is_string(ts.type) or pa.types.is_large_string(ts.type):
        try:  # ISO 8601 text, as CSV spines bring it; no offset = UTC
            ts = pc.cast(pc.strptime(ts, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=False), pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            ts = pc.cast(ts, pa.timestamp("us"))
    if not pa.types.is_timestamp(ts.type):
        try:
            ts = pc.cast(ts, pa.timestamp("us", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise SchemaMismatch(f"spine column {timestamp_column} is not a timestamp: {err}") from err
    elif ts.type.tz is None:
        ts = pc.assume_timezone(ts, "UTC")  # naive spine times are UTC, as everywhere in fspg
    ts = ts.cast(pa.timestamp("us", tz="UTC"))
    nulls = pc.indices_nonzero(pc.is_null(ts)).to_pylist()
    if nulls:
        raise InvalidArgument(f"spine rows without a timestamp: {', '.join(str(i + 1) for i in nulls[:10])}"
                              + (" …" if len(nulls) > 10 else ""))
    table = table.set_column(table.column_names.index(timestamp_column), timestamp_column, ts)
    return table.append_column("fs_ord", pa.array(range(1, table.num_rows + 1), pa.int64()))


def required_keys(conn: psycopg.Connection, features: list[str]) -> list[str]:
    """The entity key columns the requested features' views need in a spine."""
    return [row[0] for row in conn.execute(SPINE_KEYS, {"refs": list(features)})]


def check_keys(table: pa.Table, keys: list[str]) -> None:
    """Every key column the views need is present and has no NULLs."""
    missing = [k for k in keys if k not in table.column_names]
    if missing:
        raise SchemaMismatch(f"the spine lacks key column(s) {', '.join(missing)}")
    for key in keys:
        nulls = pc.indices_nonzero(pc.is_null(table.column(key))).to_pylist()
        if nulls:
            raise InvalidArgument(f"spine rows with NULL {key}: {', '.join(str(i + 1) for i in nulls[:10])}"
                                  + (" …" if len(nulls) > 10 else ""))


def build(conn: psycopg.Connection, features: list[str], spine: pa.Table, timestamp_column: str,
          as_of: Any) -> str:
    """The training-set SELECT for a spine uploaded as pg_temp.fs_spine (settling as_of first)."""
    as_of = utc(as_of)
    if as_of is not None:
        conn.execute(SETTLE, {"as_of": as_of})
    return conn.execute(TRAINING_QUERY, {"refs": list(features), "ts": timestamp_column, "as_of": as_of,
                                         "columns": spine.column_names}).fetchone()[0]


def run(dsn: str, query: str, spine: pa.Table) -> pa.Table:
    """Upload the spine and run the join through ADBC; the result keeps the spine's order."""
    from fspg.offline import read_arrow

    return read_arrow(dsn, query, spine, table_name=SPINE_TABLE)
