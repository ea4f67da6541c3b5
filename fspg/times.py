"""Moments as users write them, read one way everywhere (Python arguments and the CLI).

``utc`` takes a datetime (naive = UTC), a date (its midnight, UTC), or text: ISO 8601
(``2026-11-01T12:00``, ``2026-11-01``, a trailing ``Z`` or an offset), ``now``,
``today``, ``yesterday`` (UTC midnights), or a moment relative to now (``-2d``, ``-3h``,
``-15m``, ``+30s``, ``-1w``). Anything else is an InvalidArgument naming what is accepted.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fspg.errors import InvalidArgument

_RELATIVE = re.compile(r"^([+-])\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
ACCEPTED = "ISO 8601 (2026-11-01T12:00, 2026-11-01), now, today, yesterday, or relative: -2d, -3h, -15m"


def utc(value: Any) -> dt.datetime | None:
    """``value`` as an aware datetime in UTC (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = _parse(value)
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if not isinstance(value, dt.datetime):
        raise InvalidArgument(f"expected a moment, got {value!r}", hint=f"write {ACCEPTED}")
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _parse(text: str) -> dt.datetime:
    word = text.strip().lower()
    now = dt.datetime.now(dt.timezone.utc)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if word == "now":
        return now
    if word == "today":
        return midnight
    if word == "yesterday":
        return midnight - dt.timedelta(days=1)
    relative = _RELATIVE.match(word)
    if relative:
        sign, amount, unit = relative.groups()
        delta = dt.timedelta(**{_UNITS[unit]: float(amount)})
        return now + delta if sign == "+" else now - delta
    try:
        # (Python 3.10's fromisoformat does not read a trailing Z.)
        return dt.datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", text.strip()))
    except ValueError:
        raise InvalidArgument(f"cannot read {text!r} as a moment", hint=f"write {ACCEPTED}") from None
