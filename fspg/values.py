"""Values that would change or fail on the way to PostgreSQL, found before they are sent.

A cast must never change a value silently (float8 1e300 into a float4 feature is not
inf; a timestamp in milliseconds beyond what microseconds hold does not wrap around to
another year), and one odd value must not fail a whole batch with an error nobody can
map to a row. Two remedies, chosen per case so that the Arrow and CSV paths quarantine
the same rows with the same reasons:

- a column with a value its cast would change travels as text, and the database parses
  it per row, as for CSV (reason ``<column>__type``): float8 beyond float4, uint64
  beyond bigint (in a one-shot stream, which cannot be looked at twice, such a value is
  replaced and its row marked instead, with the same reason);
- a value the wire cannot carry at all is replaced before sending and its row marked
  with a reason the staging query adds (``fs_reasons``): a NUL byte in text
  (``<column>__nul_byte``; the copy in quarantine shows it as ``\\u0000``), a timestamp
  beyond microseconds (``<column>__type``), JSON nested deeper than the server parses
  (``<column>__depth``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from fspg.arrow import BatchSource

FLOAT4_MAX = 3.4028234663852886e38
INT64_MAX = 2**63 - 1
#: JSON nesting PostgreSQL parses with its default 2MB stack (10,000 works, 50,000 fails)
JSON_DEPTH_LIMIT = 5_000
_PER_MICROSECOND = {"s": 1_000_000, "ms": 1_000}


def text_staged(batches: "BatchSource", dtypes: dict[str, str]) -> dict[str, pa.DataType]:
    """Columns to stage as text because a value would not survive the cast to the
    feature's type (looked at over the whole input, never cut)."""
    found = {}
    for name, dtype in dtypes.items():
        if name not in batches.schema.names:
            continue
        source = batches.schema.field(name).type
        if dtype == "float4" and source == pa.float64():
            lo, hi = batches.column_range(name, finite=True)
            if lo is not None and max(abs(lo), abs(hi)) > FLOAT4_MAX:
                found[name] = pa.string()
        elif dtype in ("bigint", "int") and source == pa.uint64():
            lo, hi = batches.column_range(name)
            if hi is not None and hi > INT64_MAX:
                found[name] = pa.string()
    return found


class RowReasons:
    """Per-row reasons found in one batch, and the arrays fixed so they can be sent."""

    def __init__(self, rows: int):
        self.rows = rows
        self._marks: list[tuple[pa.Array, str]] = []

    def mark(self, mask: pa.Array, reason: str) -> bool:
        """Rows where ``mask`` is true break ``reason``; whether any does."""
        if not pc.any(mask).as_py():
            return False
        self._marks.append((mask, reason))
        return True

    def __bool__(self) -> bool:
        return bool(self._marks)

    def array(self) -> pa.Array:
        """The fs_reasons column: a list of reasons per row, NULL for clean rows."""
        if not self._marks:
            return pa.nulls(self.rows, pa.list_(pa.string()))
        per_row: list[list[str] | None] = [None] * self.rows
        for mask, reason in self._marks:
            for i in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist():
                per_row[i] = (per_row[i] or []) + [reason]
        return pa.array(per_row, pa.list_(pa.string()))


def fix(array: pa.Array, name: str, dtype: str, target: pa.DataType, reasons: RowReasons) -> pa.Array:
    """``array`` with the values the wire cannot carry replaced, their rows marked."""
    t = pa.types
    if t.is_string(array.type) or t.is_large_string(array.type):
        if reasons.mark(pc.match_substring(array, "\x00"), f"{name}__nul_byte"):
            array = pc.replace_substring(array, "\x00", "\\u0000")
        if dtype == "jsonb":
            array = _shallow_json(array, name, reasons)
    elif array.type == pa.float64() and target == pa.float32():
        # (A rewindable input with such values was staged as text: see text_staged.)
        beyond = pc.and_(pc.is_finite(array), pc.greater(pc.abs(array), FLOAT4_MAX))
        if reasons.mark(beyond, f"{name}__type"):
            array = pc.if_else(beyond, pa.scalar(None, array.type), array)
    elif array.type == pa.uint64() and t.is_signed_integer(target):
        beyond = pc.greater(array, INT64_MAX)
        if reasons.mark(beyond, f"{name}__type"):
            array = pc.if_else(beyond, pa.scalar(None, array.type), array)
    elif t.is_timestamp(array.type) and t.is_timestamp(target) and array.type.unit in _PER_MICROSECOND:
        raw = pc.cast(array, pa.int64())
        bound = INT64_MAX // _PER_MICROSECOND[array.type.unit]
        beyond = pc.greater(pc.abs(raw), bound)
        if reasons.mark(beyond, f"{name}__type"):
            array = pc.if_else(beyond, pa.scalar(None, array.type), array)
    return array


def _shallow_json(array: pa.Array, name: str, reasons: RowReasons) -> pa.Array:
    # Depth is at most the number of brackets: only values with many are looked at.
    brackets = pc.add(pc.count_substring(array, "["), pc.count_substring(array, "{"))
    candidates = pc.indices_nonzero(pc.fill_null(pc.greater(brackets, JSON_DEPTH_LIMIT), False)).to_pylist()
    deep = [i for i in candidates if _json_depth(array[i].as_py()) > JSON_DEPTH_LIMIT]
    if not deep:
        return array
    mask = pc.is_in(pa.array(range(len(array))), pa.array(deep))
    reasons.mark(mask, f"{name}__depth")
    return pc.if_else(mask, pa.scalar(None, array.type), array)


def _json_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest
