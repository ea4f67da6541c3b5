"""``fspg models ls|describe|register|archive``: model versions and the features they pin."""
from __future__ import annotations

import json
from typing import Any

import click

from fspg.commands.common import emit_one, emit_rows, json_option, split, store


@click.group()
def models() -> None:
    """Registered models: the exact feature versions each model version was trained with."""


@models.command(name="ls")
@click.argument("name", required=False)
@json_option
@click.pass_context
def models_ls(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Model versions: status, experiment, training set, features."""
    with store(ctx) as fs:
        rows = fs.models(name)
    emit_rows(rows, as_json, ["model", "version", "status", "experiment", "training_set", "features", "created_at"],
              "no models; register one with: fspg models register NAME --training-set SET")


@models.command(name="describe")
@click.argument("name", metavar="NAME[@V]")
@json_option
@click.pass_context
def models_describe(ctx: click.Context, name: str, as_json: bool) -> None:
    """One model version (NAME or NAME@V; default its newest): features, params, metrics, lineage."""
    from fspg.output import emit_json

    with store(ctx) as fs:
        row = fs.describe_model(name)
    if as_json:
        emit_json([row])
        return
    for key in ("model", "version", "status", "experiment", "training_set", "description", "created_at", "created_by",
                "params", "metrics"):
        click.echo(f"{key + ':':<14}{_plain(row[key])}")
    click.echo("features:")
    for ref in row["features"]:
        click.echo(f"  {ref}")
    click.echo("comes from:")
    for edge in row["lineage"]:
        if edge["direction"] == "up":
            click.echo(f"  {'  ' * (edge['depth'] - 1)}{edge['kind']} {edge['name']}")


def _plain(value: Any) -> str:
    return "-" if value is None else json.dumps(value) if isinstance(value, (dict, list)) else str(value)


class JsonObject(click.ParamType):
    """An option holding a JSON object (``--params '{"depth": 6}'``)."""

    name = "json"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        try:
            doc = json.loads(value)
        except json.JSONDecodeError as err:
            self.fail(f"not JSON: {err}", param, ctx)
        if not isinstance(doc, dict):
            self.fail(f"expected a JSON object, got {value!r}", param, ctx)
        return doc


@models.command(name="register")
@click.argument("name")
@click.option("--version", type=int, help="The model version (default: the next).")
@click.option("--training-set", help="The stored training set it was trained on (NAME or NAME@V).")
@click.option("--features", help="Or the features it consumes, comma-separated (pinned to current versions).")
@click.option("--experiment", help="The experiment (run) id it came from.")
@click.option("--params", type=JsonObject(), help="Hyper-parameters as a JSON object.")
@click.option("--metrics", type=JsonObject(), help="Evaluation metrics as a JSON object.")
@click.option("--description")
@json_option
@click.pass_context
def models_register(ctx: click.Context, name: str, version: int | None, training_set: str | None, features: str | None,
                    experiment: str | None, params: dict[str, Any] | None, metrics: dict[str, Any] | None,
                    description: str | None, as_json: bool) -> None:
    """Register model NAME bound to the features it was trained with."""
    with store(ctx) as fs:
        row = fs.register_model(name, version, training_set=training_set, features=split(features),
                                experiment=experiment, params=params, metrics=metrics, description=description)
    emit_one(row.as_dict(), as_json, f"{row.action:<10} model {row.name}@{row.version}: {', '.join(row.features)}")


@models.command(name="archive")
@click.argument("name", metavar="NAME@V")
@json_option
@click.pass_context
def models_archive(ctx: click.Context, name: str, as_json: bool) -> None:
    """Archive model version NAME@V (it stops pinning its feature view versions)."""
    with store(ctx) as fs:
        fs.archive_model(name)
    emit_one({"model": name, "archived": True}, as_json, f"archived model {name}")


COMMANDS = (models,)
