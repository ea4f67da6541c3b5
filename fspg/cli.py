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


def _store(ctx: click.Context):
    from fspg.client import FeatureStore

    return FeatureStore(ctx.find_root().obj["dsn"])


def _emit_rows(rows: list[dict], as_json: bool, columns: list[str], empty: str | None = None) -> None:
    """Rows as JSON, as a table, or a one-line note when there are none."""
    from fspg.output import emit_json, table

    if as_json:
        emit_json(rows)
    elif not rows and empty:
        click.echo(empty)
    else:
        click.echo(table(rows, columns))


def _dsn(ctx: click.Context) -> str:
    from fspg.connection import resolve_dsn

    return resolve_dsn(ctx.find_root().obj["dsn"])


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
    """Say whether the embedded server runs, where, and the database's schema revision.
    Exits 1 when no server answers (scripts and health checks can rely on it)."""
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
    answered = False
    if dsn:
        try:
            result["schema_revision"] = migrate.current_revision(dsn)
            result["schema_head"] = migrate.head_revision()
            answered = True
        except Exception as err:  # noqa: BLE001 (any failure to connect means: no answer)
            result["error"] = str(err).splitlines()[0]
    if as_json:
        from fspg.output import emit_json

        emit_json(result)
    else:
        if info:
            click.echo(f"embedded server running (pid {info.pid}) at {info.dsn}, data in {info.data_dir}")
        elif not ctx.obj["dsn"]:
            click.echo(f"embedded server not running (home {server.home}); start it with: fspg up")
        if answered:
            behind = result["schema_revision"] != result["schema_head"]
            click.echo(f"schema revision {result['schema_revision'] or 'none'} (head {result['schema_head']})"
                       + ("; run: fspg migrate" if behind else ""))
        elif "error" in result:
            click.echo(f"no server answers at {dsn}: {result['error']}")
    if not answered:
        ctx.exit(1)


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
@click.option("--promote", "promote", is_flag=True,
              help="Backfill and promote every version this apply stages (local development).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def apply(ctx: click.Context, paths: tuple[str, ...], dry_run: bool, promote: bool, as_json: bool) -> None:
    """Apply definitions from YAML files or directories (entities, feature views, services).

    A changed feature view gets a staged version; serving stays on the promoted one until
    fspg promote (or --promote here)."""
    from fspg import definitions

    doc = definitions.load(paths)
    with _store(ctx) as store:
        plan = store.apply(doc, dry_run=dry_run, promote=promote)
    if as_json:
        from fspg.output import emit_json

        emit_json([step.as_dict() for step in plan])
        return
    for step in plan:
        version = f"@{step.version}" if step.version else ""
        note = f" ({step.message})" if step.message != step.action else ""
        click.echo(f"{step.action:<12} {step.kind.replace('_', ' ')} {step.name}{version}{note}")
    if dry_run:
        click.echo("dry run: nothing was changed")


@main.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_views(ctx: click.Context, as_json: bool) -> None:
    """List feature views with current version, owner, features and rows."""
    with _store(ctx) as store:
        views = store.list_feature_views()
    _emit_rows(views, as_json, ["name", "current_version", "entity", "owner", "features", "rows", "description"],
               "no feature views yet; define some and run: fspg apply FILE")


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


# -- offline store ----------------------------------------------------------------------
def _tolerance(text: str | None) -> float | None:
    """--max-quarantined: a count of rows, or a percentage (5%) as a fraction."""
    if text is None:
        return None
    try:
        value = float(text.rstrip("%")) / 100 if text.endswith("%") else int(text)
    except ValueError:
        raise click.BadParameter(f"a count (100) or a percentage (1.5%), got {text!r}", param_hint="--max-quarantined") from None
    if value < 0 or (text.endswith("%") and value >= 1):
        raise click.BadParameter(f"a count >= 0 or a percentage below 100%, got {text!r}", param_hint="--max-quarantined")
    return value


def _print_result(result, as_json: bool, label: str = "") -> None:
    if as_json:
        from fspg.output import emit_json

        emit_json({**result.__dict__, "seconds": round(result.seconds, 3)})
        return
    if result.path == "existing":
        click.echo(f"{label}already ingested as batch {result.batch_id} -> {result.feature_view}@{result.version}:"
                   f" {result.rows_in:,} rows in, {result.inserted:,} inserted, {result.quarantined:,} quarantined;"
                   " nothing written (--again ingests it anyway)")
        return
    unchanged = f", {result.unchanged:,} unchanged" if result.unchanged else ""
    line = (f"{label}batch {result.batch_id} -> {result.feature_view}@{result.version}: {result.rows_in:,} rows in,"
            f" {result.inserted:,} inserted, {result.quarantined:,} quarantined{unchanged}"
            f" ({result.seconds:.2f}s, {result.rows_per_second:,.0f} rows/s)")
    click.echo(line)
    for reason, count in sorted(result.reasons.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {count:>10,}  {reason}")


@main.command()
@click.argument("name")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--mode", type=click.Choice(["quarantine", "strict"]), default="quarantine", show_default=True,
              help="quarantine keeps good rows and sets bad ones aside; strict writes nothing if a row is bad.")
@click.option("--timestamp", help="event_ts for every row when the file has no event_ts column (ISO 8601, naive = UTC;"
              " now, yesterday, -2h).")
@click.option("--batch-key", help="Key of the batch (one file), instead of the file's content hash.")
@click.option("--again", is_flag=True, help="Ingest even a file whose content is on record already (no batch key).")
@click.option("--max-quarantined", metavar="N|P%", help="Fail a file (nothing written) when more than N rows, or P% of them, are bad.")
@click.option("--skip-unchanged", is_flag=True, help="Count rows history already holds (same entity, moment and values) as unchanged.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ingest(ctx: click.Context, name: str, files: tuple[str, ...], mode: str, timestamp: str | None,
           batch_key: str | None, again: bool, max_quarantined: str | None, skip_unchanged: bool, as_json: bool) -> None:
    """Ingest Parquet, CSV or JSON Lines FILES into feature view NAME (or NAME@V); one batch per file.

    A file whose content was ingested into the same view version before is not ingested
    again: its first batch is reported (retries are safe). --again turns that off."""
    from fspg.files import content_key, open_source
    from fspg.progress import Progress

    from fspg.times import utc

    if batch_key and len(files) > 1:
        raise click.UsageError("--batch-key names one batch: give one file")
    tolerance = _tolerance(max_quarantined)
    # One moment for every file; a key names it as written, unless it was relative (now,
    # -1h): then the moment itself is what lands.
    when = utc(timestamp)
    stamp = timestamp if timestamp is None or timestamp[:1].isdigit() else when.isoformat()
    with _store(ctx) as store:
        for path in files:
            source, total = open_source(path)
            key = None if again else batch_key or content_key(path, stamp)
            progress = Progress(f"{path}", total)
            try:
                result = store.insert_batch(name, source, timestamp=when, mode=mode, batch_key=key,
                                            max_quarantined=tolerance, progress=progress, skip_unchanged=skip_unchanged)
            finally:
                progress.close()
            _print_result(result, as_json, label=f"{path}: ")


@main.command()
@click.argument("name")
@click.option("--at", "at", help="The moment whose values to load (ISO 8601, now, yesterday, -2d; default now).")
@click.option("--limit", type=int, help="At most this many entities.")
@click.option("--as-of", help="Only rows the store had learned by this moment (reproducible reads).")
@click.option("--features", help="Comma-separated features (default all).")
@click.option("-o", "--output", type=click.Path(), help="Write to .parquet or .csv instead of printing.")
@click.pass_context
def load(ctx: click.Context, name: str, at: str | None, limit: int | None, as_of: str | None,
         features: str | None, output: str | None) -> None:
    """Load the feature values in effect at a moment, one row per entity."""
    with _store(ctx) as store:
        table = store.load_batch(name, timestamp=at, limit=limit, as_of=as_of,
                                 features=features.split(",") if features else None)
    _emit_table(table, output)


@main.command()
@click.argument("name")
@click.option("--start", help="First event time (inclusive, ISO 8601).")
@click.option("--end", help="Last event time (exclusive, ISO 8601).")
@click.option("--as-of", help="Only rows the store had learned by this moment.")
@click.option("-o", "--output", type=click.Path(), help="Write to .parquet or .csv instead of printing.")
@click.pass_context
def history(ctx: click.Context, name: str, start: str | None, end: str | None, as_of: str | None,
            output: str | None) -> None:
    """Raw history rows (corrections included) of NAME with start <= event_ts < end."""
    with _store(ctx) as store:
        table = store.load_history(name, start, end, as_of=as_of)
    _emit_table(table, output)


def _emit_table(table, output: str | None, preview: int = 20) -> None:
    if output:
        from fspg.files import write_table

        write_table(table, output)
        click.echo(f"{table.num_rows:,} rows -> {output}")
        return
    from fspg.output import table as text_table

    click.echo(text_table(table.slice(0, preview).to_pylist(), table.column_names))
    if table.num_rows > preview:
        click.echo(f"... {table.num_rows:,} rows in all (use -o FILE for everything)")


@main.command()
@click.option("--view", help="Only batches of this feature view.")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def batches(ctx: click.Context, view: str | None, limit: int, as_json: bool) -> None:
    """The ingest log, newest first: rows in, inserted, quarantined, who and when."""
    with _store(ctx) as store:
        rows = store.batches(view, limit=limit)
    _emit_rows(rows, as_json, ["batch_id", "feature_view", "version", "mode", "rows_in", "inserted", "quarantined",
                               "seconds", "created_by", "finished_at"], "no batches yet")


@main.group()
def quarantine() -> None:
    """Rows that ingests set aside: list, show, replay after a fix."""


@quarantine.command(name="ls")
@click.option("--view", help="Only this feature view.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def quarantine_ls(ctx: click.Context, view: str | None, as_json: bool) -> None:
    """Quarantined rows per batch, with the rules they broke and how many still wait for a replay."""
    with _store(ctx) as store:
        rows = store.quarantine(name=view)
    _emit_rows(rows, as_json, ["batch_id", "feature_view", "version", "rows", "waiting", "reasons"], "quarantine is empty")


@quarantine.command(name="show")
@click.argument("batch_id", type=int)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def quarantine_show(ctx: click.Context, batch_id: int, limit: int, as_json: bool) -> None:
    """The quarantined rows of one batch as they arrived, with the rules each broke."""
    with _store(ctx) as store:
        rows = store.quarantine(batch_id, limit=limit)
    _emit_rows(rows, as_json, ["row_number", "reasons", "data", "replayed_batch_id"], f"batch {batch_id} has no quarantined rows")


@quarantine.command(name="replay")
@click.argument("batch_id", type=int)
@click.option("--into", help="view or view@V to replay into (default: the view's current version).")
@click.option("--mode", type=click.Choice(["quarantine", "strict"]), default="quarantine", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def quarantine_replay(ctx: click.Context, batch_id: int, into: str | None, mode: str, as_json: bool) -> None:
    """Re-validate a batch's quarantined rows (after a fix) as a new batch; rows still bad stay quarantined."""
    with _store(ctx) as store:
        result = store.replay_quarantine(batch_id, into=into, mode=mode)
    _print_result(result, as_json, label=f"replay of batch {batch_id}: ")


@main.command()
@click.option("--ahead", type=int, default=2, show_default=True, help="Partition periods to create ahead of now.")
@click.option("--schedule", "cron", metavar="CRON", help="Instead: register maintenance as a pg_cron job, e.g. '*/5 * * * *'.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def maintain(ctx: click.Context, ahead: int, cron: str | None, as_json: bool) -> None:
    """Partition upkeep and retention for every active feature view version, then the due
    refreshes of SQL-defined views (cron it, or --schedule it in pg_cron)."""
    with _store(ctx) as store:
        if cron:
            job = store.schedule(cron)
            click.echo(f"pg_cron job fspg-maintain ({job}) runs fs.maintain() and fs.run_due_sources() at '{cron}'")
            return
        rows = store.maintain(ahead=ahead)
        refreshed = store.run_due_sources()
    _emit_rows(rows, as_json, ["feature_view", "version", "partitions_created", "partitions_dropped",
                               "default_rows_moved", "rows_expired"])
    if refreshed and not as_json:
        click.echo("due refreshes:")
        _emit_rows(refreshed, False, ["feature_view", "version", "window_start", "window_end", "inserted", "quarantined", "error"])


@main.command()
@click.argument("name")
@click.argument("keys", nargs=-1, required=True)
@click.option("--reason", help="Why (kept in fs.erasure_log).")
@click.pass_context
def forget(ctx: click.Context, name: str, keys: tuple[str, ...], reason: str | None) -> None:
    """Erase one entity from every version of feature view NAME: fspg forget user_stats user_id=42."""
    from fspg.errors import UserError

    entity = {}
    for item in keys:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"expected KEY=VALUE, got {item!r}")
        entity[key] = value
    with _store(ctx) as store:
        deleted = store.forget(name, entity, reason=reason)
    click.echo(f"erased {entity} from {name}: {deleted:,} history rows deleted; online values, quarantined rows and"
               " stored training-set spine rows too (what went where: fs.erasure_log.removed)")


@main.group(name="training-set")
def training_set() -> None:
    """Point-in-time-correct training sets: build, create (stored, versioned), get, ls, verify."""


_FEATURE_OPTIONS = [
    click.option("--features", help="Comma-separated references: view.feature, view@2.feature, view.*"),
    click.option("--service", help="A feature service's features instead of --features (NAME or NAME@V)."),
    click.option("--model", help="A registered model's pinned features instead (NAME or NAME@V)."),
    click.option("--timestamp-column", default="event_ts", show_default=True, help="The spine's timestamp column."),
    click.option("--as-of", help="Only rows the store had learned by this moment (reproducible)."),
]


def _feature_options(command):
    for option in reversed(_FEATURE_OPTIONS):
        command = option(command)
    return command


def _feature_request(features: str | None, service: str | None, model: str | None) -> dict:
    from fspg.catalog import parse_ref

    request: dict = {"features": features.split(",") if features else None}
    if service:
        request["service"], request["service_version"] = parse_ref(service)
    if model:
        request["model"], request["model_version"] = parse_ref(model)
    return request


def _spine(spine: str):
    """A spine file (Parquet, CSV, JSON Lines) as data; anything else is a table name or query."""
    from pathlib import Path

    from fspg.files import open_source

    if Path(spine).is_file():
        return open_source(spine)[0]
    return spine


@training_set.command(name="build")
@click.argument("spine")
@_feature_options
@click.option("-o", "--output", type=click.Path(), help="Stream into a .parquet file (or write .csv) instead of printing.")
@click.pass_context
def training_set_build(ctx: click.Context, spine: str, features: str | None, service: str | None, model: str | None,
                       timestamp_column: str, as_of: str | None, output: str | None) -> None:
    """A training set for SPINE: a file (Parquet, CSV, JSON Lines), a table or view name, or a SELECT."""
    request = _feature_request(features, service, model)
    with _store(ctx) as store:
        _emit_training_set(store, output, spine=_spine(spine), timestamp_column=timestamp_column, as_of=as_of, **request)


@training_set.command(name="create")
@click.argument("name")
@click.argument("spine")
@_feature_options
@click.option("--description", help="What the training set is for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def training_set_create(ctx: click.Context, name: str, spine: str, features: str | None, service: str | None,
                        model: str | None, timestamp_column: str, as_of: str | None, description: str | None,
                        as_json: bool) -> None:
    """Store training set NAME (a new version unless the same definition exists) for SPINE."""
    import dataclasses

    request = _feature_request(features, service, model)
    with _store(ctx) as store:
        made = store.create_training_set(name, _spine(spine), timestamp_column=timestamp_column, as_of=as_of,
                                         description=description, **request)
    if as_json:
        from fspg.output import emit_json

        emit_json(dataclasses.asdict(made))
        return
    click.echo(f"{made.action:<10} training set {made.name}@{made.version}: {made.row_count:,} rows as of {made.as_of},"
               f" content hash {made.content_hash}; SQL: fs_training.{made.name}__v{made.version}")


@training_set.command(name="get")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(), help="Stream into a .parquet file (or write .csv) instead of printing.")
@click.pass_context
def training_set_get(ctx: click.Context, name: str, output: str | None) -> None:
    """Rebuild stored training set NAME or NAME@V: the rows it had when created."""
    from fspg.catalog import parse_ref

    set_name, version = parse_ref(name)
    with _store(ctx) as store:
        _emit_training_set(store, output, spine=set_name, version=version)


def _emit_training_set(store, output: str | None, **request) -> None:
    if output and output.endswith(".parquet"):
        from fspg.progress import Progress

        progress = Progress(f"training set -> {output}")
        rows = store.get_training_set(output=output, on_rows=progress, **request)
        progress.close()
        click.echo(f"{rows:,} rows -> {output}")
        return
    _emit_table(store.get_training_set(**request), output)


@training_set.command(name="ls")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def training_set_ls(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Stored training set versions: rows, as_of, content hash, the SQL view that rebuilds each."""
    with _store(ctx) as store:
        rows = store.training_sets(name)
    _emit_rows(rows, as_json, ["training_set", "version", "current", "row_count", "as_of", "content_hash", "relation"],
               "no training sets; make one with: fspg training-set create NAME SPINE --features ...")


@training_set.command(name="verify")
@click.argument("name")
@click.pass_context
def training_set_verify(ctx: click.Context, name: str) -> None:
    """Rebuild NAME[@V] in the server and compare its content hash with the recorded one (exit 1 if not identical)."""
    from fspg.catalog import parse_ref

    set_name, version = parse_ref(name)
    with _store(ctx) as store:
        result = store.verify_training_set(set_name, version)
    verdict = "identical" if result["identical"] else "DIFFERENT"
    click.echo(f"{result['name']}@{result['version']}: {verdict} ({result['row_count']:,} rows, hash {result['content_hash']},"
               f" recorded {result['recorded_hash']})")
    if not result["identical"]:
        sys.exit(1)


# -- models, statistics, lineage ---------------------------------------------------------
@main.group()
def models() -> None:
    """Registered models: the exact feature versions each model version was trained with."""


@models.command(name="ls")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def models_ls(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Model versions: status, experiment, training set, features."""
    with _store(ctx) as store:
        rows = store.models(name)
    _emit_rows(rows, as_json, ["model", "version", "status", "experiment", "training_set", "features", "created_at"],
               "no models; register one with: fspg models register NAME --training-set SET")


@models.command(name="describe")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def models_describe(ctx: click.Context, name: str, as_json: bool) -> None:
    """One model version (NAME or NAME@V; default its newest): features, params, metrics, lineage."""
    from fspg.catalog import parse_ref
    from fspg.errors import NotFound

    model, version = parse_ref(name)
    with _store(ctx) as store:
        rows = [r for r in store.models(model) if version is None or r["version"] == version]
        if not rows:
            raise NotFound(f"model {name} is not registered", hint="fspg models ls lists the registered models")
        row = rows[-1]
        row["lineage"] = store.lineage(f"model:{model}@{row['version']}", "up")
    if as_json:
        from fspg.output import emit_json

        emit_json(row)
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


def _plain(value) -> str:
    import json

    return "-" if value is None else json.dumps(value) if isinstance(value, (dict, list)) else str(value)


@models.command(name="register")
@click.argument("name")
@click.option("--version", type=int, help="The model version (default: the next).")
@click.option("--training-set", help="The stored training set it was trained on (NAME or NAME@V).")
@click.option("--features", help="Or the features it consumes, comma-separated (pinned to current versions).")
@click.option("--experiment", help="The experiment (run) id it came from.")
@click.option("--params", help="Hyper-parameters as a JSON object.")
@click.option("--metrics", help="Evaluation metrics as a JSON object.")
@click.option("--description")
@click.pass_context
def models_register(ctx: click.Context, name: str, version: int | None, training_set: str | None, features: str | None,
                    experiment: str | None, params: str | None, metrics: str | None, description: str | None) -> None:
    """Register model NAME bound to the features it was trained with."""
    import json

    from fspg.errors import UserError

    try:
        params_doc, metrics_doc = (json.loads(params) if params else None), (json.loads(metrics) if metrics else None)
    except json.JSONDecodeError as err:
        raise UserError(f"--params and --metrics take JSON objects: {err}") from None
    with _store(ctx) as store:
        row = store.register_model(name, version, training_set=training_set,
                                   features=features.split(",") if features else None, experiment=experiment,
                                   params=params_doc, metrics=metrics_doc, description=description)
    click.echo(f"{row['action']:<10} model {row['name']}@{row['version']}: {', '.join(row['features'])}")


@models.command(name="archive")
@click.argument("name")
@click.pass_context
def models_archive(ctx: click.Context, name: str) -> None:
    """Archive model version NAME@V (it stops pinning its feature view versions)."""
    from fspg.catalog import parse_ref
    from fspg.errors import UserError

    model, version = parse_ref(name)
    if version is None:
        raise UserError("archive names one version: NAME@V")
    with _store(ctx) as store:
        store.archive_model(model, version)
    click.echo(f"archived model {model}@{version}")


@main.command()
@click.argument("view")
@click.pass_context
def deprecate(ctx: click.Context, view: str) -> None:
    """Deprecate feature view version VIEW@V (refused while an active model uses it)."""
    with _store(ctx) as store:
        store.deprecate(view)
    click.echo(f"deprecated {view}")


_DRIFT_COLUMNS = ["feature", "change", "psi", "mean_shift", "null_rate_delta", "drifted", "reasons"]


def _emit_drift(rows: list[dict], as_json: bool, check: bool) -> None:
    for row in rows:
        for key in ("psi", "mean_shift", "null_rate_delta"):
            if row[key] is not None and not as_json:
                row[key] = round(row[key], 4) + 0.0  # no -0.0
    _emit_rows(rows, as_json, _DRIFT_COLUMNS)
    if check and any(r["drifted"] for r in rows):
        sys.exit(3)


@main.command()
@click.argument("view")
@click.argument("base", type=int)
@click.argument("new", type=int)
@click.option("--start", help="First event time compared (default: the range both versions cover).")
@click.option("--end", help="Last event time compared.")
@click.option("--check", is_flag=True, help="Exit 3 when a feature crosses its drift thresholds.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def compare(ctx: click.Context, view: str, base: int, new: int, start: str | None, end: str | None, check: bool,
            as_json: bool) -> None:
    """Drift of version NEW of VIEW against BASE, per feature: schema, PSI, mean shift, null rate."""
    with _store(ctx) as store:
        rows = store.compare_versions(view, base, new, start=start, end=end)
    _emit_drift(rows, as_json, check)


@main.command()
@click.argument("view")
@click.option("--start", help="First event time of history compared.")
@click.option("--end", help="Last event time of history compared.")
@click.option("--check", is_flag=True, help="Exit 3 when a feature crosses its drift thresholds.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def skew(ctx: click.Context, view: str, start: str | None, end: str | None, check: bool, as_json: bool) -> None:
    """Training/serving skew of VIEW[@V]: history against what the online table serves now."""
    with _store(ctx) as store:
        rows = store.training_serving_skew(view, start=start, end=end)
    _emit_drift(rows, as_json, check)


@main.command()
@click.argument("view")
@click.option("--start", help="First event time (inclusive).")
@click.option("--end", help="Last event time (inclusive).")
@click.option("--online", is_flag=True, help="Measure what the online table serves instead of history.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with quantiles and histograms).")
@click.pass_context
def stats(ctx: click.Context, view: str, start: str | None, end: str | None, online: bool, as_json: bool) -> None:
    """Compute and store statistics of every feature of VIEW[@V]."""
    with _store(ctx) as store:
        rows = store.compute_stats(view, start, end, source="online" if online else "history")
    if not as_json:
        for row in rows:
            quantiles = row.pop("quantiles") or []
            row["p50"] = quantiles[50] if quantiles else None
            for key in ("mean", "stddev", "p50"):
                row[key] = None if row[key] is None else round(row[key], 4)
    _emit_rows(rows, as_json, ["feature", "row_count", "nulls", "min", "max", "mean", "stddev", "p50", "distinct_count"])


@main.command()
@click.argument("obj", metavar="OBJECT")
@click.option("--up", "direction", flag_value="up", help="Only where its data comes from.")
@click.option("--down", "direction", flag_value="down", help="Only what uses it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def lineage(ctx: click.Context, obj: str, direction: str | None, as_json: bool) -> None:
    """Lineage of OBJECT (view@V, model:NAME@V, training_set:NAME@V, or a feature view.feature)."""
    with _store(ctx) as store:
        rows = store.lineage(obj, direction or "both")
    _emit_rows(rows, as_json, ["direction", "depth", "kind", "name", "parent_kind", "parent_name"])


# -- online store -----------------------------------------------------------------------
@main.command()
@click.argument("name", required=False)
@click.option("--start", help="Window start (event time, inclusive). Default: the view's high-water mark.")
@click.option("--end", help="Window end (exclusive). Default: now.")
@click.option("--chunk", help="Split the range into windows of this size, e.g. '1 day' (resumable backfill).")
@click.option("--online", "online_only", is_flag=True, help="Only rebuild NAME's online table from its history.")
@click.option("--loop", is_flag=True, help="Run due refreshes of every SQL-defined view, forever.")
@click.option("--every", type=float, default=60.0, show_default=True, help="Seconds between --loop rounds.")
@click.option("--rounds", type=int, help="Stop --loop after this many rounds (default: never).")
@click.pass_context
def materialize(ctx: click.Context, name: str | None, start: str | None, end: str | None, chunk: str | None,
                online_only: bool, loop: bool, every: float, rounds: int | None) -> None:
    """Bring NAME up to date: run a SQL-defined view's source query for a window (appending
    through the validated write path; re-running a window adds only what changed), or
    rebuild a view's online table from its history."""
    from fspg.errors import UserError

    if loop:
        _materialize_loop(ctx, every, rounds)
        return
    if not name:
        raise UserError("name a feature view, or use --loop")
    with _store(ctx) as store:
        if online_only:
            _echo_online(store.rebuild_online(name))
            return
        for row in store.materialize(name, start, end, chunk=chunk, on_window=_echo_window):
            if "entities" in row:
                _echo_online(row)


def _echo_window(row: dict) -> None:
    click.echo(f"{row['feature_view']}@{row['version']} [{row['window_start']}, {row['window_end']}):"
               f" {row['rows_in']:,} rows from the source, {row['unchanged']:,} unchanged, {row['inserted']:,} inserted,"
               f" {row['quarantined']:,} quarantined (batch {row['batch_id']})")


def _echo_online(result: dict) -> None:
    click.echo(f"{result['feature_view']}@{result['version']}: {result['entities']:,} online rows written,"
               f" {result['removed']:,} stale rows removed")


def _materialize_loop(ctx: click.Context, every: float, rounds: int | None) -> None:
    import itertools
    import time

    with _store(ctx) as store:
        for round_number in itertools.count(1):
            for row in store.run_due_sources():
                if row["error"]:
                    click.echo(f"{row['feature_view']}@{row['version']}: failed: {row['error']}", err=True)
                else:
                    click.echo(f"{row['feature_view']}@{row['version']} [{row['window_start']}, {row['window_end']}):"
                               f" {row['inserted']:,} inserted, {row['quarantined']:,} quarantined")
            if rounds is not None and round_number >= rounds:
                return
            time.sleep(every)


@main.command()
@click.option("--features", help="Comma-separated references: view.feature, view@2.feature, view.*")
@click.option("--service", help="A feature service instead of --features.")
@click.option("--key", "keys", multiple=True, required=True,
              help="KEY=V1,V2,... (repeat per key column), e.g. --key user_id=1,2 --key merchant_id=7,8")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def online(ctx: click.Context, features: str | None, service: str | None, keys: tuple[str, ...], as_json: bool) -> None:
    """Look up online feature values for some entities (one round trip)."""
    from fspg.errors import UserError

    entities: dict[str, list] = {}
    for item in keys:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise UserError(f"expected KEY=V1,V2,..., got {item!r}")
        entities[key] = [int(v) if v.lstrip("-").isdigit() else v for v in values.split(",")]
    with _store(ctx) as store:
        rows = store.get_online_features(features.split(",") if features else None, service=service,
                                         entities=entities, as_dicts=True)
    _emit_rows(rows, as_json, list(rows[0]) if rows else [])


@main.group()
def source() -> None:
    """Sources: other databases for SQL-defined views (postgres_fdw), CDC from application databases."""


@source.command(name="add")
@click.argument("name")
@click.option("--dsn", "source_dsn", required=True, help="DSN of the source database, as the feature store's server reaches it.")
@click.option("--tables", required=True, help="Comma-separated tables to import.")
@click.option("--schema", default="public", show_default=True, help="Their schema in the source database.")
@click.pass_context
def source_add(ctx: click.Context, name: str, source_dsn: str, tables: str, schema: str) -> None:
    """Import TABLES of another database as src_NAME.<table> for source queries."""
    with _store(ctx) as store:
        added = store.add_source(name, source_dsn, tables.split(","), schema=schema)
    click.echo(f"source {added['name']}: {', '.join(added['local_schema'] + '.' + t for t in added['tables'])}")


@source.command(name="add-cdc")
@click.argument("name")
@click.option("--dsn", "source_dsn", required=True, help="DSN of the application database, as the feature store's server reaches it.")
@click.option("--table", required=True, help="The table to capture, schema.table.")
@click.option("--view", required=True, help="The feature view its changes feed (columns map to features by name).")
@click.option("--event-time", help="The column holding each change's event time (default: when it is applied).")
@click.pass_context
def source_add_cdc(ctx: click.Context, name: str, source_dsn: str, table: str, view: str, event_time: str | None) -> None:
    """Capture TABLE's changes into VIEW by logical replication (no Kafka, no Debezium)."""
    with _store(ctx) as store:
        subscription = store.add_cdc_source(name, source_dsn, table, view, event_time=event_time)
    click.echo(f"source {name}: {table} -> {view} (subscription {subscription}); fspg source status shows its lag")


@source.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def source_status(ctx: click.Context, as_json: bool) -> None:
    """CDC sources: subscription state, errors, lag on the source."""
    with _store(ctx) as store:
        rows = store.cdc_status()
    _emit_rows(rows, as_json, ["name", "table", "enabled", "source_reachable", "streaming", "lag_bytes", "apply_errors",
                               "sync_errors", "last_msg_receipt_time"], "no CDC sources; add one with: fspg source add-cdc")


@source.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def source_ls(ctx: click.Context, as_json: bool) -> None:
    """Source databases, then SQL-defined views: refresh, high-water mark, last error."""
    with _store(ctx) as store:
        databases = store.sources()
        views = store.source_views()
    if as_json:
        from fspg.output import emit_json

        emit_json({"databases": databases, "views": views})
        return
    _emit_rows(databases, False, ["name", "kind", "local_schema", "tables", "added_at"], "no source databases")
    _emit_rows(views, False, ["feature_view", "version", "refresh", "high_water", "runs", "rows_inserted", "last_error"],
               "no SQL-defined feature views")


@source.command(name="remove")
@click.argument("name")
@click.pass_context
def source_remove(ctx: click.Context, name: str) -> None:
    """Drop source NAME: its foreign server and imported tables, or its subscription, the
    replication slot and publication on the source, and the mirror table."""
    with _store(ctx) as store:
        complete = store.remove_source(name)
    if complete:
        click.echo(f"source {name} removed")
    else:
        click.echo(f"source {name} removed here; its source did not answer, so drop its slot there:"
                   f" SELECT pg_drop_replication_slot('fspg_cdc_{name}')", err=True)


@main.group()
def replica() -> None:
    """Serving replicas: other PostgreSQL servers subscribed to the online tables."""


@replica.command(name="add")
@click.option("--dsn", "replica_dsn", required=True, help="DSN of the replica database (it needs to reach the primary).")
@click.option("--name", help="A name for it (default: from host, port and database).")
@click.pass_context
def replica_add(ctx: click.Context, replica_dsn: str, name: str | None) -> None:
    """Prepare a replica and subscribe it to every online table (views made later follow)."""
    from fspg import replicas

    added = replicas.add(_dsn(ctx), replica_dsn, name)
    click.echo(f"replica {added.name} subscribed ({added.subscription}); fspg replica status shows its lag")


@replica.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def replica_status(ctx: click.Context, as_json: bool) -> None:
    """Each replica: reachable, streaming, lag in bytes and seconds, apply errors."""
    from fspg import replicas

    rows = replicas.status(_dsn(ctx))
    _emit_rows(rows, as_json, ["name", "reachable", "streaming", "lag_bytes", "lag_seconds", "errors", "dsn"],
               "no replicas; add one with: fspg replica add --dsn DSN")


@replica.command(name="sync")
@click.pass_context
def replica_sync(ctx: click.Context) -> None:
    """Bring every replica's online schema up to date and refresh its subscription."""
    from fspg import replicas

    unreachable = replicas.sync(_dsn(ctx))
    click.echo("replicas in step" if not unreachable else f"not reachable: {', '.join(unreachable)}")


@replica.command(name="remove")
@click.argument("name")
@click.pass_context
def replica_remove(ctx: click.Context, name: str) -> None:
    """Drop a replica's subscription and its replication slot (no orphan slot is left)."""
    from fspg import replicas

    by_replica = replicas.remove(_dsn(ctx), name)
    click.echo(f"replica {name} removed" + ("" if by_replica else " (replica unreachable: slot dropped on the primary)"))


@main.command()
@click.option("--examples", "examples_path", type=click.Path(),
              help="The feature repository to apply (default: ./examples, else the copy shipped with fspg).")
@click.pass_context
def demo(ctx: click.Context, examples_path: str | None) -> None:
    """Run the main job end to end on the embedded server and print what happened."""
    from fspg.demo import run

    run(ctx.obj["dsn"], examples_path, echo=click.echo)


# Command groups that live in their own modules register themselves on ``main``.
from fspg.commands import rollout as _rollout_commands  # noqa: E402,F401

if __name__ == "__main__":
    main()
