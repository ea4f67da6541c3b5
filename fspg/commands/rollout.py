"""``fspg promote``, ``fspg rollback``, ``fspg backfill``, ``fspg rollout``: staged versions."""
from __future__ import annotations

import click

import datetime as dt
from typing import Any

from fspg.commands.common import MOMENT, emit_rows, json_option, store


@click.command()
@click.argument("ref", metavar="VIEW@N")
@click.option("--force", is_flag=True, help="Promote even if not (fully) backfilled or its online table is empty.")
@json_option
@click.pass_context
def promote(ctx: click.Context, ref: str, force: bool, as_json: bool) -> None:
    """Serve VIEW@N from now on: online view, unpinned reads and services that follow the
    view switch in one transaction; the version served until now stays written."""
    with store(ctx) as fs:
        switch = fs.promote(ref, force=force)
    _echo_switch(switch, as_json)


@click.command()
@click.argument("view")
@json_option
@click.pass_context
def rollback(ctx: click.Context, view: str, as_json: bool) -> None:
    """Serve the version VIEW served before its last promote again (nothing written since is lost)."""
    with store(ctx) as fs:
        switch = fs.rollback(view)
    _echo_switch(switch, as_json)


@click.command()
@click.argument("ref", metavar="VIEW@N")
@click.option("--from", "from_version", type=int, help="Version to copy from (default: the one serving).")
@click.option("--start", type=MOMENT, help="Only event times from here (inclusive), e.g. 2026-01-01.")
@click.option("--end", type=MOMENT, help="Only event times before here.")
@json_option
@click.pass_context
def backfill(ctx: click.Context, ref: str, from_version: int | None, start: dt.datetime | None, end: dt.datetime | None,
             as_json: bool) -> None:
    """Fill staged VIEW@N from another version's history through N's rules, one partition
    period per transaction (run again to resume), then rebuild its online table."""
    def progress(step: Any) -> None:
        if not as_json and step.periods:
            click.echo(f"{ref}: {step.periods_done}/{step.periods} periods, {step.rows_read:,} rows read,"
                       f" {step.inserted:,} inserted, {step.quarantined:,} quarantined", err=True)

    with store(ctx) as fs:
        step = fs.backfill(ref, from_version=from_version, start=start, end=end, on_step=progress)
    if as_json:
        from fspg.output import emit_json

        emit_json([step.as_dict() | {"version": ref}])
        return
    click.echo(f"{ref} backfilled: {step.rows_read:,} rows read, {step.inserted:,} inserted,"
               f" {step.quarantined:,} quarantined; promote it with: fspg promote {ref}")


@click.command()
@click.argument("view", required=False)
@json_option
@click.pass_context
def rollout(ctx: click.Context, view: str | None, as_json: bool) -> None:
    """Every version (of VIEW, or all) with its stage: promoted, staged, previous, retired."""
    with store(ctx) as fs:
        rows = fs.rollout_status(view)
    emit_rows(rows, as_json, ["feature_view", "version", "stage", "backfill_progress", "backfill_inserted",
                              "backfill_quarantined", "promoted_at"], "no feature views yet")


def _echo_switch(switch: Any, as_json: bool) -> None:
    if as_json:
        from fspg.output import emit_json

        emit_json([switch.as_dict()])
        return
    moved = f"; services now {', '.join(switch.services)}" if switch.services else ""
    click.echo(f"{switch.feature_view}: serving {switch.to_version} (was {switch.from_version}){moved}")


COMMANDS = (promote, rollback, backfill, rollout)
