"""``fspg materialize``: keeping SQL-defined views and online tables up to date."""
from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

import click

from fspg.commands.common import MOMENT, emit_rows, json_option, store
from fspg.results import OnlineRebuild


@click.command()
@click.argument("name", required=False)
@click.option("--start", type=MOMENT, help="Window start (event time, inclusive). Default: the view's high-water mark.")
@click.option("--end", type=MOMENT, help="Window end (exclusive). Default: now.")
@click.option("--chunk", help="Split the range into windows of this size, e.g. '1 day' (resumable backfill).")
@click.option("--online", "online_only", is_flag=True, help="Only rebuild NAME's online table from its history.")
@click.option("--loop", is_flag=True, help="Run due refreshes of every SQL-defined view, forever.")
@click.option("--every", type=float, default=60.0, show_default=True, help="Seconds between --loop rounds.")
@click.option("--rounds", type=int, help="Stop --loop after this many rounds (default: never).")
@json_option
@click.pass_context
def materialize(ctx: click.Context, name: str | None, start: dt.datetime | None, end: dt.datetime | None,
                chunk: str | None, online_only: bool, loop: bool, every: float, rounds: int | None, as_json: bool) -> None:
    """Bring NAME up to date: run a SQL-defined view's source query for a window (appending
    through the validated write path; re-running a window adds only what changed), or
    rebuild a view's online table from its history."""
    from fspg.errors import UserError

    if loop:
        _loop(ctx, every, rounds, as_json)
        return
    if not name:
        raise UserError("name a feature view, or use --loop")
    echo = (lambda row: None) if as_json else _echo_step  # noqa: E731
    with store(ctx) as fs:
        if online_only:
            rows = [fs.rebuild_online(name)]
            echo(rows[0])
        else:
            rows = list(fs.materialize(name, start, end, chunk=chunk, on_window=echo))
            for row in rows:
                if isinstance(row, OnlineRebuild):
                    echo(row)
    if as_json:
        emit_rows(rows, True)


def _echo_step(row: Any) -> None:
    if isinstance(row, OnlineRebuild):
        click.echo(f"{row['feature_view']}@{row['version']}: {row['entities']:,} online rows written,"
                   f" {row['removed']:,} stale rows removed")
        return
    click.echo(f"{row['feature_view']}@{row['version']} [{row['window_start']}, {row['window_end']}):"
               f" {row['rows_in']:,} rows from the source, {row['unchanged']:,} unchanged, {row['inserted']:,} inserted,"
               f" {row['quarantined']:,} quarantined (batch {row['batch_id']})")


def _loop(ctx: click.Context, every: float, rounds: int | None, as_json: bool) -> None:
    """Due refreshes, round after round; with --json one JSON list per round."""
    with store(ctx) as fs:
        for round_number in itertools.count(1):
            rows = fs.run_due_sources()
            if as_json:
                emit_rows(rows, True)
            for row in [] if as_json else rows:
                if row["error"]:
                    click.echo(f"{row['feature_view']}@{row['version']}: failed: {row['error']}", err=True)
                else:
                    click.echo(f"{row['feature_view']}@{row['version']} [{row['window_start']}, {row['window_end']}):"
                               f" {row['inserted']:,} inserted, {row['quarantined']:,} quarantined")
            if rounds is not None and round_number >= rounds:
                return
            time.sleep(every)


COMMANDS = (materialize,)
