"""``fspg up``, ``down``, ``status``, ``migrate``, ``demo``: the server and its schema."""
from __future__ import annotations

from typing import Any

import click

from fspg.commands.common import emit_one, json_option, store


@click.command()
@json_option
def up(as_json: bool) -> None:
    """Start the embedded PostgreSQL server and print its DSN."""
    from fspg.server import EmbeddedServer

    info = EmbeddedServer().up()
    emit_one({"dsn": info.dsn, "pid": info.pid, "data_dir": str(info.data_dir)}, as_json, info.dsn)


@click.command()
@json_option
def down(as_json: bool) -> None:
    """Stop the embedded PostgreSQL server."""
    from fspg.server import EmbeddedServer

    server = EmbeddedServer()
    stopped = server.down()
    emit_one({"home": str(server.home), "stopped": stopped}, as_json,
             f"stopped ({server.home})" if stopped else f"not running ({server.home})")


@click.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Say whether the embedded server runs, where, and the database's schema revision.
    Exits 1 when no server answers (scripts and health checks can rely on it)."""
    from fspg import migrate
    from fspg.output import emit_json
    from fspg.server import EmbeddedServer

    server = EmbeddedServer()
    info = server.status()
    result: dict[str, Any] = {"home": str(server.home), "running": info is not None,
                              "pid": info.pid if info else None, "dsn": info.dsn if info else None}
    dsn = ctx.find_root().obj["dsn"] or (info.dsn if info else None)
    answered = False
    if dsn:
        try:
            result["schema_revision"] = migrate.current_revision(dsn)
            result["schema_head"] = migrate.head_revision()
            answered = True
        except Exception as err:  # noqa: BLE001 (any failure to connect means: no answer)
            result["error"] = str(err).splitlines()[0]
    if as_json:
        emit_json([result])
    else:
        _echo_status(result, info, explicit=bool(ctx.find_root().obj["dsn"]), dsn=dsn)
    if not answered:
        ctx.exit(1)


def _echo_status(result: dict[str, Any], info: Any, *, explicit: bool, dsn: str | None) -> None:
    if info:
        click.echo(f"embedded server running (pid {info.pid}) at {info.dsn}, data in {info.data_dir}")
    elif not explicit:
        click.echo(f"embedded server not running (home {result['home']}); start it with: fspg up")
    if "schema_head" in result:
        behind = result["schema_revision"] != result["schema_head"]
        click.echo(f"schema revision {result['schema_revision'] or 'none'} (head {result['schema_head']})"
                   + ("; run: fspg migrate" if behind else ""))
    elif "error" in result:
        click.echo(f"no server answers at {dsn}: {result['error']}")


@click.command()
@click.option("--sql", "print_sql", is_flag=True, help="Print the SQL for a DBA instead of running it.")
@json_option
@click.pass_context
def migrate(ctx: click.Context, print_sql: bool, as_json: bool) -> None:
    """Bring the database to the newest fspg schema (a second run changes nothing)."""
    from fspg import migrate as migrations

    if print_sql:
        click.echo(migrations.upgrade_sql())
        return
    with store(ctx) as fs:
        revision = fs.migrate()
    emit_one({"revision": revision}, as_json, f"schema at revision {revision}")


@click.command()
@click.option("--examples", "examples_path", type=click.Path(),
              help="The feature repository to apply (default: ./examples, else the copy shipped with fspg).")
@click.pass_context
def demo(ctx: click.Context, examples_path: str | None) -> None:
    """Run the main job end to end on the embedded server and print what happened."""
    from fspg.demo import run

    run(ctx.find_root().obj["dsn"], examples_path, echo=click.echo)


COMMANDS = (up, down, status, migrate, demo)
