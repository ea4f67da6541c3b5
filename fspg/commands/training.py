"""``fspg training-set build|create|get|ls|verify``: point-in-time-correct training sets."""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Callable

import click

from fspg.commands.common import MOMENT, emit_one, emit_rows, emit_table, json_option, split, store

_FEATURE_OPTIONS = [
    click.option("--features", help="Comma-separated references: view.feature, view@2.feature, view.*"),
    click.option("--service", help="A feature service's features instead of --features (NAME or NAME@V)."),
    click.option("--model", help="A registered model's pinned features instead (NAME or NAME@V)."),
    click.option("--timestamp-column", default="event_ts", show_default=True, help="The spine's timestamp column."),
    click.option("--as-of", type=MOMENT, help="Only rows the store had learned by this moment (reproducible)."),
]
_OUTPUT = click.option("-o", "--output", type=click.Path(),
                       help="Stream into a .parquet file (or write .csv) instead of printing.")


def _feature_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_FEATURE_OPTIONS):
        command = option(command)
    return command


def _spine(spine: str) -> Any:
    """A spine file (Parquet, CSV, JSON Lines) as data; anything else is a table name or query."""
    from fspg.files import open_source

    return open_source(spine)[0] if Path(spine).is_file() else spine


@click.group(name="training-set")
def training_set() -> None:
    """Point-in-time-correct training sets: build, create (stored, versioned), get, ls, verify."""


@training_set.command(name="build")
@click.argument("spine")
@_feature_options
@_OUTPUT
@json_option
@click.pass_context
def training_set_build(ctx: click.Context, spine: str, features: str | None, service: str | None, model: str | None,
                       timestamp_column: str, as_of: dt.datetime | None, output: str | None, as_json: bool) -> None:
    """A training set for SPINE: a file (Parquet, CSV, JSON Lines), a table or view name, or a SELECT."""
    with store(ctx) as fs:
        _emit(fs, output, as_json, spine=_spine(spine), features=split(features), service=service, model=model,
              timestamp_column=timestamp_column, as_of=as_of)


@training_set.command(name="create")
@click.argument("name")
@click.argument("spine")
@_feature_options
@click.option("--description", help="What the training set is for.")
@json_option
@click.pass_context
def training_set_create(ctx: click.Context, name: str, spine: str, features: str | None, service: str | None,
                        model: str | None, timestamp_column: str, as_of: dt.datetime | None, description: str | None,
                        as_json: bool) -> None:
    """Store training set NAME (a new version unless the same definition exists) for SPINE."""
    with store(ctx) as fs:
        made = fs.create_training_set(name, _spine(spine), split(features), service=service, model=model,
                                      timestamp_column=timestamp_column, as_of=as_of, description=description)
    emit_one(dataclasses.asdict(made), as_json,
             f"{made.action:<10} training set {made.name}@{made.version}: {made.row_count:,} rows as of {made.as_of},"
             f" content hash {made.content_hash}; SQL: {made.relation}")


@training_set.command(name="get")
@click.argument("name", metavar="NAME[@V]")
@_OUTPUT
@json_option
@click.pass_context
def training_set_get(ctx: click.Context, name: str, output: str | None, as_json: bool) -> None:
    """Rebuild stored training set NAME or NAME@V: the rows it had when created."""
    with store(ctx) as fs:
        _emit(fs, output, as_json, spine=name)


def _emit(fs: Any, output: str | None, as_json: bool, **request: Any) -> None:
    if output and output.endswith(".parquet"):
        from fspg.progress import Progress

        with Progress(f"training set -> {output}") as progress:
            rows = fs.write_training_set(output, on_rows=progress, **request)
        emit_one({"rows": rows, "output": output}, as_json, f"{rows:,} rows -> {output}")
        return
    emit_table(fs.get_training_set(**request), output, as_json)


@training_set.command(name="ls")
@click.argument("name", required=False)
@json_option
@click.pass_context
def training_set_ls(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Stored training set versions: rows, as_of, content hash, the SQL view that rebuilds each."""
    with store(ctx) as fs:
        rows = fs.training_sets(name)
    emit_rows(rows, as_json, ["training_set", "version", "current", "row_count", "as_of", "content_hash", "relation"],
              "no training sets; make one with: fspg training-set create NAME SPINE --features ...")


@training_set.command(name="verify")
@click.argument("name", metavar="NAME[@V]")
@json_option
@click.pass_context
def training_set_verify(ctx: click.Context, name: str, as_json: bool) -> None:
    """Rebuild NAME[@V] in the server and compare its content hash with the recorded one (exit 1 if not identical)."""
    with store(ctx) as fs:
        result = fs.verify_training_set(name)
    verdict = "identical" if result.identical else "DIFFERENT"
    emit_one(result.as_dict(), as_json, f"{result.name}@{result.version}: {verdict} ({result.row_count:,} rows,"
                                        f" hash {result.content_hash}, recorded {result.recorded_hash})")
    if not result.identical:
        ctx.exit(1)


COMMANDS = (training_set,)
