"""Events for ``fs.push``: whatever shape a caller has, as the JSON array of objects the
SQL function takes.

Values are sent as JSON and parsed by the server per row (a value that does not parse
quarantines its row as ``<column>__type``), so nothing here judges them; this only
changes shape. Naive datetimes are UTC, as everywhere in fspg.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from typing import Any, Mapping, Sequence

from fspg.errors import InvalidArgument
from fspg.times import utc

#: events in one push; more belong in insert_batch (COPY) or several pushes
MAX_EVENTS = 10_000


def as_rows(events: Any, timestamp: Any = None) -> list[dict[str, Any]]:
    """Events as a list of dicts: from a list of dicts, one dict of columns (Feast's
    ``df`` form) or one event. ``timestamp`` becomes the event_ts of events without one."""
    if isinstance(events, Mapping):
        values = list(events.values())
        if values and all(isinstance(v, (list, tuple)) for v in values):
            lengths = {len(v) for v in values}
            if len(lengths) > 1:
                raise InvalidArgument(f"event columns have different lengths: {sorted(lengths)}")
            names = list(events)
            rows = [dict(zip(names, row)) for row in zip(*values)]
        else:
            rows = [dict(events)]
    elif isinstance(events, Sequence) and not isinstance(events, (str, bytes)):
        rows = list(events)
        if not all(isinstance(r, Mapping) for r in rows):
            raise InvalidArgument("events must be dicts of column: value")
        rows = [dict(r) for r in rows]
    else:
        raise InvalidArgument("events must be a list of dicts, a dict of columns or one dict")
    if not rows:
        raise InvalidArgument("no events to push")
    if len(rows) > MAX_EVENTS:
        raise InvalidArgument(f"{len(rows):,} events in one push; the limit is {MAX_EVENTS:,}",
                              hint="use insert_batch for bulk loads")
    if timestamp is not None:
        moment = utc(timestamp)
        for row in rows:
            row.setdefault("event_ts", moment)
    return rows


def dumps(rows: list[dict[str, Any]]) -> str:
    """The events as JSON text; datetimes as ISO 8601 (naive = UTC). JSON has no NaN or
    infinity: those floats go as the text PostgreSQL reads as them."""
    return json.dumps([{k: _finite(v) for k, v in row.items()} for row in rows], default=_json_value, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return utc(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if hasattr(value, "to_list"):  # pgvector's Vector
        return value.to_list()
    raise TypeError(f"cannot send {type(value).__name__} as an event value")
