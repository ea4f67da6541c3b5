"""Serving replicas of a distributed store (Citus): fed by every worker.

On Citus the online rows live in shards on the workers; a publication on the coordinator
carries only the tables kept there (global views). So a replica subscribes to each worker
too, through Citus's change data capture, which names a shard's changes by its
distributed table. A worker's own table sync cannot give the first copy (it reads the
distributed table, every shard of it, through Citus), so fspg takes it: the slot is made
on a replication connection that exports its snapshot, the worker's own shards are read
in that snapshot, and the subscription starts from the slot without copying. Each worker
holds its shards, so the copies never overlap, and nothing written after a slot's
snapshot is missed or applied twice.
"""
from __future__ import annotations

import psycopg
from psycopg import sql

from fspg import subscriptions
from fspg.connection import connect, describe_dsn
from fspg.statements import Q

PUBLICATION = "fspg_online"


def worker_dsns(primary: psycopg.Connection, primary_dsn: str) -> list[tuple[int, str]]:
    """Each worker's group id and DSN: the coordinator's DSN with the worker's host and port."""
    params = psycopg.conninfo.conninfo_to_dict(primary_dsn)
    return [(group, psycopg.conninfo.make_conninfo(**{**params, "host": host, "port": str(port)}))
            for host, port, group in primary.execute(Q.worker_nodes)]


def subscription_name(base: str, group: int) -> str:
    """The replica's subscription to the worker of group ``group``."""
    return f"{base}_w{group}"


def add(primary: psycopg.Connection, primary_dsn: str, replica: psycopg.Connection, base: str) -> None:
    """Subscribe ``replica`` (its online tables made already) to every worker's shards."""
    tables = [row[0] for row in primary.execute(Q.distributed_online_tables)]
    # Rows an earlier, failed add copied would collide with this one's copies.
    replica.execute(sql.SQL("TRUNCATE {}").format(
        sql.SQL(", ").join(sql.SQL("fs_online.{}").format(sql.Identifier(t)) for t in tables)))
    for group, dsn in worker_dsns(primary, primary_dsn):
        with connect(dsn, autocommit=True) as worker:
            _publish(worker, tables)
        name = subscription_name(base, group)
        try:
            _copy_from_slot(dsn, name, replica, tables)
            subscriptions.create(replica, name, dsn, PUBLICATION, name, copy_data=False)
        except Exception:
            # The slot made for the copy would keep the worker's WAL forever.
            with connect(dsn, autocommit=True) as worker:
                subscriptions.drop_idle_slot(worker, name)
            raise


def sync(primary: psycopg.Connection, primary_dsn: str, replica: psycopg.Connection, base: str) -> None:
    """Publish online tables distributed since on every worker and refresh the replica's
    subscriptions to them (new versions start empty: their rows stream)."""
    tables = [row[0] for row in primary.execute(Q.distributed_online_tables)]
    for group, dsn in worker_dsns(primary, primary_dsn):
        with connect(dsn, autocommit=True) as worker:
            _publish(worker, tables)
        replica.execute(sql.SQL("ALTER SUBSCRIPTION {} REFRESH PUBLICATION WITH (copy_data = false)").format(
            sql.Identifier(subscription_name(base, group))))


def remove(replica: psycopg.Connection, base: str) -> None:
    """Drop the replica's subscriptions to the workers (their slots go with them)."""
    for (name,) in replica.execute(Q.worker_subscriptions, {"pattern": base + "\\_w%"}).fetchall():
        replica.execute(sql.SQL("DROP SUBSCRIPTION {}").format(sql.Identifier(name)))


def _publish(worker: psycopg.Connection, tables: list[str]) -> None:
    # On the worker alone: with metadata synced it would propagate the DDL to every node.
    worker.execute(Q.ddl_stays_here)
    if worker.execute(Q.change_data_capture).fetchone()[0] != "on":
        # Shards' changes under their distributed table's name (and Citus's own shard
        # moves left out); a reload is enough for new walsenders.
        worker.execute(Q.enable_change_data_capture)
        worker.execute(Q.reload_configuration)
    listed = sql.SQL(", ").join(sql.SQL("fs_online.{}").format(sql.Identifier(t)) for t in tables)
    if worker.execute(Q.publication_exists, [PUBLICATION]).fetchone():
        worker.execute(sql.SQL("ALTER PUBLICATION {} SET TABLE {}").format(sql.Identifier(PUBLICATION), listed))
    else:
        worker.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(PUBLICATION), listed))


def _copy_from_slot(dsn: str, slot: str, replica: psycopg.Connection, tables: list[str]) -> None:
    """Make ``slot`` on the worker and copy the worker's shards as of the slot's start."""
    stream = psycopg.connect(dsn, replication="database", autocommit=True)
    try:
        made = stream.pgconn.exec_(sql.SQL("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT 'export')").format(
            sql.Identifier(slot)).as_bytes(stream))
        if made.status != psycopg.pq.ExecStatus.TUPLES_OK:
            raise psycopg.OperationalError(f"could not make slot {slot} on {describe_dsn(dsn)}: "
                                           f"{made.error_message.decode(errors='replace').strip()}")
        snapshot = made.get_value(0, 2).decode()
        # The snapshot lives while the replication connection stays idle: read now.
        with psycopg.connect(dsn) as reader:
            reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            reader.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
            for table in tables:
                _copy_shards(reader, replica, table)
            reader.rollback()
    finally:
        stream.close()


def _copy_shards(reader: psycopg.Connection, replica: psycopg.Connection, table: str) -> None:
    columns = [row[0] for row in replica.execute(Q.table_columns, {"schema": "fs_online", "table": table})]
    listed = sql.SQL(", ").join(map(sql.Identifier, columns))
    for (shard,) in reader.execute(Q.local_shards, {"table": f"fs_online.{table}"}).fetchall():
        source = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(listed, sql.SQL(shard))
        target = sql.SQL("COPY fs_online.{} ({}) FROM STDIN").format(sql.Identifier(table), listed)
        with reader.cursor().copy(source) as out, replica.cursor().copy(target) as into:
            for data in out:
                into.write(data)

