"""The ``fspg`` command line. Each command is a few lines over the client or a module.

Errors print one line on stderr, ``fspg: error: …``, and exit 2 for a user's mistake
(bad definitions, unknown names, unreachable DSN) or 1 for a failure.
"""
from __future__ import annotations

import sys

import click

from fspg.errors import FspgError

DSN_HELP = "PostgreSQL DSN (URI or key=value). Default: the embedded server under $FSPG_HOME."


class FspgGroup(click.Group):
    """A click group that turns fspg's exceptions into one line and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FspgError as err:
            click.echo(f"fspg: error: {err}", err=True)
            sys.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as err:  # noqa: BLE001 - the one place every failure becomes one line
            import psycopg

            if isinstance(err, psycopg.Error):
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                click.echo(f"fspg: error: {first}", err=True)
                sys.exit(1)
            raise


@click.group(cls=FspgGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--dsn", envvar="FSPG_DSN", show_envvar=True, help=DSN_HELP)
@click.version_option(package_name="fspg")
@click.pass_context
def main(ctx: click.Context, dsn: str | None) -> None:
    """fspg: a feature store for machine learning inside PostgreSQL."""
    ctx.obj = {"dsn": dsn}


def _store(ctx: click.Context):
    from fspg.client import FeatureStore

    return FeatureStore(ctx.obj["dsn"])


def _dsn(ctx: click.Context) -> str:
    from fspg.connection import resolve_dsn

    return resolve_dsn(ctx.obj["dsn"])


# -- the embedded server ------------------------------------------------------------------
@main.command()
def up() -> None:
    """Start the embedded PostgreSQL server and print its DSN."""
    from fspg.server import EmbeddedServer

    info = EmbeddedServer().up()
    click.echo(info.dsn)


@main.command()
def down() -> None:
    """Stop the embedded PostgreSQL server."""
    from fspg.server import EmbeddedServer

    server = EmbeddedServer()
    stopped = server.down()
    click.echo(f"stopped ({server.home})" if stopped else f"not running ({server.home})")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Say whether the embedded server runs, where, and the database's schema revision."""
    from fspg import migrate
    from fspg.server import EmbeddedServer

    server = EmbeddedServer()
    info = server.status()
    result = {
        "home": str(server.home),
        "running": info is not None,
        "pid": info.pid if info else None,
        "dsn": info.dsn if info else None,
    }
    dsn = ctx.obj["dsn"] or (info.dsn if info else None)
    if dsn:
        result["schema_revision"] = migrate.current_revision(dsn)
        result["schema_head"] = migrate.head_revision()
    if as_json:
        from fspg.output import emit_json

        emit_json(result)
        return
    if info:
        click.echo(f"embedded server running (pid {info.pid}) at {info.dsn}, data in {info.data_dir}")
    else:
        click.echo(f"embedded server not running (home {server.home}); start it with: fspg up")
    if "schema_revision" in result:
        behind = result["schema_revision"] != result["schema_head"]
        click.echo(f"schema revision {result['schema_revision'] or 'none'} (head {result['schema_head']})"
                   + ("; run: fspg migrate" if behind else ""))


# -- schema ------------------------------------------------------------------------------
@main.command()
@click.option("--sql", "print_sql", is_flag=True, help="Print the SQL for a DBA instead of running it.")
@click.pass_context
def migrate(ctx: click.Context, print_sql: bool) -> None:
    """Bring the database to the newest fspg schema (a second run changes nothing)."""
    from fspg import migrate as migrations

    if print_sql:
        click.echo(migrations.upgrade_sql())
        return
    revision = migrations.upgrade(_dsn(ctx))
    click.echo(f"schema at revision {revision}")


# -- catalog ----------------------------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def apply(ctx: click.Context, paths: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Apply definitions from YAML files or directories (entities, feature views, services)."""
    from fspg import definitions

    doc = definitions.load(paths)
    with _store(ctx) as store:
        plan = store.apply(doc, dry_run=dry_run)
    if as_json:
        from fspg.output import emit_json

        emit_json([step.as_dict() for step in plan])
        return
    for step in plan:
        version = f"@{step.version}" if step.version else ""
        click.echo(f"{step.action:<12} {step.kind.replace('_', ' ')} {step.name}{version}")
    if dry_run:
        click.echo("dry run: nothing was changed")


@main.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_views(ctx: click.Context, as_json: bool) -> None:
    """List feature views with current version, owner, features and rows."""
    from fspg.output import emit_json, table

    with _store(ctx) as store:
        views = store.list_feature_views()
    if as_json:
        emit_json(views)
    elif not views:
        click.echo("no feature views yet; define some and run: fspg apply FILE")
    else:
        click.echo(table(views, ["name", "current_version", "entity", "owner", "features", "rows", "description"]))


@main.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def describe(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a feature view version (NAME or NAME@V): features, rules, versions, tables, lineage."""
    from fspg.output import emit_json

    with _store(ctx) as store:
        info = store.describe(name)
    if as_json:
        emit_json(info)
        return
    from fspg.describe import render

    click.echo(render(info))


@main.command()
@click.option("--examples", "examples_path", default="examples", show_default=True, type=click.Path(),
              help="The feature repository to apply.")
@click.pass_context
def demo(ctx: click.Context, examples_path: str) -> None:
    """Run the main job end to end on the embedded server and print what happened."""
    from fspg.demo import run

    run(ctx.obj["dsn"], examples_path, echo=click.echo)


if __name__ == "__main__":
    main()
