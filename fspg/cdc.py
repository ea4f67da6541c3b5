"""Change data capture from an application database, by native logical replication.

``add`` checks the source table (it needs a primary key or REPLICA IDENTITY FULL, and the
source wal_level = logical), has the feature store make a mirror table whose trigger feeds
the feature view (``fs.cdc_prepare``), publishes the table on the source (or reuses a
publication that has it) and subscribes the feature store to it. ``status`` reports each
subscription's lag and errors; ``remove`` drops the subscription and its replication slot
on the source, so no orphan slot keeps the source's WAL.
"""
from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from fspg import subscriptions
from fspg.connection import connect, describe_dsn
from fspg.errors import ConnectionFailed, NotFound, SchemaMismatch, UserError, mapped_errors
from fspg.statements import Q



def add(store_dsn: str, name: str, source_dsn: str, table: str, view: str, event_time: str | None = None) -> str:
    """Capture ``table`` (schema.table) of the database at ``source_dsn`` into ``view``; returns the subscription."""
    with mapped_errors():
        return _add(store_dsn, name, source_dsn, table, view, event_time)


def _add(store_dsn: str, name: str, source_dsn: str, table: str, view: str, event_time: str | None) -> str:
    schema, _, relation = table.rpartition(".")
    schema = schema or "public"
    with connect(store_dsn, autocommit=True) as store:
        # The name is checked, and the publication, subscription and slot named, in SQL.
        publication = subscription = store.execute(Q.cdc_name, {"name": name}).fetchone()[0]
        subscriptions.require_right(store, "adding a CDC source")
    with connect(source_dsn, autocommit=True) as source, source.cursor(row_factory=dict_row) as cur:
        if cur.execute(Q.wal_level).fetchone()["wal_level"] != "logical":
            raise UserError(f"{describe_dsn(source_dsn)} has wal_level other than logical: changes cannot be captured",
                            hint="ALTER SYSTEM SET wal_level = logical on the source, then restart it")
        found = cur.execute(Q.cdc_source_table, {"schema": schema, "table": relation}).fetchone()
        if found is None:
            raise NotFound(f"table {schema}.{relation} does not exist in {describe_dsn(source_dsn)}")
        if not found["keys"] and found["relreplident"] != "f":
            raise SchemaMismatch(
                f"table {schema}.{relation} has neither a primary key nor REPLICA IDENTITY FULL:"
                " updates and deletes cannot be captured",
                hint=f"ALTER TABLE {schema}.{relation} ADD PRIMARY KEY (...), or"
                     f" ALTER TABLE {schema}.{relation} REPLICA IDENTITY FULL, on the source")
        with connect(store_dsn) as store:
            # The mirror table must carry the source's schema-qualified name and belongs to
            # fs_owner, which may create in that schema for this transaction only.
            lend = store.execute(Q.cdc_schema_to_lend, {"schema": schema}).fetchone()[0]
            if lend:
                store.execute(sql.SQL("GRANT CREATE ON SCHEMA {} TO fs_owner").format(sql.Identifier(schema)))
            store.execute(Q.cdc_prepare, {"name": name, "table": f"{schema}.{relation}", "view": view, "event_time": event_time,
                                    "columns": json.dumps(found["columns"]), "keys": found["keys"] or [],
                                    "dsn": describe_dsn(source_dsn)})
            if lend:
                store.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM fs_owner").format(sql.Identifier(schema)))
            # The mirror belongs to the subscription's owner (this login): PostgreSQL 16+
            # applies each change as the table's owner, and a switch of role per change
            # cost 30x in latency; it also leaves fs_owner no way to add code to a table
            # that a superuser's apply worker writes. Its trigger still runs as fs_owner.
            store.execute(sql.SQL("ALTER TABLE {} OWNER TO CURRENT_USER").format(sql.Identifier(schema, relation)))
            # Erasure (fs.forget) removes an entity from the mirror too.
            store.execute(sql.SQL("GRANT SELECT, DELETE ON {} TO fs_owner").format(sql.Identifier(schema, relation)))
            store.commit()
        made = False
        try:
            _publish(source, publication, schema, relation)
            subscriptions.make_slot(source, subscription)
            with connect(store_dsn, autocommit=True) as store:
                subscriptions.create(store, subscription, source_dsn, publication, subscription)
            made = True
            _wait_until_synced(store_dsn, subscription)
        except Exception:
            # A failed add leaves nothing: not the catalog rows and mirror table, not the
            # slot, not the publication (a subscription of that name fspg did not make is
            # left alone: fspg.subscriptions drops only what it made).
            with connect(store_dsn, autocommit=True) as store:
                if made:
                    subscriptions.drop(store, subscription, keep_slot=True)
                _return_mirror(store, schema, relation)
                store.execute(Q.remove_source_database, {"name": name})
            subscriptions.drop_idle_slot(source, subscription)
            _unpublish(source, publication, schema, relation)
            raise
    return subscription


