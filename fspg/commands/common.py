"""What every command shares: the store it talks to, options and parameter types that mean
the same on every command (``--json``, moments, ``KEY=V1,V2`` keys), and printing."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Callable, Sequence

import click

if TYPE_CHECKING:
    import pyarrow as pa

    from fspg.client import FeatureStore

json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")


def store(ctx: click.Context) -> "FeatureStore":
    """The FeatureStore for the global --dsn (or $FSPG_DSN, or the embedded server)."""
    from fspg.client import FeatureStore

    return FeatureStore(ctx.find_root().obj["dsn"])


class Moment(click.ParamType):
    """A moment as ``fspg.times`` reads it: ISO 8601, a date, now, today, yesterday, -2d."""

    name = "moment"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        from fspg.errors import InvalidArgument
        from fspg.times import utc

        if isinstance(value, dt.datetime):
            return value
        try:
            moment = utc(value)
        except InvalidArgument as err:
            self.fail(str(err), param, ctx)
        assert moment is not None
        return moment


MOMENT = Moment()


class KeyValues(click.ParamType):
    """``KEY=V1,V2,...``: one key column and its values, the one way keys are written on
    the command line (``fspg online --key user_id=1,2``, ``fspg forget --key user_id=42``).
    Values stay text; the server reads them as the key's type."""

    name = "key=values"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, list[str]]:
        if isinstance(value, tuple):
            return value
        key, sep, values = str(value).partition("=")
        if not sep or not key or not values:
            self.fail(f"expected KEY=V1,V2,..., got {value!r}", param, ctx)
        return key.strip(), values.split(",")


def key_option(help_text: str) -> Callable[[Any], Any]:
    """The repeatable ``--key KEY=V1,V2`` option (one per key column)."""
    return click.option("--key", "keys", type=KeyValues(), multiple=True, required=True, metavar="KEY=V1,V2",
                        help=help_text)


def entities(keys: Sequence[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """``--key`` options as one dict of key columns (a key given twice is a mistake)."""
    columns: dict[str, list[str]] = {}
    for key, values in keys:
        if key in columns:
            raise click.BadParameter(f"key {key} given twice; write its values once: {key}=V1,V2", param_hint="--key")
        columns[key] = values
    if len({len(v) for v in columns.values()}) > 1:
        raise click.BadParameter("every key column needs as many values as the others", param_hint="--key")
    return columns


def emit_rows(rows: list[dict[str, Any]], as_json: bool, columns: Sequence[str] | None = None,
              empty: str | None = None) -> None:
    """Rows as a JSON list, as a table, or a one-line note when there are none."""
    from fspg.output import emit_json, table

    if as_json:
        emit_json(rows)
    elif not rows and empty:
        click.echo(empty)
    elif rows or columns:
        click.echo(table(rows, list(columns) if columns else list(rows[0])))


def emit_one(row: dict[str, Any], as_json: bool, line: str) -> None:
    """A command's one result: a JSON list of one object, or one line for people."""
    from fspg.output import emit_json

    if as_json:
        emit_json([row])
    else:
        click.echo(line)


def emit_table(table: "pa.Table", output: str | None, as_json: bool = False, preview: int = 20) -> None:
    """An Arrow table into a file (-o), as JSON rows (--json, all of them), or a preview."""
    if output:
        from fspg.files import write_table

        write_table(table, output)
        click.echo(f"{table.num_rows:,} rows -> {output}", err=as_json)
        return
    from fspg.output import emit_json, table as text_table

    if as_json:
        emit_json(table.to_pylist())
        return
    click.echo(text_table(table.slice(0, preview).to_pylist(), table.column_names))
    if table.num_rows > preview:
        click.echo(f"... {table.num_rows:,} rows in all (use -o FILE or --json for everything)")


def split(text: str | None) -> list[str] | None:
    """A comma-separated option as a list (None stays None)."""
    return [part.strip() for part in text.split(",") if part.strip()] if text else None
