"""Serving replicas: other PostgreSQL servers that subscribe to the online tables.

``add`` gives the replica the online schema (tables, views, serving functions) and a
subscription to the primary's publication ``fspg_online``; ``sync`` brings it up to
date after definitions change (fspg's ``apply`` calls it); ``status`` reports lag from
the primary's replication slots; ``remove`` drops the subscription and its slot, so no
orphan slot keeps WAL on the primary.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from fspg import subscriptions, worker_replicas
from fspg.connection import connect, describe_dsn
from fspg.errors import ConnectionFailed, UserError, mapped_errors
from fspg.statements import Q, scalar



@dataclass(frozen=True)
class Replica:
    """A registered replica."""

    name: str
    dsn: str
    subscription: str
    slot_name: str


def _name_from_dsn(dsn: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    raw = f"{params.get('host', 'local')}_{params.get('port', '5432')}_{params.get('dbname', '')}"
    name = re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", raw.lower())).strip("_")
    # A name starts with a letter: 127.0.0.1 would make one that no check accepts.
    return ("replica_" + name if not name[:1].isalpha() else name)[:48]


def replicas(primary: psycopg.Connection) -> list[Replica]:
    """The replicas registered on the primary."""
    return [Replica(*row) for row in primary.execute(Q.replicas)]


def _apply_ddl(primary: psycopg.Connection, replica: psycopg.Connection) -> None:
    statements = [row[0] for row in primary.execute(Q.replica_ddl)]
    with replica.transaction():
        for statement in statements:
            replica.execute(statement)


def add(primary_dsn: str, replica_dsn: str, name: str | None = None) -> Replica:
    """Prepare ``replica_dsn`` and subscribe it to the primary's online tables."""
    name = name or _name_from_dsn(replica_dsn)
    subscription = f"fspg_{name}"
    with connect(primary_dsn, autocommit=True) as primary:
        with mapped_errors():  # the one rule for names: fs.check_name (YF001 -> InvalidName)
            primary.execute(Q.check_replica_name, {"name": name})
        known = {r.name: r for r in replicas(primary)}
        if name in known or any(_same_server(r.dsn, replica_dsn) for r in known.values()):
            raise UserError(f"{describe_dsn(replica_dsn)} is already a replica ({name})",
                            hint="fspg replica status shows it; fspg replica remove drops it")
        with mapped_errors():  # a role that may not create the publication: PermissionDenied
            primary.execute(Q.ensure_publication)
        with connect(replica_dsn, autocommit=True) as replica:
            subscriptions.require_right(replica, "adding a serving replica")
            _apply_ddl(primary, replica)
            # The slot first, on the primary: the subscription is made without connecting,
            # so its password never reaches a statement (fspg.subscriptions).
            subscriptions.make_slot(primary, subscription)
            try:
                subscriptions.create(replica, subscription, primary_dsn, "fspg_online", subscription)
            except Exception:
                # fspg.subscriptions dropped what it made; the slot made above goes too.
                subscriptions.drop_idle_slot(primary, subscription)
                raise
            if scalar(primary, Q.is_distributed):
                # On Citus the keyed views' rows come from the workers (fspg.worker_replicas).
                try:
                    worker_replicas.add(primary, primary_dsn, replica, subscription)
                except Exception:
                    worker_replicas.remove(replica, subscription)
                    subscriptions.drop(replica, subscription, keep_slot=True)
                    subscriptions.drop_idle_slot(primary, subscription)
                    raise
        # The registry keeps how to reach the replica, never its password (a client's
        # .pgpass or PGPASSWORD supplies it to status and sync).
        primary.execute(Q.register_replica, {"name": name, "dsn": describe_dsn(replica_dsn), "sub": subscription})
    return Replica(name, describe_dsn(replica_dsn), subscription, subscription)


def _same_server(a: str, b: str) -> bool:
    pa_, pb = psycopg.conninfo.conninfo_to_dict(a), psycopg.conninfo.conninfo_to_dict(b)
    return all(pa_.get(k) == pb.get(k) for k in ("host", "port", "dbname"))


def sync(primary_dsn: str) -> list[str]:
    """Give every replica the online tables, views and functions made since, and refresh its
    subscription. Returns the names of replicas that could not be reached."""
    unreachable = []
    with connect(primary_dsn, autocommit=True) as primary:
        for replica in replicas(primary):
            try:
                with connect(replica.dsn, autocommit=True) as conn:
                    _apply_ddl(primary, conn)
                    primary.execute(Q.ensure_publication)
                    conn.execute(sql.SQL("ALTER SUBSCRIPTION {} REFRESH PUBLICATION").format(
                        sql.Identifier(replica.subscription)))
                    if scalar(primary, Q.is_distributed):
                        worker_replicas.sync(primary, primary_dsn, conn, replica.subscription)
            except ConnectionFailed:
                unreachable.append(replica.name)
    return unreachable


def status(primary_dsn: str) -> list[dict[str, Any]]:
    """Per replica: reachable, subscription enabled, bytes and seconds behind, last error count."""
    with connect(primary_dsn, autocommit=True) as primary, primary.cursor(row_factory=dict_row) as cur:
        slots = {row["name"]: row for row in cur.execute(Q.replica_slots)}
        result = []
        for replica in replicas(primary):
            slot = slots.get(replica.name, {})
            row = {"name": replica.name, "dsn": describe_dsn(replica.dsn), "slot": replica.slot_name,
                   "streaming": bool(slot.get("active")), "lag_bytes": int(slot["lag_bytes"]) if slot.get("lag_bytes") is not None else None,
                   "lag_seconds": slot["replay_lag"].total_seconds() if slot.get("replay_lag") else 0.0,
                   "reachable": False, "enabled": None, "errors": None}
            try:
                with connect(replica.dsn, autocommit=True) as conn:
                    sub = conn.execute(
                        Q.replica_subscription_state, [replica.subscription]).fetchone()
                row["reachable"] = True
                if sub:
                    row["enabled"], row["errors"] = sub[0], int(sub[1])
            except ConnectionFailed:
                pass
            result.append(row)
        return result


def remove(primary_dsn: str, name: str) -> bool:
    """Drop a replica's subscription and its slot on the primary; forget the replica."""
    with connect(primary_dsn, autocommit=True) as primary:
        known = {r.name: r for r in replicas(primary)}
        if name not in known:
            raise UserError(f"no replica named {name}", hint="fspg replica status lists them")
        replica = known[name]
        dropped_by_replica = False
        try:
            with connect(replica.dsn, autocommit=True) as conn:
                worker_replicas.remove(conn, replica.subscription)
                if conn.execute(Q.subscription_exists, [replica.subscription]).fetchone():
                    conn.execute(sql.SQL("DROP SUBSCRIPTION {}").format(sql.Identifier(replica.subscription)))
                dropped_by_replica = True
        except ConnectionFailed:
            pass
        # A replica that is gone cannot drop its slot: do it here, or it keeps WAL forever.
        slot = primary.execute(Q.slot_active_pid,
                               [replica.slot_name]).fetchone()
        if slot is not None:
            _drop_slot(primary, replica.slot_name, slot[0])
        primary.execute(Q.forget_replica, {"name": name})
        return dropped_by_replica


def _drop_slot(primary: psycopg.Connection, slot_name: str, active_pid: int | None) -> None:
    import time

    if active_pid is not None:
        primary.execute(Q.terminate_backend, [active_pid])
    deadline = time.monotonic() + 10
    while True:
        try:
            primary.execute(Q.drop_slot,
                            [slot_name])
            return
        except psycopg.errors.ObjectInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # the walsender is still exiting
