"""Printing results for people (aligned tables) and for programs (--json)."""
from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

import click


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as a plain aligned text table with a header line."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def emit_json(value: Any) -> None:
    """Print a value as JSON (dates as ISO strings)."""
    click.echo(json.dumps(value, indent=2, default=str))
