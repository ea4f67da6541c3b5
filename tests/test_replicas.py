"""Serving replicas on a second real server: add, follow new views, lag, faults, remove.

These tests start their own primary and replica (embedded servers, or the binaries of
FSPG_PG_BINDIR), because they restart and kill them.
"""
from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest
from click.testing import CliRunner

from fspg import FeatureStore, errors, replicas
from fspg.cli import main
from tests.conftest import primary_and_replica
from tests.defs import base

UTC = dt.timezone.utc


@pytest.fixture
def servers(server_pair):
    """(primary, replica)"""
    return server_pair


@pytest.fixture
def pair(servers):
    """A fresh primary database (migrated, defined) and an empty replica database."""
    with primary_and_replica(servers, base()) as dsns:
        yield dsns


def online_tables(dsn: str) -> dict[str, list]:
    with psycopg.connect(dsn) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'fs_online' ORDER BY 1")]
        return {n: conn.execute(f"SELECT * FROM fs_online.{n} ORDER BY 1").fetchall() for n in names}


def converge(primary_dsn: str, replica_dsn: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if online_tables(primary_dsn) == online_tables(replica_dsn):
                return
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the replica did not converge")
        time.sleep(0.2)


def ingest(dsn: str, users: range, value: float) -> None:
    with FeatureStore(dsn) as store:
        store.insert_batch("user_stats", {"user_id": list(users), "spend_7d": [value] * len(users)},
                           timestamp=dt.datetime.now(UTC) - dt.timedelta(minutes=1))


def test_add_then_rows_and_new_views_follow(pair):
    primary_dsn, replica_dsn = pair
    ingest(primary_dsn, range(100), 1.0)  # data before the replica: copied at subscription
    result = CliRunner().invoke(main, ["--dsn", primary_dsn, "replica", "add", "--replica-dsn", replica_dsn, "--name", "r1"])
    assert result.exit_code == 0, result.output + (result.stderr or "")
    converge(primary_dsn, replica_dsn)
    ingest(primary_dsn, range(50, 150), 2.0)
    converge(primary_dsn, replica_dsn)
    # a view defined later reaches the replica by itself
    with FeatureStore(primary_dsn) as store:
        store.apply({"feature_views": [{"name": "later", "entity": "user", "features": [{"name": "z", "dtype": "int"}]}]})
        store.insert_batch("later", {"user_id": [1], "z": [5]}, timestamp="2026-11-01")
    converge(primary_dsn, replica_dsn)
    with psycopg.connect(replica_dsn) as conn:
        assert conn.execute("SELECT z FROM fs_online.later WHERE user_id = 1").fetchone() == (5,)
        assert conn.execute("SELECT spend_7d FROM fs_serving.scoring(ARRAY[120]::bigint[])").fetchone() == (2.0,)
    # a client given the replica reads from it
    with FeatureStore(primary_dsn, replicas=[replica_dsn]) as store:
        assert store.get_online_features(["user_stats.spend_7d"], entities=[10, 120]).column("spend_7d").to_pylist() == [1.0, 2.0]
    # rows of one entity and moment, and a staged version promoted: the replica serves
    # what the primary serves
    with FeatureStore(primary_dsn) as store:
        store.insert_batch("user_stats", {"user_id": [7, 7, 7], "spend_7d": [7.1, 7.2, 7.3]},
                           timestamp=dt.datetime.now(UTC) - dt.timedelta(minutes=1))
        doc = base()
        doc["feature_views"][0]["features"][0]["rules"]["max"] = 5000
        store.apply(doc)
        store.backfill("user_stats@2")
        store.promote("user_stats@2")
    converge(primary_dsn, replica_dsn)
    with psycopg.connect(replica_dsn) as conn:
        assert conn.execute("SELECT spend_7d FROM fs_online.user_stats WHERE user_id = 7").fetchone() == (7.3,)
        assert conn.execute("SELECT spend_7d FROM fs_online.user_stats__v1 WHERE user_id = 7").fetchone() == (7.3,)
        assert conn.execute("SELECT spend_7d FROM fs_serving.scoring(ARRAY[7]::bigint[])").fetchone() == (7.3,)
    status = json_status(primary_dsn)
    assert status[0]["name"] == "r1" and status[0]["reachable"] and status[0]["streaming"]
    assert status[0]["lag_bytes"] is not None and status[0]["errors"] == 0


def json_status(primary_dsn):
    import json

    result = CliRunner().invoke(main, ["--dsn", primary_dsn, "replica", "status", "--json"])
    assert result.exit_code == 0
    return json.loads(result.output)


def test_add_twice_and_unreachable_replica(pair):
    primary_dsn, replica_dsn = pair
    # Without a name, one is derived from the DSN (here 127.0.0.1: it must not start with a digit).
    added = CliRunner().invoke(main, ["--dsn", primary_dsn, "replica", "add", "--replica-dsn", replica_dsn])
    assert added.exit_code == 0, added.output
    with psycopg.connect(primary_dsn) as conn:
        name = conn.execute("SELECT name FROM fs.replica").fetchone()[0]
    assert name.startswith("replica_127_0_0_1_")
    replicas.remove(primary_dsn, name)
    replicas.add(primary_dsn, replica_dsn, "r1")
    with pytest.raises(errors.UserError, match="already a replica"):
        replicas.add(primary_dsn, replica_dsn, "r2")
    dead = "postgresql://postgres@127.0.0.1:9/nothing"
    with pytest.raises(errors.ConnectionFailed, match="port=9"):
        replicas.add(primary_dsn, dead, "r3")
    result = CliRunner().invoke(main, ["--dsn", primary_dsn, "replica", "add", "--replica-dsn", dead])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_replica_killed_mid_stream_converges(pair, servers):
    primary_dsn, replica_dsn = pair
    _, replica_server = servers
    replicas.add(primary_dsn, replica_dsn, "r1")
    converge(primary_dsn, replica_dsn)
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            ingest(primary_dsn, range(i % 500, i % 500 + 50), float(i))
            i += 7

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(1.0)
    replica_server.kill()  # SIGKILL, mid-stream
    time.sleep(1.0)
    replica_server.up()
    time.sleep(1.0)
    stop.set()
    thread.join()
    converge(primary_dsn, replica_dsn)


def test_primary_restarted_mid_stream_converges(pair, servers):
    primary_dsn, replica_dsn = pair
    primary_server, _ = servers
    replicas.add(primary_dsn, replica_dsn, "r1")
    ingest(primary_dsn, range(200), 1.0)
    primary_server.down()
    primary_server.up()
    ingest(primary_dsn, range(100, 300), 3.0)
    converge(primary_dsn, replica_dsn)


def test_remove_leaves_no_slot(pair):
    primary_dsn, replica_dsn = pair
    replicas.add(primary_dsn, replica_dsn, "r1")
    replicas.remove(primary_dsn, "r1")
    with psycopg.connect(primary_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'fspg_r1'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM fs.replica").fetchone()[0] == 0
    with psycopg.connect(replica_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_subscription").fetchone()[0] == 0
    with pytest.raises(errors.UserError, match="no replica named r1"):
        replicas.remove(primary_dsn, "r1")


def test_adding_a_replica_without_the_right_names_the_grant(pair):
    primary_dsn, replica_dsn = pair
    with psycopg.connect(replica_dsn, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'replica_admin')"
                     " THEN CREATE ROLE replica_admin LOGIN; END IF; END $$")
    as_admin = psycopg.conninfo.make_conninfo(**{**psycopg.conninfo.conninfo_to_dict(replica_dsn), "user": "replica_admin"})
    with pytest.raises(errors.PermissionDenied, match="right to create subscriptions"):
        replicas.add(primary_dsn, as_admin, "r9")
    with psycopg.connect(primary_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM fs.replica").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'fspg_r9'").fetchone()[0] == 0
