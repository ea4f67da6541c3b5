"""Online lookups: several views' latest values for a batch of entities, one round trip.

A feature service is served by its generated function ``fs_serving.<service>(keys[]…)``;
a list of feature references by the query ``fs.online_query`` writes for it. Either way
the statement is prepared once per pooled connection (psycopg keeps it by its text) and
takes one array per key column, so 1 or 10,000 entities cost one round trip.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import psycopg
import pyarrow as pa

from fspg.errors import InvalidArgument
from fspg.statements import Q

MAX_KEYS = 10_000

# PostgreSQL type OIDs -> Arrow types, for columns that come back all NULL
_ARROW_BY_OID = {16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 700: pa.float32(),
                 701: pa.float64(), 25: pa.string(), 1043: pa.string(), 1082: pa.date32(),
                 1184: pa.timestamp("us", tz="UTC"), 1114: pa.timestamp("us"), 1700: pa.float64()}


@dataclass(frozen=True)
class OnlineStatement:
    """A prepared lookup: its SQL, the key columns it takes, in order, with their dtypes."""

    query: str
    key_names: tuple[str, ...]
    key_types: tuple[str, ...]


def statement_for_features(conn: psycopg.Connection, refs: Sequence[str]) -> OnlineStatement:
    """The lookup for feature references (view.feature, view@2.feature, view.*)."""
    return _statement(*conn.execute(Q.online_query, {"refs": list(refs)}).fetchone())


def statement_for_service(conn: psycopg.Connection, service: str, version: int | None = None) -> OnlineStatement:
    """The lookup through a feature service's generated function (current or pinned version)."""
    return _statement(*conn.execute(Q.service_statement, {"service": service, "version": version}).fetchone())


def _statement(query: str, names: Sequence[str], types: Sequence[str]) -> OnlineStatement:
    import re

    # The SQL uses $1..$n (as in the generated functions); psycopg wants %s.
    return OnlineStatement(re.sub(r"\$\d+", "%s", query.replace("%", "%%")), tuple(names), tuple(types))


def key_arrays(statement: OnlineStatement, entities: Any) -> tuple[list[list[Any]], int]:
    """One list per key column from a dict of columns, a list of dicts, an Arrow table or a list of keys."""
    names = statement.key_names
    if isinstance(entities, pa.Table):
        entities = entities.to_pydict()
    elif isinstance(entities, list) and entities and isinstance(entities[0], dict):
        entities = {n: [row.get(n) for row in entities] for n in names}
    elif isinstance(entities, (list, tuple)) and len(names) == 1:
        entities = {names[0]: list(entities)}
    if not isinstance(entities, dict):
        raise InvalidArgument("entities must be a dict of key columns, a list of dicts, an Arrow table or a list of keys")
    missing = [n for n in names if n not in entities]
    if missing:
        raise InvalidArgument(f"entities lack key column(s) {', '.join(missing)}", hint=f"keys: {', '.join(names)}")
    arrays = [list(entities[n]) for n in names]
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        raise InvalidArgument(f"key columns have different lengths: {sorted(lengths)}")
    count = lengths.pop() if lengths else 1
    if count > MAX_KEYS:
        raise InvalidArgument(f"{count:,} entities in one lookup; the limit is {MAX_KEYS:,}",
                              hint="split the request; each call is one round trip")
    for name, dtype, values in zip(names, statement.key_types, arrays):
        if any(v is None for v in values):
            raise InvalidArgument(f"NULL in key column {name}: every entity needs its whole key")
        if dtype in ("int", "bigint"):
            # The server would round a fractional key to another entity's key.
            odd = next((v for v in values if not isinstance(v, (int, str)) and _not_whole(v)), None)
            if odd is not None:
                raise InvalidArgument(f"key {name} is {dtype}, got {odd!r}: only a whole number names an entity",
                                      hint="pass whole numbers (1, not 1.5)")
    return arrays, count


def _not_whole(value: Any) -> bool:
    try:
        return float(value) != int(value)
    except (TypeError, ValueError, OverflowError):
        return True


def lookup(conn: psycopg.Connection, statement: OnlineStatement, arrays: list[list[Any]]) -> psycopg.Cursor:
    """Run a prepared lookup; wrong key types become InvalidArgument."""
    try:
        return conn.execute(statement.query, arrays, prepare=True)
    except (psycopg.errors.InvalidTextRepresentation, psycopg.errors.NumericValueOutOfRange,
            psycopg.errors.CannotCoerce, psycopg.errors.DatatypeMismatch) as err:
        expected = ", ".join(f"{n} {t}" for n, t in zip(statement.key_names, statement.key_types))
        raise InvalidArgument(f"entity keys of the wrong type: {err.diag.message_primary}",
                              hint=f"keys are {expected}") from err


def to_arrow(cursor: psycopg.Cursor, *, drop_event_ts: bool = True) -> pa.Table:
    """The rows of a lookup as an Arrow table, column by column."""
    rows = cursor.fetchall()
    columns = list(zip(*rows)) if rows else [() for _ in cursor.description]
    arrays, names = [], []
    for desc, values in zip(cursor.description, columns):
        if drop_event_ts and desc.name.endswith("__event_ts"):
            continue
        names.append(desc.name)
        arrays.append(_array(values, desc.type_code))
    return pa.Table.from_arrays(arrays, names=names)


def _as_list(value: Any) -> list[float] | None:
    # pgvector's adapter returns Vector objects (or numpy arrays): Arrow wants lists.
    if value is None:
        return None
    if hasattr(value, "to_list"):
        return value.to_list()
    return value.tolist()


def _array(values, oid: int) -> pa.Array:
    sample = next((v for v in values if v is not None), None)
    if sample is not None and (hasattr(sample, "to_list") or hasattr(sample, "tolist")):
        return pa.array([_as_list(v) for v in values], pa.list_(pa.float32()))
    target = _ARROW_BY_OID.get(oid)
    try:
        return pa.array(values, target) if target is not None else pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(values)




def nearest(conn: psycopg.Connection, view: str, feature: str, vector: Sequence[float], k: int,
            filters: dict[str, Any] | None) -> pa.Table:
    """The k entities nearest to ``vector`` (keys, distance, features), one round trip."""
    import re

    from fspg.errors import NotFound

    row = conn.execute(Q.vector_dimension, {"view": view, "feature": feature}).fetchone()
    if row is None or row[0] is None:
        raise NotFound(f"{feature} is not a vector feature of {view}")
    values = [float(v) for v in vector]
    if len(values) != row[0]:
        raise InvalidArgument(f"query vector has {len(values)} dimensions, {view}.{feature} has {row[0]}")
    filters = filters or {}
    query = conn.execute(Q.nearest_query, {"view": view, "feature": feature, "k": k,
                                         "filters": list(filters)}).fetchone()[0]
    # $1 (the query vector) appears twice: name the placeholders.
    query = re.sub(r"\$(\d+)", lambda m: f"%(p{m.group(1)})s", query.replace("%", "%%"))
    params = {"p1": "[" + ",".join(repr(v) for v in values) + "]"}
    params.update({f"p{i}": v for i, v in enumerate(filters.values(), start=2)})
    return to_arrow(conn.execute(query, params, prepare=True))
