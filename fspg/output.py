"""Printing results: tables for people (rich, fitted to the terminal) and JSON for programs.

Every ``--json`` prints a list of objects, also for commands that report one thing, so a
script reads every command the same way (``jq '.[0].rows'``). Floats in tables show at
most four decimals; JSON keeps them whole. Off a terminal (a pipe, a file, a test) tables
are plain aligned text at full width, so ``grep`` and ``awk`` see whole cells.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import math
import sys
from typing import Any, Iterable, Sequence

import click

_TABLE_WIDTH_OFF_TERMINAL = 10_000


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as an aligned text table with a header line (fitted to the terminal's width)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    rows = [_as_dict(row) for row in rows]
    on_terminal = sys.stdout.isatty()
    grid = Table(box=box.SIMPLE_HEAD if on_terminal else None, show_edge=False, pad_edge=False,
                 header_style="bold" if on_terminal else "", collapse_padding=True)
    for column in columns:
        grid.add_column(column, overflow="ellipsis" if on_terminal else "fold", no_wrap=not on_terminal)
    for row in rows:
        grid.add_row(*(cell(row.get(c)) for c in columns))
    buffer = io.StringIO()
    console = Console(file=buffer, width=None if on_terminal else _TABLE_WIDTH_OFF_TERMINAL,
                      force_terminal=on_terminal, color_system="standard" if on_terminal else None,
                      highlight=False, soft_wrap=False)
    console.print(grid)
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())


def cell(value: Any) -> str:
    """One value as a table shows it: '-' for NULL, floats to four decimals, JSON for lists."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if abs(value) >= 1e15 or (value != 0 and abs(value) < 1e-4):
            return f"{value:.4g}"
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), default=_plain)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _as_dict(value: Any) -> Any:
    """A result dataclass as a dict; anything else as it is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    record = _as_dict(value)
    return record if record is not value else str(value)


def emit_json(value: Any) -> None:
    """Print a list of objects as JSON (a single object becomes a list of one; dates as ISO 8601)."""
    if isinstance(_as_dict(value), dict):
        value = [value]
    click.echo(json.dumps(value, indent=2, default=_plain))
