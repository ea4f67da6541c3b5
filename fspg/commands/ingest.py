"""``fspg ingest``, ``batches``, ``quarantine``, ``maintain``, ``forget``: the write path."""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import click

from fspg.commands.common import MOMENT, emit_one, emit_rows, entities, json_option, key_option, store


class Tolerance(click.ParamType):
    """--max-quarantined: a count of rows (100), or a percentage (1.5%) kept as a fraction."""

    name = "N|P%"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float | int:
        if isinstance(value, (int, float)):
            return value
        text = str(value)
        try:
            number = float(text.rstrip("%")) / 100 if text.endswith("%") else int(text)
        except ValueError:
            self.fail(f"a count (100) or a percentage (1.5%), got {text!r}", param, ctx)
        if number < 0 or (text.endswith("%") and number >= 1):
            self.fail(f"a count >= 0 or a percentage below 100%, got {text!r}", param, ctx)
        return number


def _result_line(result: Any, label: str) -> str:
    if result.path == "existing":
        return (f"{label}already ingested as batch {result.batch_id} -> {result.feature_view}@{result.version}:"
                f" {result.rows_in:,} rows in, {result.inserted:,} inserted, {result.quarantined:,} quarantined;"
                " nothing written (--again ingests it anyway)")
    unchanged = f", {result.unchanged:,} unchanged" if result.unchanged else ""
    lines = [f"{label}batch {result.batch_id} -> {result.feature_view}@{result.version}: {result.rows_in:,} rows in,"
             f" {result.inserted:,} inserted, {result.quarantined:,} quarantined{unchanged}"
             f" ({result.seconds:.2f}s, {result.rows_per_second:,.0f} rows/s)"]
    lines += [f"  {count:>10,}  {reason}" for reason, count in sorted(result.reasons.items(), key=lambda kv: -kv[1])]
    return "\n".join(lines)


def _result_row(result: Any, **extra: Any) -> dict[str, Any]:
    return {**extra, **dataclasses.asdict(result), "seconds": round(result.seconds, 3)}


@click.command()
@click.argument("name")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--mode", type=click.Choice(["quarantine", "strict"]), default="quarantine", show_default=True,
              help="quarantine keeps good rows and sets bad ones aside; strict writes nothing if a row is bad.")
@click.option("--timestamp", type=MOMENT, help="event_ts for every row when the file has no event_ts column"
              " (ISO 8601, naive = UTC; now, yesterday, -2h).")
@click.option("--batch-key", help="Key of the batch (one file), instead of the file's content hash.")
@click.option("--again", is_flag=True, help="Ingest even a file whose content is on record already (no batch key).")
@click.option("--max-quarantined", type=Tolerance(), help="Fail a file (nothing written) when more than N rows,"
              " or P% of them, are bad.")
@click.option("--skip-unchanged", is_flag=True, help="Count rows history already holds (same entity, moment and values) as unchanged.")
@json_option
@click.pass_context
def ingest(ctx: click.Context, name: str, files: tuple[str, ...], mode: str, timestamp: dt.datetime | None,
           batch_key: str | None, again: bool, max_quarantined: float | None, skip_unchanged: bool, as_json: bool) -> None:
    """Ingest Parquet, CSV or JSON Lines FILES into feature view NAME (or NAME@V); one batch per file.

    A file whose content was ingested into the same view version before is not ingested
    again: its first batch is reported (retries are safe). --again turns that off."""
    from fspg.files import content_key, open_source
    from fspg.output import emit_json
    from fspg.progress import Progress

    if batch_key and len(files) > 1:
        raise click.UsageError("--batch-key names one batch: give one file")
    # One moment for every file, part of each file's content key (same file, same moment:
    # same batch).
    stamp = timestamp.isoformat() if timestamp else None
    results = []
    with store(ctx) as fs:
        for path in files:
            source, total = open_source(path)
            key = None if again else batch_key or content_key(path, stamp)
            with Progress(path, total) as progress:
                result = fs.insert_batch(name, source, timestamp=timestamp, mode=mode, batch_key=key,
                                         max_quarantined=max_quarantined, progress=progress,
                                         skip_unchanged=skip_unchanged)
            results.append(_result_row(result, file=path))
            if not as_json:
                click.echo(_result_line(result, f"{path}: "))
    if as_json:
        emit_json(results)


@click.command()
@click.option("--view", help="Only batches of this feature view.")
@click.option("--limit", type=int, default=20, show_default=True)
@json_option
@click.pass_context
def batches(ctx: click.Context, view: str | None, limit: int, as_json: bool) -> None:
    """The ingest log, newest first: rows in, inserted, quarantined, who and when."""
    with store(ctx) as fs:
        rows = fs.batches(view, limit=limit)
    emit_rows(rows, as_json, ["batch_id", "feature_view", "version", "mode", "rows_in", "inserted", "quarantined",
                              "seconds", "created_by", "finished_at"], "no batches yet")


