"""CDC from an application database by logical replication: inserts and updates become
events, deletes tombstones, bad rows quarantine without stopping the stream, and every
change lands exactly once across SIGKILLs of the source and of the feature store."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
from click.testing import CliRunner

from fspg import FeatureStore, cdc, errors, migrate
from fspg.cli import main
from tests.conftest import database_on_each


def definitions() -> dict:
    return {
        "entities": [{"name": "order", "keys": {"order_id": "bigint"}}],
        "feature_views": [{"name": "order_events", "entity": "order", "features": [
            {"name": "total", "dtype": "float8", "rules": {"min": 0}},
            {"name": "status", "dtype": "text", "rules": {"allowed": ["new", "paid", "shipped"]}}]}],
    }


@pytest.fixture
def servers(server_pair):
    """(source, feature store): the application's server and one of this module's own, so
    both can be killed without touching the other tests' server."""
    return server_pair


@pytest.fixture
def pair(servers):
    """(source DSN with an orders table, migrated feature-store DSN with order_events)."""
    with database_on_each(servers) as (source_dsn, store_dsn):
        with psycopg.connect(source_dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE public.orders (order_id bigint PRIMARY KEY, merchant_id bigint, total numeric,"
                         " status text, ordered_at timestamptz NOT NULL DEFAULT now())")
            conn.execute("CREATE TABLE public.audit (note_id bigint PRIMARY KEY, note text)")
        migrate.upgrade(store_dsn)
        with FeatureStore(store_dsn) as fs:
            fs.apply(definitions())
        yield source_dsn, store_dsn
        for row in cdc.status(store_dsn):
            cdc.remove(store_dsn, row["name"])


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for replication")
        time.sleep(0.1)


def history(store_dsn: str) -> list[tuple]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute("SELECT order_id, total, status FROM fs_offline.order_events ORDER BY order_id, created_ts").fetchall()


def test_changes_become_events_and_deletes_tombstones(pair):
    source_dsn, store_dsn = pair
    with psycopg.connect(source_dsn, autocommit=True) as app:
        app.execute("INSERT INTO orders VALUES (1, 10, 5.5, 'new', now() - interval '1 hour')")
        cdc.add(store_dsn, "shop", source_dsn, "public.orders", "order_events", event_time="ordered_at")
        wait_for(lambda: len(history(store_dsn)) == 1)  # the initial copy
        app.execute("INSERT INTO orders VALUES (2, 11, 7, 'paid', now())")
        app.execute("UPDATE orders SET status = 'shipped', ordered_at = now() WHERE order_id = 1")
        app.execute("INSERT INTO orders VALUES (3, 12, -1, 'new', now())")  # breaks total >= 0
        app.execute("INSERT INTO orders VALUES (4, 12, 3, 'lost', now())")  # not an allowed status
        app.execute("DELETE FROM orders WHERE order_id = 2")
        app.execute("INSERT INTO orders VALUES (5, 13, 1, 'new', now())")  # after the bad ones: still flowing
    wait_for(lambda: any(r[0] == 5 for r in history(store_dsn)))
    assert history(store_dsn) == [(1, 5.5, "new"), (1, 5.5, "shipped"), (2, 7.0, "paid"), (2, None, None), (5, 1.0, "new")]
    with FeatureStore(store_dsn) as fs:
        online = fs.get_online_features(["order_events.*"], entities=[1, 2, 5], as_dicts=True)
        assert online == [{"order_id": 1, "total": 5.5, "status": "shipped"},
                          {"order_id": 2, "total": None, "status": None},  # deleted: nothing served
                          {"order_id": 5, "total": 1.0, "status": "new"}]
        quarantined = fs.quarantine(name="order_events")
        assert sum(q["rows"] for q in quarantined) == 2
        rows = [r for q in quarantined for r in fs.quarantine(q["batch_id"])]
        assert {tuple(r["reasons"]) for r in rows} == {("total__min",), ("status__allowed",)}
        assert all(r["data"]["source_position"] for r in rows)
        batches = [b for b in fs.batches("order_events") if b["source"] == "cdc shop"]
        assert sum(b["rows_in"] for b in batches) == 7 and all(b["rows_in"] == b["inserted"] + b["quarantined"] for b in batches)
        lineage = {(r["kind"], r["name"]) for r in fs.lineage("order_events", "up")}
        assert {("table", "public.orders"), ("source_database", "shop")} <= lineage
    [state] = cdc.status(store_dsn)
    assert state["enabled"] and state["apply_errors"] == 0 and state["source_reachable"] and state["lag_bytes"] is not None


def test_bad_cdc_requests(pair):
    source_dsn, store_dsn = pair
    with psycopg.connect(source_dsn, autocommit=True) as app:
        app.execute("CREATE TABLE public.events_nopk (order_id bigint, total numeric)")
    with pytest.raises(errors.SchemaMismatch, match="neither a primary key nor REPLICA IDENTITY FULL") as info:
        cdc.add(store_dsn, "nopk", source_dsn, "public.events_nopk", "order_events")
    assert "REPLICA IDENTITY FULL" in info.value.hint
    with pytest.raises(errors.NotFound, match="does not exist"):
        cdc.add(store_dsn, "missing", source_dsn, "public.nothing", "order_events")
    with pytest.raises(errors.SchemaMismatch, match="no column.*order_id"):
        cdc.add(store_dsn, "audit", source_dsn, "public.audit", "order_events")
    with pytest.raises(errors.ConnectionFailed):
        cdc.add(store_dsn, "gone", "postgresql://postgres@127.0.0.1:1/app", "public.orders", "order_events")
    with pytest.raises(errors.NotFound):
        cdc.add(store_dsn, "shop", source_dsn, "public.orders", "no_such_view")
    with psycopg.connect(store_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_subscription").fetchone()[0] == 0
    with psycopg.connect(source_dsn) as app:
        assert app.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
    result = CliRunner().invoke(main, ["--dsn", store_dsn, "source", "add-cdc", "nopk", "--source-dsn", source_dsn,
                                       "--table", "public.events_nopk", "--view", "order_events"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_remove_leaves_no_slot_on_the_source(pair):
    source_dsn, store_dsn = pair
    cdc.add(store_dsn, "shop", source_dsn, "public.orders", "order_events")
    with psycopg.connect(source_dsn) as app:
        assert app.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 1
    result = CliRunner().invoke(main, ["--dsn", store_dsn, "source", "remove", "shop"])
    assert result.exit_code == 0, (result.output, result.stderr)
    with psycopg.connect(source_dsn) as app:
        assert app.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
        assert app.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0
    with psycopg.connect(store_dsn) as conn:
        assert conn.execute("SELECT to_regclass('public.orders')").fetchone()[0] is None


def test_every_change_arrives_exactly_once_across_kills(servers, pair):
    source_server, store_server = servers
    source_dsn, store_dsn = pair
    cdc.add(store_dsn, "shop", source_dsn, "public.orders", "order_events", event_time="ordered_at")
    written, stop = [], threading.Event()

    def application():
        # One order per transaction, then an update of it: 2 changes per order.
        i = 0
        while not stop.is_set():
            i += 1
            try:
                with psycopg.connect(source_dsn, autocommit=True, connect_timeout=2) as app:
                    while not stop.is_set():
                        app.execute("INSERT INTO orders VALUES (%s, 1, %s, 'new', clock_timestamp())", [i, i])
                        written.append(i)
                        app.execute("UPDATE orders SET status = 'paid', ordered_at = clock_timestamp() WHERE order_id = %s", [i])
                        i += 1
                        time.sleep(0.002)
            except psycopg.OperationalError:
                time.sleep(0.2)  # the source is down; try again

    writer = threading.Thread(target=application)
    writer.start()
    try:
        time.sleep(1.5)
        source_server.kill()  # SIGKILL mid-stream
        source_server.up()
        time.sleep(1.5)
        store_server.kill()
        store_server.up()
        time.sleep(1.5)
    finally:
        stop.set()
        writer.join()
    with psycopg.connect(source_dsn) as app:
        truth = app.execute("SELECT order_id, total::float8, status FROM orders ORDER BY order_id").fetchall()

    def caught_up() -> bool:
        with psycopg.connect(store_dsn) as conn:
            return conn.execute("SELECT count(*) FROM public.orders").fetchone()[0] == len(truth) and \
                conn.execute("SELECT count(*) FROM fs_offline.order_events WHERE status = 'paid'").fetchone()[0] >= \
                sum(1 for t in truth if t[2] == "paid")

    wait_for(caught_up, timeout=60)
    rows = history(store_dsn)
    # Exactly once: per committed order, one 'new' event, and one 'paid' if its update committed.
    expected = sorted([(o, t, "new") for o, t, _ in truth] + [(o, t, "paid") for o, t, s in truth if s == "paid"])
    assert sorted(rows) == expected
    assert len(truth) > 50


def test_adding_cdc_without_the_right_names_the_grant(pair, servers):
    """A login that may not create subscriptions (a managed service's admin before it is
    granted pg_create_subscription) is refused before anything is made, with the grant to ask for."""
    source_dsn, store_dsn = pair
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cdc_admin')"
                     " THEN CREATE ROLE cdc_admin LOGIN; END IF; END $$")
        conn.execute("GRANT fs_admin TO cdc_admin")
        sixteen = conn.info.server_version >= 160000
    as_admin = psycopg.conninfo.make_conninfo(**{**psycopg.conninfo.conninfo_to_dict(store_dsn), "user": "cdc_admin"})
    with pytest.raises(errors.PermissionDenied, match="right to create subscriptions") as refused:
        cdc.add(as_admin, "shop", source_dsn, "public.orders", "order_events")
    assert ("GRANT pg_create_subscription TO cdc_admin" if sixteen else "only a superuser") in refused.value.hint
    with psycopg.connect(source_dsn) as app:
        assert app.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0
    with psycopg.connect(store_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM fs.source_database").fetchone()[0] == 0


def test_cdc_feeds_the_staged_version_and_follows_a_promote(pair):
    """While order_events@2 is staged CDC changes land in both versions; after the promote
    the feed writes @2 (and @1, the rollback target). Two changes of one row in one source
    transaction: the last one is the value everywhere."""
    source_dsn, store_dsn = pair
    with psycopg.connect(source_dsn, autocommit=True) as app, FeatureStore(store_dsn) as fs:
        cdc.add(store_dsn, "shop", source_dsn, "public.orders", "order_events")
        doc = definitions()
        doc["feature_views"][0]["features"][0]["rules"] = {"min": 0, "max": 100}
        fs.apply(doc)
        app.execute("INSERT INTO orders VALUES (1, 10, 5, 'new')")
        app.execute("INSERT INTO orders VALUES (2, 10, 500, 'new')")     # too much for @2 only
        with app.transaction():
            app.execute("INSERT INTO orders VALUES (3, 10, 1, 'new')")
            app.execute("UPDATE orders SET status = 'paid' WHERE order_id = 3")

        def versions() -> tuple[list, list]:
            with psycopg.connect(store_dsn) as conn:
                return tuple(conn.execute(f"SELECT order_id, status FROM fs_online.order_events__v{v} ORDER BY 1").fetchall()
                             for v in (1, 2))

        wait_for(lambda: len(versions()[0]) == 3)
        assert versions() == ([(1, "new"), (2, "new"), (3, "paid")], [(1, "new"), (3, "paid")])
        fs.backfill("order_events@2")
        fs.promote("order_events@2")
        app.execute("INSERT INTO orders VALUES (4, 10, 9, 'new')")
        wait_for(lambda: (4, "new") in versions()[1])
        assert (4, "new") in versions()[0]
        assert fs.get_online_features(["order_events.status"], entities=[3, 4], as_dicts=True) == [
            {"order_id": 3, "status": "paid"}, {"order_id": 4, "status": "new"}]


def test_forget_erases_the_entity_from_the_cdc_mirror_too(pair):
    source_dsn, store_dsn = pair
    with psycopg.connect(source_dsn, autocommit=True) as app, FeatureStore(store_dsn) as fs:
        app.execute("INSERT INTO orders VALUES (1, 10, 5, 'new'), (2, 10, 7, 'new')")
        cdc.add(store_dsn, "shop", source_dsn, "public.orders", "order_events")
        wait_for(lambda: len(history(store_dsn)) == 2)
        assert fs.forget("order_events", {"order_id": "1"}, reason="request 19") == 1
        with psycopg.connect(store_dsn) as conn:
            assert conn.execute("SELECT order_id FROM public.orders").fetchall() == [(2,)]
            assert conn.execute("SELECT count(*) FROM fs_offline.order_events WHERE order_id = 1").fetchone()[0] == 0
            removed = conn.execute("SELECT removed FROM fs.erasure_log").fetchone()[0]
        assert removed["cdc_mirrors"] == {"public.orders": 1}
        # the stream goes on for the others
        app.execute("UPDATE orders SET status = 'paid' WHERE order_id = 2")
        wait_for(lambda: (2, 7.0, "paid") in history(store_dsn))
        assert all(r[0] != 1 for r in history(store_dsn))
