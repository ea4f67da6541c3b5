"""The ``fspg`` command line: the click group, its global options and error handling.

The commands live in ``fspg.commands``, one module per group, and are registered here.
Conventions every command keeps (docs/decisions.md):

- ``--dsn`` (or ``$FSPG_DSN``) anywhere on the line means the feature store's database;
- ``--json`` prints a list of objects;
- moments are read by ``fspg.times`` (ISO 8601, dates, now, today, yesterday, -2d);
- keys are written ``--key KEY=V1,V2`` (one option per key column);
- errors print one line on stderr, ``fspg: error: …``, and exit 2 for a user's mistake
  (bad definitions, unknown names, unreachable DSN, bad arguments) or 1 for a failure.
"""
from __future__ import annotations

import sys

import click

from fspg.errors import FspgError

DSN_HELP = "PostgreSQL DSN (URI or key=value). Default: the embedded server under $FSPG_HOME."


class FspgGroup(click.Group):
    """A click group that turns fspg's exceptions into one line and an exit code, and
    takes its global options anywhere on the line (``fspg migrate --dsn X``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _globals_first(self, ctx, list(args)))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FspgError as err:
            click.echo(f"fspg: error: {err}", err=True)
            sys.exit(err.exit_code)
        except click.UsageError as err:
            # One line like every other error; click's own form takes four.
            command = err.ctx.command_path if err.ctx else "fspg"
            click.echo(f"fspg: error: {err.format_message()} (see: {command} -h)", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as err:  # noqa: BLE001 - the one place every failure becomes one line
            import psycopg

            if isinstance(err, psycopg.Error):
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                click.echo(f"fspg: error: {first}", err=True)
                sys.exit(1)
            raise


def _globals_first(group: click.Group, ctx: click.Context, args: list[str]) -> list[str]:
    """Move ``--dsn VALUE`` / ``--dsn=VALUE`` written after the command in front of it,
    unless that command has a ``--dsn`` of its own (``replica add --dsn`` names the replica)."""
    names = [a for a in args if not a.startswith("-")]
    command: click.Command | None = group
    for name in names:
        if not isinstance(command, click.Group):
            break
        command = command.get_command(ctx, name)
        if command is None:
            return args
    if command is group or any("--dsn" in p.opts for p in getattr(command, "params", [])):
        return args
    moved, rest, i = [], [], 0
    first = next((j for j, a in enumerate(args) if not a.startswith("-")), len(args))
    while i < len(args):
        arg = args[i]
        if i > first and arg == "--dsn" and i + 1 < len(args):
            moved += args[i:i + 2]
            i += 2
            continue
        if i > first and arg.startswith("--dsn="):
            moved.append(arg)
        else:
            rest.append(arg)
        i += 1
    return moved + rest


@click.group(cls=FspgGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--dsn", envvar="FSPG_DSN", show_envvar=True, help=DSN_HELP)
@click.version_option(package_name="fspg")
@click.pass_context
def main(ctx: click.Context, dsn: str | None) -> None:
    """fspg: a feature store for machine learning inside PostgreSQL."""
    ctx.obj = {"dsn": dsn}


def _register(group: click.Group) -> None:
    from fspg.commands import (catalog, http, ingest, models, quality, reads, rollout, scale, server, serving, site,
                               sources, training)

    for module in (server, catalog, ingest, reads, serving, training, models, quality, sources, rollout, http, site,
                   scale):
        for command in module.COMMANDS:
            group.add_command(command)


_register(main)

if __name__ == "__main__":
    main()