@click.group()
def quarantine() -> None:
    """Rows that ingests set aside: list, show, replay after a fix."""


@quarantine.command(name="ls")
@click.option("--view", help="Only this feature view.")
@json_option
@click.pass_context
def quarantine_ls(ctx: click.Context, view: str | None, as_json: bool) -> None:
    """Quarantined rows per batch, with the rules they broke and how many still wait for a replay."""
    with store(ctx) as fs:
        rows = fs.quarantine(name=view)
    emit_rows(rows, as_json, ["batch_id", "feature_view", "version", "rows", "waiting", "reasons"], "quarantine is empty")


@quarantine.command(name="show")
@click.argument("batch_id", type=int)
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@click.pass_context
def quarantine_show(ctx: click.Context, batch_id: int, limit: int, as_json: bool) -> None:
    """The quarantined rows of one batch as they arrived, with the rules each broke."""
    with store(ctx) as fs:
        rows = fs.quarantine(batch_id, limit=limit)
    emit_rows(rows, as_json, ["row_number", "reasons", "data", "replayed_batch_id"],
              f"batch {batch_id} has no quarantined rows")


@quarantine.command(name="replay")
@click.argument("batch_id", type=int)
@click.option("--into", help="view or view@V to replay into (default: the view's current version).")
@click.option("--mode", type=click.Choice(["quarantine", "strict"]), default="quarantine", show_default=True)
@json_option
@click.pass_context
def quarantine_replay(ctx: click.Context, batch_id: int, into: str | None, mode: str, as_json: bool) -> None:
    """Re-validate a batch's quarantined rows (after a fix) as a new batch; rows still bad stay quarantined."""
    with store(ctx) as fs:
        result = fs.replay_quarantine(batch_id, into=into, mode=mode)
    emit_one(_result_row(result, replayed_batch_id=batch_id), as_json,
             _result_line(result, f"replay of batch {batch_id}: "))


@click.command()
@click.option("--ahead", type=int, default=2, show_default=True, help="Partition periods to create ahead of now.")
@click.option("--schedule", "cron", metavar="CRON", help="Instead: register maintenance as a pg_cron job, e.g. '*/5 * * * *'.")
@json_option
@click.pass_context
def maintain(ctx: click.Context, ahead: int, cron: str | None, as_json: bool) -> None:
    """Partition upkeep and retention for every active feature view version, then the due
    refreshes of SQL-defined views (cron it, or --schedule it in pg_cron)."""
    with store(ctx) as fs:
        if cron:
            job = fs.schedule(cron)
            emit_one({"job": job, "schedule": cron}, as_json,
                     f"pg_cron job fspg-maintain ({job}) runs fs.maintain() and fs.run_due_sources() at '{cron}'")
            return
        rows = fs.maintain(ahead=ahead)
        refreshed = fs.run_due_sources()
    if as_json:
        emit_rows([{"task": "partitions", **r} for r in rows] + [{"task": "refresh", **r} for r in refreshed], True)
        return
    emit_rows(rows, False, ["feature_view", "version", "partitions_created", "partitions_dropped",
                            "default_rows_moved", "rows_expired"])
    if refreshed:
        click.echo("due refreshes:")
        emit_rows(refreshed, False, ["feature_view", "version", "window_start", "window_end", "inserted", "quarantined",
                                     "error"])


@click.command()
@click.argument("name")
@key_option("The entity to erase, KEY=VALUE per key column (KEY=V1,V2 erases several): --key user_id=42")
@click.option("--reason", help="Why (kept in fs.erasure_log).")
@json_option
@click.pass_context
def forget(ctx: click.Context, name: str, keys: tuple[tuple[str, list[str]], ...], reason: str | None,
           as_json: bool) -> None:
    """Erase entities from every version of feature view NAME: fspg forget user_stats --key user_id=42."""
    columns = entities(keys)
    rows = []
    with store(ctx) as fs:
        for values in zip(*columns.values()):
            entity = dict(zip(columns, values))
            deleted = fs.forget(name, entity, reason=reason)
            rows.append({"feature_view": name, "entity": entity, "history_rows_deleted": deleted})
    if as_json:
        emit_rows(rows, True)
        return
    for row in rows:
        click.echo(f"erased {row['entity']} from {name}: {row['history_rows_deleted']:,} history rows deleted;"
                   " online values, quarantined rows and stored training-set spine rows too"
                   " (what went where: fs.erasure_log.removed)")


COMMANDS = (ingest, batches, quarantine, maintain, forget)