def _wait_until_synced(store_dsn: str, subscription: str, timeout: float = 120.0) -> None:
    """Return once the initial copy is done: from then on every change arrives one by one
    (changes made before are folded into the copy, as the table was at that moment)."""
    import time

    deadline = time.monotonic() + timeout
    with connect(store_dsn, autocommit=True) as store:
        while True:
            ready = store.execute(Q.subscription_synced, [subscription]).fetchone()[0]
            if ready:
                return
            if time.monotonic() > deadline:
                raise UserError(f"the initial copy of subscription {subscription} did not finish in {timeout:.0f} s",
                                hint="see the feature store server's log for the apply worker's error")
            time.sleep(0.1)


def _return_mirror(store: psycopg.Connection, schema: str, relation: str) -> None:
    """Give the mirror table back to fs_owner, so fs.remove_source_database may drop it."""
    if store.execute(Q.relation_exists, [schema, relation]).fetchone()[0]:
        store.execute(sql.SQL("ALTER TABLE {} OWNER TO fs_owner").format(sql.Identifier(schema, relation)))


def _unpublish(source: psycopg.Connection, publication: str, schema: str, relation: str) -> None:
    """Undo _publish after a failed add: the table leaves the publication, an empty one goes."""
    if source.execute(Q.publication_exists, [publication]).fetchone():
        tables = source.execute(Q.publication_table_count, [publication]).fetchone()[0]
        if tables <= 1:
            source.execute(sql.SQL("DROP PUBLICATION {}").format(sql.Identifier(publication)))
        else:
            source.execute(sql.SQL("ALTER PUBLICATION {} Q.remove_source_database TABLE {}").format(
                sql.Identifier(publication), sql.Identifier(schema, relation)))


def _publish(source: psycopg.Connection, publication: str, schema: str, relation: str) -> None:
    """A publication of the table: created, or an existing one of that name extended."""
    exists = source.execute(Q.publication_exists, [publication]).fetchone()
    target = sql.Identifier(schema, relation)
    if not exists:
        source.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(publication), target))
    elif not source.execute(Q.publication_has_table,
                            [publication, schema, relation]).fetchone():
        source.execute(sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(sql.Identifier(publication), target))


def status(store_dsn: str) -> list[dict[str, Any]]:
    """Per CDC source: the subscription's state and error counts, and its lag on the source."""
    out = []
    with connect(store_dsn, autocommit=True) as store, store.cursor(row_factory=dict_row) as cur:
        for source in cur.execute(Q.cdc_sources).fetchall():
            row = {"name": source["name"], "table": f"{source['local_schema']}.{source['tables'][0]}",
                   "subscription": source["server_name"], **(cur.execute(Q.cdc_subscription_state, {"sub": source["server_name"]})
                                                              .fetchone() or {}),
                   "source_reachable": False, "streaming": None, "lag_bytes": None}
            try:
                with connect(source["dsn"], autocommit=True) as remote, remote.cursor(row_factory=dict_row) as rcur:
                    slot = rcur.execute(Q.replication_slot_lag, {"slot": source["server_name"]}).fetchone()
                row["source_reachable"] = True
                if slot:
                    row["streaming"], row["lag_bytes"] = slot["active"], slot["lag_bytes"]
            except ConnectionFailed:
                pass
            out.append(row)
    return out


def remove(store_dsn: str, name: str) -> bool:
    """Drop the subscription, its slot and publication on the source, the mirror table.
    Returns False when the source did not answer (its slot could then not be dropped)."""
    with connect(store_dsn, autocommit=True) as store, store.cursor(row_factory=dict_row) as cur:
        source = next((s for s in cur.execute(Q.cdc_sources).fetchall() if s["name"] == name), None)
        if source is None:
            raise NotFound(f"CDC source {name} does not exist", hint="fspg source ls lists them")
        reachable = True
        if store.execute(Q.subscription_exists, [source["server_name"]]).fetchone():
            try:
                with connect(source["dsn"], autocommit=True):
                    pass
            except ConnectionFailed:
                reachable = False
            # Reachable, Q.remove_source_database SUBSCRIPTION drops the slot on the source too; else the slot
            # is left for the user to drop there (the CLI names it).
            subscriptions.drop(store, source["server_name"], keep_slot=not reachable)
        if reachable:
            with connect(source["dsn"], autocommit=True) as remote:
                remote.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(source["server_name"])))
        _return_mirror(store, source["local_schema"], source["tables"][0])
        store.execute(Q.remove_source_database, {"name": name})
    return reachable
