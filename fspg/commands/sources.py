"""``fspg source …`` and ``fspg replica …``: databases fspg reads from and serves to.

Their DSN options are ``--source-dsn`` and ``--replica-dsn``: ``--dsn`` always means the
feature store's own database, wherever it is written on the line."""
from __future__ import annotations

import click

from fspg.commands.common import emit_one, emit_rows, json_option, split, store


@click.group()
def source() -> None:
    """Sources: other databases for SQL-defined views (postgres_fdw), CDC from application databases."""


@source.command(name="add")
@click.argument("name")
@click.option("--source-dsn", required=True, help="DSN of the source database, as the feature store's server reaches it.")
@click.option("--tables", required=True, help="Comma-separated tables to import.")
@click.option("--schema", default="public", show_default=True, help="Their schema in the source database.")
@json_option
@click.pass_context
def source_add(ctx: click.Context, name: str, source_dsn: str, tables: str, schema: str, as_json: bool) -> None:
    """Import TABLES of another database as src_NAME.<table> for source queries."""
    with store(ctx) as fs:
        added = fs.add_source(name, source_dsn, split(tables) or [], schema=schema)
    emit_one(added, as_json, f"source {added['name']}: {', '.join(added['local_schema'] + '.' + t for t in added['tables'])}")


@source.command(name="add-cdc")
@click.argument("name")
@click.option("--source-dsn", required=True, help="DSN of the application database, as the feature store's server reaches it.")
@click.option("--table", required=True, help="The table to capture, schema.table.")
@click.option("--view", required=True, help="The feature view its changes feed (columns map to features by name).")
@click.option("--event-time", help="The column holding each change's event time (default: when it is applied).")
@json_option
@click.pass_context
def source_add_cdc(ctx: click.Context, name: str, source_dsn: str, table: str, view: str, event_time: str | None,
                   as_json: bool) -> None:
    """Capture TABLE's changes into VIEW by logical replication (no Kafka, no Debezium)."""
    with store(ctx) as fs:
        subscription = fs.add_cdc_source(name, source_dsn, table, view, event_time=event_time)
    emit_one({"name": name, "table": table, "feature_view": view, "subscription": subscription}, as_json,
             f"source {name}: {table} -> {view} (subscription {subscription}); fspg source status shows its lag")


@source.command(name="status")
@json_option
@click.pass_context
def source_status(ctx: click.Context, as_json: bool) -> None:
    """CDC sources: subscription state, errors, lag on the source."""
    with store(ctx) as fs:
        rows = fs.cdc_status()
    emit_rows(rows, as_json, ["name", "table", "enabled", "source_reachable", "streaming", "lag_bytes", "apply_errors",
                              "sync_errors", "last_msg_receipt_time"], "no CDC sources; add one with: fspg source add-cdc")


@source.command(name="ls")
@json_option
@click.pass_context
def source_ls(ctx: click.Context, as_json: bool) -> None:
    """Source databases, then SQL-defined views: refresh, high-water mark, last error.
    With --json one list: each object's ``object`` says which of the two it is."""
    with store(ctx) as fs:
        databases = fs.sources()
        views = fs.source_views()
    if as_json:
        emit_rows([{"object": "database", **d} for d in databases] + [{"object": "feature_view", **v} for v in views],
                  True)
        return
    emit_rows(databases, False, ["name", "kind", "local_schema", "tables", "added_at"], "no source databases")
    emit_rows(views, False, ["feature_view", "version", "refresh", "high_water", "runs", "rows_inserted", "last_error"],
              "no SQL-defined feature views")


@source.command(name="remove")
@click.argument("name")
@json_option
@click.pass_context
def source_remove(ctx: click.Context, name: str, as_json: bool) -> None:
    """Drop source NAME: its foreign server and imported tables, or its subscription, the
    replication slot and publication on the source, and the mirror table."""
    with store(ctx) as fs:
        removed = fs.remove_source(name)
    emit_one({"name": name, "removed": True, "slot_left_on_source": removed.slot_left_on_source}, as_json,
             f"source {name} removed")
    if removed.slot_left_on_source:
        click.echo(f"source {name}: its source did not answer, so drop its slot there:"
                   f" SELECT pg_drop_replication_slot('{removed.slot_left_on_source}')", err=True)


@click.group()
def replica() -> None:
    """Serving replicas: other PostgreSQL servers subscribed to the online tables."""


@replica.command(name="add")
@click.option("--replica-dsn", required=True, help="DSN of the replica database (it needs to reach the primary).")
@click.option("--name", help="A name for it (default: from host, port and database).")
@json_option
@click.pass_context
def replica_add(ctx: click.Context, replica_dsn: str, name: str | None, as_json: bool) -> None:
    """Prepare a replica and subscribe it to every online table (views made later follow)."""
    with store(ctx) as fs:
        added = fs.add_replica(replica_dsn, name)
    emit_one({"name": added.name, "subscription": added.subscription}, as_json,
             f"replica {added.name} subscribed ({added.subscription}); fspg replica status shows its lag")


@replica.command(name="status")
@json_option
@click.pass_context
def replica_status(ctx: click.Context, as_json: bool) -> None:
    """Each replica: reachable, streaming, lag in bytes and seconds, apply errors."""
    with store(ctx) as fs:
        rows = fs.replica_status()
    emit_rows(rows, as_json, ["name", "reachable", "streaming", "lag_bytes", "lag_seconds", "errors", "dsn"],
              "no replicas; add one with: fspg replica add --replica-dsn DSN")


@replica.command(name="sync")
@json_option
@click.pass_context
def replica_sync(ctx: click.Context, as_json: bool) -> None:
    """Bring every replica's online schema up to date and refresh its subscription."""
    with store(ctx) as fs:
        unreachable = fs.sync_replicas()
    emit_one({"unreachable": unreachable}, as_json,
             "replicas in step" if not unreachable else f"not reachable: {', '.join(unreachable)}")


@replica.command(name="remove")
@click.argument("name")
@json_option
@click.pass_context
def replica_remove(ctx: click.Context, name: str, as_json: bool) -> None:
    """Drop a replica's subscription and its replication slot (no orphan slot is left)."""
    with store(ctx) as fs:
        by_replica = fs.remove_replica(name)
    emit_one({"name": name, "removed": True, "replica_answered": by_replica}, as_json,
             f"replica {name} removed" + ("" if by_replica else " (replica unreachable: slot dropped on the primary)"))


COMMANDS = (source, replica)
