"""``fspg load``, ``history``, ``online``: reading feature values."""
from __future__ import annotations

import datetime as dt

import click

from fspg.commands.common import MOMENT, emit_rows, emit_table, entities, json_option, key_option, split, store

_OUTPUT = click.option("-o", "--output", type=click.Path(), help="Write to .parquet or .csv instead of printing.")


@click.command()
@click.argument("name")
@click.option("--at", "at", type=MOMENT, help="The moment whose values to load (ISO 8601, now, yesterday, -2d;"
              " default now).")
@click.option("--limit", type=int, help="At most this many entities.")
@click.option("--as-of", type=MOMENT, help="Only rows the store had learned by this moment (reproducible reads).")
@click.option("--features", help="Comma-separated features (default all).")
@_OUTPUT
@json_option
@click.pass_context
def load(ctx: click.Context, name: str, at: dt.datetime | None, limit: int | None, as_of: dt.datetime | None,
         features: str | None, output: str | None, as_json: bool) -> None:
    """Load the feature values in effect at a moment, one row per entity."""
    with store(ctx) as fs:
        table = fs.load_batch(name, timestamp=at, limit=limit, as_of=as_of, features=split(features))
    emit_table(table, output, as_json)


@click.command()
@click.argument("name")
@click.option("--start", type=MOMENT, help="First event time (inclusive).")
@click.option("--end", type=MOMENT, help="Last event time (exclusive).")
@click.option("--as-of", type=MOMENT, help="Only rows the store had learned by this moment.")
@_OUTPUT
@json_option
@click.pass_context
def history(ctx: click.Context, name: str, start: dt.datetime | None, end: dt.datetime | None,
            as_of: dt.datetime | None, output: str | None, as_json: bool) -> None:
    """Raw history rows (corrections included) of NAME with start <= event_ts < end."""
    with store(ctx) as fs:
        table = fs.load_history(name, start, end, as_of=as_of)
    emit_table(table, output, as_json)


@click.command()
@click.option("--features", help="Comma-separated references: view.feature, view@2.feature, view.*")
@click.option("--service", help="A feature service instead of --features.")
@key_option("KEY=V1,V2,... (repeat per key column), e.g. --key user_id=1,2 --key merchant_id=7,8")
@json_option
@click.pass_context
def online(ctx: click.Context, features: str | None, service: str | None, keys: tuple[tuple[str, list[str]], ...],
           as_json: bool) -> None:
    """Look up online feature values for some entities (one round trip)."""
    with store(ctx) as fs:
        rows = fs.get_online_features(split(features), service=service, entities=entities(keys), as_dicts=True)
    emit_rows(rows, as_json)


COMMANDS = (load, history, online)
