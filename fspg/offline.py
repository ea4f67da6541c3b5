"""Offline reads: the values in effect at a moment (``load_batch``) and raw history
ranges (``load_history``), streamed to Arrow.

fspg builds the query in SQL (``fs.load_batch_query``, ``fs.history_query``: the
point-in-time rule lives there once) and runs it through the ADBC PostgreSQL driver,
which reads results with binary COPY straight into Arrow buffers.
"""
from __future__ import annotations

from typing import Any, Sequence

import psycopg
import pyarrow as pa

from fspg.arrow_pool import ArrowPool
from fspg.errors import InvalidArgument, SchemaMismatch, from_adbc_error
from fspg.times import utc
from fspg.statements import Q

ENTITY_TABLE = "fs_entities"


def entity_table(conn: psycopg.Connection, view: str, entities: Any) -> pa.Table:
    """The requested entities as an Arrow table of key columns plus their order (fs_ord)."""
    keys = [row[0] for row in conn.execute(Q.key_columns, {"view": view})]
    if not keys:
        raise InvalidArgument(f"{view} is a global view: it has no entities to select")
    if isinstance(entities, dict):
        table = pa.table(entities)
    elif isinstance(entities, pa.Table):
        table = entities
    elif len(keys) == 1 and isinstance(entities, Sequence) and not isinstance(entities, (str, bytes)):
        table = pa.table({keys[0]: list(entities)})
    else:
        table = pa.table(entities)
    missing = [k for k in keys if k not in table.column_names]
    if missing:
        raise SchemaMismatch(f"entities lack key column(s) {', '.join(missing)} of {view}")
    table = table.select(keys)
    return table.append_column("fs_ord", pa.array(range(1, table.num_rows + 1), pa.int64()))


def read_arrow(arrow: ArrowPool, dsn: str, query: str, entities: pa.Table | None = None, *,
               table_name: str = ENTITY_TABLE) -> pa.Table:
    """Run ``query`` through an ADBC connection of ``arrow`` and return the whole result as
    an Arrow table; ``entities`` is first uploaded as the temp table ``table_name``."""
    import adbc_driver_manager

    try:
        with arrow.connection(dsn) as conn, conn.cursor() as cur:
            if entities is not None:
                cur.adbc_ingest(table_name, entities, mode="create", temporary=True)
            cur.execute(query)
            return cur.fetch_arrow_table()
    except adbc_driver_manager.Error as err:
        # The query was written and checked by fspg; what fails here is the data (a key
        # that does not parse as its type, say): a user error, said in one line.
        raise from_adbc_error(err, "the read failed") from err


def build_query(conn: psycopg.Connection, kind: str, view: str, *, entities: Any = None, as_of: Any = None,
                **params: Any) -> tuple[str, pa.Table | None]:
    """The SELECT for a read (kind: load_batch or history) and the entity table it joins, if any.

    A given ``as_of`` is settled first: the call waits for writers that started before it.
    """
    as_of = utc(as_of)
    if as_of is not None:
        conn.execute(Q.settle_as_of, {"as_of": as_of})
    table = entity_table(conn, view, entities) if entities is not None else None
    args = {"view": view, "as_of": as_of, "entities": f"pg_temp.{ENTITY_TABLE}" if table is not None else None,
            "features": list(params.pop("features")) if params.get("features") is not None else None, **params}
    query = conn.execute(Q.load_batch_query if kind == "load_batch" else Q.history_query, args).fetchone()[0]
    return query, table
