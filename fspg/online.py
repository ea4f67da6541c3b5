"""Online lookups: several views' latest values for a batch of entities, one round trip.

A feature service is served by its generated function ``fs_serving.<service>(keys[]…)``;
a list of feature references by the query ``fs.online_query`` writes for it. Either way
the statement is prepared once per pooled connection (psycopg keeps it by its text) and
takes one array per key column, so 1 or 10,000 entities cost one round trip.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class OnlineStatement:
    """A prepared lookup: its SQL, the key columns it takes, in order, with their dtypes.

    ``columns`` (names and type OIDs of the result) is filled by the first lookup: a
    prepared statement's result shape never changes, and reading it from each result
    cost more than the lookup's own round trip.
    """

    query: str
    key_names: tuple[str, ...]
    key_types: tuple[str, ...]
    columns: tuple[tuple[str, int], ...] = field(default=(), compare=False)
    arrow_type: pa.StructType | None = field(default=None, compare=False)
    #: positions of the columns that are not ``<view>__event_ts``
    value_positions: tuple[int, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Request:
    """What a lookup asks for, names resolved: feature references or a service (and version)."""

    features: tuple[str, ...] | None
    service: str | None
    version: int | None

    def columns_sql(self) -> tuple[str, dict[str, Any]]:
        """The catalog statement (and its parameters) that describes this request's features."""
        return Q.lookup_columns, {"refs": list(self.features) if self.features else None,
                                  "service": self.service, "version": self.version}

    def statement_sql(self) -> tuple[str, dict[str, Any]]:
        """The catalog statement (and its parameters) that writes this request's lookup."""
        if self.features:
            return Q.online_query, {"refs": list(self.features)}
        return Q.service_statement, {"service": self.service, "version": self.version}


@dataclass(frozen=True)
class LookupColumn:
    """One feature of a lookup's result (fs.lookup_columns): where its value and its view's
    event time are, and the view's TTL in seconds (None: values never expire)."""

    column: str
    view: str
    feature: str
    ttl_seconds: float | None
    event_ts_column: str


def request(features: Sequence[str] | None, service: str | None, service_version: int | None,
            model: str | None) -> tuple[str | None, Request | None]:
    """Check a lookup's arguments (exactly one of features, service, model). Returns the
    model name when a model is asked for (its references come from the catalog), else the
    request itself."""
    from fspg.catalog import split_ref

    if sum(x is not None for x in (features, service, model)) != 1:
        raise InvalidArgument("name exactly one of features, service or model")
    if model is not None:
        return model, None
    if service is not None:
        service, service_version = split_ref(service, service_version)
    return None, Request(tuple(features) if features else None, service, service_version)


def statement_from_row(query: str, names: Sequence[str], types: Sequence[str]) -> OnlineStatement:
    """The lookup statement from what fs.online_query or fs.service_statement return."""
    import re

    # The SQL uses $1..$n (as in the generated functions), on Citus each key more than
    # once; psycopg wants named placeholders, which it sends once each.
    return OnlineStatement(re.sub(r"\$(\d+)", lambda m: f"%(k{m.group(1)})s", query.replace("%", "%%")),
                           tuple(names), tuple(types))


def parameters(arrays: list[list[Any]]) -> dict[str, list[Any]]:
    """The key arrays as the statement's parameters ($1 is k1)."""
    return {f"k{i}": array for i, array in enumerate(arrays, 1)}


def wrong_key_types(statement: OnlineStatement, err: psycopg.Error) -> InvalidArgument:
    """The error for keys the server could not read as the statement's key types."""
    expected = ", ".join(f"{n} {t}" for n, t in zip(statement.key_names, statement.key_types))
    return InvalidArgument(f"entity keys of the wrong type: {err.diag.message_primary}", hint=f"keys are {expected}")


