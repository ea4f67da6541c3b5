"""``fspg apply``, ``ls``, ``describe``, ``deprecate``, ``lineage``: the catalog."""
from __future__ import annotations

import click

from fspg.commands.common import emit_one, emit_rows, json_option, store


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--promote", "promote", is_flag=True,
              help="Backfill and promote every version this apply stages (local development).")
@json_option
@click.pass_context
def apply(ctx: click.Context, paths: tuple[str, ...], dry_run: bool, promote: bool, as_json: bool) -> None:
    """Apply definitions from YAML files or directories (entities, feature views, services).

    A changed feature view gets a staged version; serving stays on the promoted one until
    fspg promote (or --promote here)."""
    from fspg import definitions
    from fspg.output import emit_json

    doc = definitions.load(paths)
    with store(ctx) as fs:
        plan = fs.apply(doc, dry_run=dry_run, promote=promote)
    if as_json:
        emit_json([step.as_dict() for step in plan])
        return
    for step in plan:
        version = f"@{step.version}" if step.version else ""
        note = f" ({step.message})" if step.message != step.action else ""
        click.echo(f"{step.action:<12} {step.kind.replace('_', ' ')} {step.name}{version}{note}")
    if dry_run:
        click.echo("dry run: nothing was changed")


@click.command(name="ls")
@json_option
@click.pass_context
def list_views(ctx: click.Context, as_json: bool) -> None:
    """List feature views with current version, owner, features and rows."""
    with store(ctx) as fs:
        views = fs.list_feature_views()
    emit_rows(views, as_json, ["name", "current_version", "entity", "owner", "features", "rows", "description"],
              "no feature views yet; define some and run: fspg apply FILE")


@click.command()
@click.argument("name")
@json_option
@click.pass_context
def describe(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a feature view version (NAME or NAME@V): features, rules, versions, tables, lineage."""
    from fspg.describe import render
    from fspg.output import emit_json

    with store(ctx) as fs:
        info = fs.describe(name)
    if as_json:
        emit_json([info])
    else:
        click.echo(render(info))


@click.command()
@click.argument("view", metavar="VIEW@V")
@json_option
@click.pass_context
def deprecate(ctx: click.Context, view: str, as_json: bool) -> None:
    """Deprecate feature view version VIEW@V (refused while an active model uses it)."""
    with store(ctx) as fs:
        fs.deprecate(view)
    emit_one({"feature_view": view, "deprecated": True}, as_json, f"deprecated {view}")


@click.command()
@click.argument("obj", metavar="OBJECT")
@click.option("--up", "direction", flag_value="up", help="Only where its data comes from.")
@click.option("--down", "direction", flag_value="down", help="Only what uses it.")
@json_option
@click.pass_context
def lineage(ctx: click.Context, obj: str, direction: str | None, as_json: bool) -> None:
    """Lineage of OBJECT (view@V, model:NAME@V, training_set:NAME@V, or a feature view.feature)."""
    with store(ctx) as fs:
        rows = fs.lineage(obj, direction or "both")
    emit_rows(rows, as_json, ["direction", "depth", "kind", "name", "parent_kind", "parent_name"])


COMMANDS = (apply, list_views, describe, deprecate, lineage)
