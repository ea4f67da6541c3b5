"""Feast's feature-server shapes, so a client written for ``feast serve`` can call fspg.

Request (``POST /get-online-features``)::

    {"features": ["driver_stats:conv_rate"] | "feature_service": "driver_activity",
     "entities": {"driver_id": [1001, 1002]}, "full_feature_names": false}

Response: one result per column, entity keys first, each with one value, status and
event time per entity::

    {"metadata": {"feature_names": ["driver_id", "conv_rate"]},
     "results": [{"values": [1001, 1002], "statuses": ["PRESENT", "PRESENT"],
                  "event_timestamps": ["1970-01-01T00:00:00Z", ...]}, ...]}

Statuses: PRESENT; NOT_FOUND (the entity has no row in the view); OUTSIDE_MAX_AGE (a row
older than the view's TTL, value null); NULL_VALUE (a row whose value is null). A
feature reference ``view:feature`` is fspg's ``view.feature``. ``POST /push`` takes
``{"push_source_name": VIEW, "df": {column: [values]}, "to": ...}``: fspg has no push
sources, a push names the feature view, and every push goes to history and online in one
transaction whatever ``to`` says.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from fspg.errors import InvalidArgument
from fspg.online import LookupColumn

EPOCH = "1970-01-01T00:00:00Z"


def is_feast_request(body: dict[str, Any]) -> bool:
    """Whether a lookup body is in Feast's form (else fspg's own)."""
    if "feature_service" in body or "full_feature_names" in body:
        return True
    features = body.get("features")
    return isinstance(features, list) and any(isinstance(f, str) and ":" in f for f in features)


def feature_refs(features: Any) -> list[str]:
    """Feast references (``view:feature``) as fspg's (``view.feature``)."""
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        raise InvalidArgument("features must be a non-empty list of references such as driver_stats:conv_rate")
    return [f.replace(":", ".", 1) if ":" in f else f for f in features]


def response(key_names: Sequence[str], columns: list[LookupColumn], names: Sequence[str],
             rows: list[tuple[Any, ...]], *, full_feature_names: bool, now: dt.datetime) -> dict[str, Any]:
    """Feast's response for a lookup's rows (``names``: the result's column names)."""
    position = {name: i for i, name in enumerate(names)}
    results = []
    for key in key_names:
        i = position[key]
        results.append({"values": [json_value(r[i]) for r in rows], "statuses": ["PRESENT"] * len(rows),
                        "event_timestamps": [EPOCH] * len(rows)})
    # A view's event time is shared by all its features: written as text once per view.
    stamps = {name: [_timestamp(r[position[name]]) for r in rows] for name in {c.event_ts_column for c in columns}}
    for col in columns:
        i, t = position[col.column], position[col.event_ts_column]
        results.append({"values": [json_value(r[i]) for r in rows],
                        "statuses": [_status(r[i], r[t], col.ttl_seconds, now) for r in rows],
                        "event_timestamps": stamps[col.event_ts_column]})
    feature_names = list(key_names) + [f"{c.view}__{c.feature}" if full_feature_names else c.column for c in columns]
    return {"metadata": {"feature_names": feature_names}, "results": results}


def push_rows(body: dict[str, Any]) -> tuple[str, Any]:
    """The view and events of a Feast push body."""
    view, df = body.get("push_source_name"), body.get("df")
    if not isinstance(view, str) or not isinstance(df, dict):
        raise InvalidArgument("a Feast push needs push_source_name (the feature view) and df (columns of values)")
    return view, df


def _status(value: Any, event_ts: dt.datetime | None, ttl: float | None, now: dt.datetime) -> str:
    if event_ts is None:
        return "NOT_FOUND"
    if value is not None:
        return "PRESENT"
    if ttl is not None and not (now - dt.timedelta(seconds=ttl) < event_ts <= now):
        return "OUTSIDE_MAX_AGE"
    return "NULL_VALUE"


def _timestamp(value: dt.datetime | None) -> str:
    if value is None:
        return EPOCH
    if value.utcoffset() != dt.timedelta(0):
        value = value.astimezone(dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value.microsecond else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def json_value(value: Any) -> Any:
    """A database value as JSON can carry it (times as ISO 8601, vectors as lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "to_list"):
        return value.to_list()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return value
    return str(value)  # Decimal, UUID: their text keeps every digit
