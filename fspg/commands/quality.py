"""``fspg stats``, ``compare``, ``skew``: what the data looks like and how it drifts."""
from __future__ import annotations

import datetime as dt
from typing import Any

import click

from fspg.commands.common import MOMENT, emit_rows, json_option, store

_DRIFT_COLUMNS = ["feature", "change", "psi", "mean_shift", "null_rate_delta", "drifted", "reasons"]
_CHECK = click.option("--check", is_flag=True, help="Exit 3 when a feature crosses its drift thresholds.")


def _emit_drift(ctx: click.Context, rows: list[dict[str, Any]], as_json: bool, check: bool) -> None:
    emit_rows(rows, as_json, _DRIFT_COLUMNS)
    if check and any(r["drifted"] for r in rows):
        ctx.exit(3)


@click.command()
@click.argument("view")
@click.argument("base", type=int)
@click.argument("new", type=int)
@click.option("--start", type=MOMENT, help="First event time compared (default: the range both versions cover).")
@click.option("--end", type=MOMENT, help="Last event time compared.")
@_CHECK
@json_option
@click.pass_context
def compare(ctx: click.Context, view: str, base: int, new: int, start: dt.datetime | None, end: dt.datetime | None,
            check: bool, as_json: bool) -> None:
    """Drift of version NEW of VIEW against BASE, per feature: schema, PSI, mean shift, null rate."""
    with store(ctx) as fs:
        rows = fs.compare_versions(view, base, new, start=start, end=end)
    _emit_drift(ctx, rows, as_json, check)


@click.command()
@click.argument("view")
@click.option("--start", type=MOMENT, help="First event time of history compared.")
@click.option("--end", type=MOMENT, help="Last event time of history compared.")
@_CHECK
@json_option
@click.pass_context
def skew(ctx: click.Context, view: str, start: dt.datetime | None, end: dt.datetime | None, check: bool,
         as_json: bool) -> None:
    """Training/serving skew of VIEW[@V]: history against what the online table serves now."""
    with store(ctx) as fs:
        rows = fs.training_serving_skew(view, start=start, end=end)
    _emit_drift(ctx, rows, as_json, check)


@click.command()
@click.argument("view")
@click.option("--start", type=MOMENT, help="First event time (inclusive).")
@click.option("--end", type=MOMENT, help="Last event time (inclusive).")
@click.option("--online", is_flag=True, help="Measure what the online table serves instead of history.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects (with quantiles and histograms).")
@click.pass_context
def stats(ctx: click.Context, view: str, start: dt.datetime | None, end: dt.datetime | None, online: bool,
          as_json: bool) -> None:
    """Compute and store statistics of every feature of VIEW[@V]."""
    with store(ctx) as fs:
        rows = fs.compute_stats(view, start, end, source="online" if online else "history")
    emit_rows(rows, as_json, ["feature", "row_count", "nulls", "min", "max", "mean", "stddev", "median", "distinct_count"])


COMMANDS = (compare, skew, stats)
