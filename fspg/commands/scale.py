"""``fspg distribute`` and ``fspg placement``: the store on Citus workers."""
from __future__ import annotations

import click

from fspg.commands.common import emit_rows, json_option, store


@click.command()
@click.argument("views", nargs=-1)
@click.option("--shard-count", type=click.IntRange(1, 64000), default=None,
              help="Shards per table (default: Citus's citus.shard_count). One count for the whole store.")
@json_option
@click.pass_context
def distribute(ctx: click.Context, views: tuple[str, ...], shard_count: int | None, as_json: bool) -> None:
    """Distribute the history and online tables of VIEWS (default: all) over the Citus
    workers, by entity and co-located; new versions follow. Run as a superuser on the
    coordinator (docs/scale-out.md)."""
    with store(ctx) as fs:
        rows = fs.distribute(list(views) or None, shard_count=shard_count)
    emit_rows(rows, as_json, ["feature_view", "version", "distributed_by", "shard_count", "action"])


@click.command()
@click.argument("view", required=False)
@json_option
@click.pass_context
def placement(ctx: click.Context, view: str | None, as_json: bool) -> None:
    """Where each version's history and online tables live: the coordinator, or shards
    on Citus workers."""
    with store(ctx) as fs:
        rows = fs.placement(view)
    for row in rows:
        row["nodes"] = ", ".join(row["nodes"] or []) if not as_json else row["nodes"]
    emit_rows(rows, as_json, ["feature_view", "version", "kind", "table_name", "placement", "shards", "nodes"])


COMMANDS = (distribute, placement)