#: errors of keys that do not parse as their type
KEY_TYPE_ERRORS = (psycopg.errors.InvalidTextRepresentation, psycopg.errors.NumericValueOutOfRange,
                   psycopg.errors.CannotCoerce, psycopg.errors.DatatypeMismatch)


def remember_shape(statement: OnlineStatement, cursor: Any) -> None:
    """Note the result's columns on the statement after its first run (see OnlineStatement)."""
    if not statement.columns:
        statement.columns = tuple((d.name, d.type_code) for d in cursor.description or ())
        statement.arrow_type = _struct_type(statement.columns)
        statement.value_positions = tuple(i for i, (name, _) in enumerate(statement.columns)
                                          if not name.endswith("__event_ts"))


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


def lookup(conn: psycopg.Connection, statement: OnlineStatement, arrays: list[list[Any]]) -> list[tuple[Any, ...]]:
    """Run a prepared lookup and return its rows; wrong key types become InvalidArgument."""
    try:
        cursor = conn.execute(statement.query, parameters(arrays), prepare=True)
    except KEY_TYPE_ERRORS as err:
        raise wrong_key_types(statement, err) from err
    remember_shape(statement, cursor)
    return cursor.fetchall()


def shape(statement: OnlineStatement, rows: list[tuple[Any, ...]], *, as_dicts: bool,
          with_event_ts: bool) -> "pa.Table | list[dict[str, Any]]":
    """A lookup's rows as the caller asked: a table, or with ``as_dicts`` a list of dicts."""
    if as_dicts:
        return to_dicts(statement, rows, drop_event_ts=not with_event_ts)
    return to_arrow(statement, rows, drop_event_ts=not with_event_ts)


def to_dicts(statement: OnlineStatement, rows: list[tuple[Any, ...]], *, drop_event_ts: bool = True) -> list[dict[str, Any]]:
    """The rows of a lookup as one dict per entity (the cheapest form to build)."""
    names = [name for name, _ in statement.columns]
    keep = statement.value_positions
    if drop_event_ts and len(keep) < len(names):
        return [{names[i]: row[i] for i in keep} for row in rows]
    return [dict(zip(names, row)) for row in rows]


def to_arrow(statement: OnlineStatement, rows: list[tuple[Any, ...]], *, drop_event_ts: bool = True) -> pa.Table:
    """The rows of a lookup as an Arrow table.

    When every column's type is known from its OID, the rows convert in one call as a
    struct array (a third of the cost of converting column by column); vectors, JSON
    and other types go column by column, each inferring its type.
    """
    struct = statement.arrow_type
    table = None
    if struct is not None:
        try:
            table = pa.Table.from_batches([pa.RecordBatch.from_struct_array(pa.array(rows, struct))])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            table = None  # a value the fixed type does not hold (a NUMERIC's Decimal, say)
    if table is None:
        columns = list(zip(*rows)) if rows else [() for _ in statement.columns]
        table = pa.Table.from_arrays([_array(values, oid) for (_, oid), values in zip(statement.columns, columns)],
                                     names=[name for name, _ in statement.columns])
    if drop_event_ts and len(statement.value_positions) < table.num_columns:
        table = table.select(list(statement.value_positions))
    return table


def _struct_type(columns: tuple[tuple[str, int], ...]) -> pa.StructType | None:
    # NUMERIC comes back as Decimal, which a float64 field refuses; two result columns of
    # one name cannot be struct fields. Both go column by column.
    names = [name for name, _ in columns]
    if not columns or len(set(names)) != len(names) or any(oid not in _ARROW_BY_OID or oid == 1700 for _, oid in columns):
        return None
    return pa.struct([(name, _ARROW_BY_OID[oid]) for name, oid in columns])


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
    cursor = conn.execute(query, params, prepare=True)
    columns = tuple((d.name, d.type_code) for d in cursor.description or ())
    shape = OnlineStatement(query, (), (), columns, _struct_type(columns), tuple(range(len(columns))))
    return to_arrow(shape, cursor.fetchall(), drop_event_ts=False)
