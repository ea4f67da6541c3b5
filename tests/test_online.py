"""The online store: kept in the writer's transaction, newest wins, concurrent writers,
materialize, TTL at read, feature services and batch lookups in one round trip."""
from __future__ import annotations

import datetime as dt
import random
import threading

import psycopg
import pytest

from fspg import FeatureStore, errors
from tests.defs import base, view

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)


def ago(**delta) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


def two_entities() -> dict:
    doc = base()
    doc["entities"].append({"name": "merchant", "keys": {"merchant_id": "bigint"}})
    doc["feature_views"].append({"name": "merchant_stats", "entity": "merchant", "ttl": "1 day",
                                 "features": [{"name": "risk", "dtype": "float8"}, {"name": "country", "dtype": "text"}]})
    doc["feature_services"] = [{"name": "scoring", "features": ["user_stats.spend_7d", "user_stats.country",
                                                                "merchant_stats.*", "fx_rates.eur_usd"]}]
    return doc


def online_row(conn, user_id):
    return conn.execute("SELECT event_ts, spend_7d FROM fs_online.user_stats__v1 WHERE user_id = %s", [user_id]).fetchone()


def test_online_follows_history_in_the_same_transaction(store, conn):
    store.apply(base())
    store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [1.0, 2.0]}, timestamp=ago(hours=2))
    assert online_row(conn, 1) == (ago(hours=2), 1.0)
    store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [5.0]}, timestamp=ago(hours=3))  # late and older
    assert online_row(conn, 1) == (ago(hours=2), 1.0)
    store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [7.0]}, timestamp=ago(hours=2))  # a correction
    assert online_row(conn, 1) == (ago(hours=2), 7.0)
    assert conn.execute("SELECT fs.online_drift('user_stats')").fetchone()[0] == 0


def test_a_rolled_back_write_touches_neither_store(store, conn):
    store.apply(base())
    store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [1.0]}, timestamp=ago(hours=1))
    conn.autocommit = False
    conn.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d) VALUES (1, now(), 99)")
    assert online_row(conn, 1)[1] == 99.0
    conn.rollback()
    conn.autocommit = True
    assert online_row(conn, 1)[1] == 1.0


def test_eight_concurrent_writers_of_overlapping_entities(store, conn, dsn):
    store.apply(base())
    errors_seen = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with FeatureStore(dsn) as mine:
            for _ in range(10):
                users = rng.sample(range(50), 20)
                try:
                    mine.insert_batch("user_stats", {
                        "user_id": users, "spend_7d": [float(rng.randint(0, 999)) for _ in users],
                        "event_ts": [ago(minutes=rng.randint(0, 600)) for _ in users]})
                except Exception as err:  # noqa: BLE001 - collected, asserted below
                    errors_seen.append(err)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors_seen == []
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats").fetchone()[0] == 8 * 10 * 20
    assert conn.execute("SELECT fs.online_drift('user_stats')").fetchone()[0] == 0


def test_materialize_rebuilds_and_is_idempotent(store, conn):
    store.apply(base())
    store.insert_batch("user_stats", {"user_id": [1, 2, 3], "spend_7d": [1.0, 2.0, 3.0]}, timestamp=ago(hours=1))
    conn.execute("DELETE FROM fs_online.user_stats__v1 WHERE user_id = 2")
    conn.execute("UPDATE fs_online.user_stats__v1 SET event_ts = event_ts - interval '1 day', spend_7d = 0 WHERE user_id = 3")
    conn.execute("INSERT INTO fs_online.user_stats__v1 (user_id, event_ts, created_ts, spend_7d) VALUES (42, now(), now(), 1)")
    assert conn.execute("SELECT fs.online_drift('user_stats')").fetchone()[0] > 0
    result = store.rebuild_online("user_stats")
    assert result["removed"] == 1
    [again] = store.materialize("user_stats")  # a view without a source: the same rebuild, nothing left to fix
    assert (again["feature_view"], again["version"], again["removed"]) == ("user_stats", 1, 0)
    assert conn.execute("SELECT fs.online_drift('user_stats')").fetchone()[0] == 0
    before = conn.execute("SELECT * FROM fs_online.user_stats__v1 ORDER BY user_id").fetchall()
    store.rebuild_online("user_stats")
    assert conn.execute("SELECT * FROM fs_online.user_stats__v1 ORDER BY user_id").fetchall() == before


def test_materialize_while_writes_continue(store, conn, dsn):
    store.apply(base())
    store.insert_batch("user_stats", {"user_id": list(range(200)), "spend_7d": [1.0] * 200}, timestamp=ago(hours=5))
    conn.execute("TRUNCATE fs_online.user_stats__v1")
    stop = threading.Event()

    def keep_writing():
        with FeatureStore(dsn) as mine:
            i = 0
            while not stop.is_set():
                i += 1
                mine.insert_batch("user_stats", {"user_id": [i % 200], "spend_7d": [float(i)]}, timestamp=ago(hours=1))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    for _ in range(3):
        store.rebuild_online("user_stats")
    stop.set()
    writer.join()
    assert conn.execute("SELECT fs.online_drift('user_stats')").fetchone()[0] == 0


def test_plain_sql_lookup_applies_the_ttl(store, conn):
    store.apply(base())
    store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [1.0, 2.0],
                                      "event_ts": [ago(days=8), ago(hours=1)]})  # ttl is 7 days
    rows = dict(conn.execute("SELECT user_id, spend_7d FROM fs_online.user_stats").fetchall())
    assert rows == {1: None, 2: 2.0}
    age = conn.execute("SELECT value_age FROM fs_online.user_stats WHERE user_id = %s", [1]).fetchone()[0]
    assert age > dt.timedelta(days=8) - dt.timedelta(minutes=5)
    # the pinned version's table holds the raw latest value
    assert conn.execute("SELECT spend_7d FROM fs_online.user_stats__v1 WHERE user_id = 1").fetchone()[0] == 1.0


def test_feature_service_lookup_one_round_trip_in_request_order(store, conn):
    store.apply(two_entities())
    store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [10.0, 20.0], "country": ["DE", "FR"]},
                       timestamp=ago(hours=1))
    store.insert_batch("merchant_stats", {"merchant_id": [7], "risk": [0.5], "country": ["US"]}, timestamp=ago(hours=1))
    store.insert_batch("fx_rates", {"eur_usd": [1.08]}, timestamp=ago(hours=1))
    table = store.get_online_features(service="scoring", entities={"user_id": [2, 99, 1], "merchant_id": [7, 7, 8]})
    assert table.column_names == ["user_id", "merchant_id", "spend_7d", "user_stats__country", "risk",
                                  "merchant_stats__country", "eur_usd"]
    assert table.to_pylist() == [
        {"user_id": 2, "merchant_id": 7, "spend_7d": 20.0, "user_stats__country": "FR", "risk": 0.5,
         "merchant_stats__country": "US", "eur_usd": 1.08},
        {"user_id": 99, "merchant_id": 7, "spend_7d": None, "user_stats__country": None, "risk": 0.5,
         "merchant_stats__country": "US", "eur_usd": 1.08},
        {"user_id": 1, "merchant_id": 8, "spend_7d": 10.0, "user_stats__country": "DE", "risk": None,
         "merchant_stats__country": None, "eur_usd": 1.08},
    ]
    same = store.get_online_features(["user_stats.spend_7d", "user_stats.country", "merchant_stats.*", "fx_rates.eur_usd"],
                                     entities={"user_id": [2, 99, 1], "merchant_id": [7, 7, 8]})
    assert same.equals(table)
    # from SQL, as a serving app prepares it: arrays for a batch, scalars for one entity
    rows = conn.execute("SELECT user_id, spend_7d FROM fs_serving.scoring(%s::bigint[], %s::bigint[])",
                        [[1], [7]]).fetchall()
    assert rows == [(1, 10.0)]
    one = conn.execute("SELECT user_id, spend_7d, risk, eur_usd FROM fs_serving.scoring(%s::bigint, %s::bigint)",
                       [2, 7]).fetchall()
    assert one == [(2, 20.0, 0.5, 1.08)]


def test_ttl_applies_to_lookups(store):
    store.apply(two_entities())
    store.insert_batch("merchant_stats", {"merchant_id": [1, 2], "risk": [0.1, 0.2],
                                          "event_ts": [ago(hours=30), ago(hours=2)]})  # ttl is 1 day
    table = store.get_online_features(["merchant_stats.risk"], entities=[1, 2], with_event_ts=True)
    assert table.column("risk").to_pylist() == [None, 0.2]
    assert table.column("merchant_stats__event_ts").to_pylist()[0] == ago(hours=30)


def test_ten_thousand_keys_in_order_and_prepared_once(store, conn):
    store.apply(base())
    users = list(range(10_000))
    store.insert_batch("user_stats", {"user_id": users, "spend_7d": [float(u % 1000) for u in users]}, timestamp=ago(hours=1))
    random.Random(3).shuffle(users)
    table = store.get_online_features(["user_stats.spend_7d"], entities=users)
    with store._read_connection() as lookups:
        backend = lookups.info.backend_pid
    for _ in range(2):
        table = store.get_online_features(["user_stats.spend_7d"], entities=users)
        assert table.column("user_id").to_pylist() == users
        assert table.column("spend_7d").to_pylist() == [float(u % 1000) for u in users]
    with store._read_connection() as lookups:
        assert lookups.info.backend_pid == backend
        prepared = lookups.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%unnest%%'").fetchone()[0]
        # No transaction per lookup, and a lookup connection can never write.
        assert lookups.autocommit
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            lookups.execute("CREATE TABLE public.nope (x int)")
    assert prepared == 1


def test_bad_lookups(store):
    store.apply(two_entities())
    with pytest.raises(errors.InvalidArgument, match="10,001 entities.*limit is 10,000"):
        store.get_online_features(["user_stats.spend_7d"], entities=list(range(10_001)))
    with pytest.raises(errors.InvalidArgument, match="NULL in key column user_id"):
        store.get_online_features(["user_stats.spend_7d"], entities=[1, None])
    with pytest.raises(errors.InvalidArgument, match="wrong type"):
        store.get_online_features(["user_stats.spend_7d"], entities=["abc"])
    with pytest.raises(errors.InvalidArgument, match="lack key column.*merchant_id"):
        store.get_online_features(service="scoring", entities={"user_id": [1]})
    with pytest.raises(errors.NotFound, match="does not exist"):
        store.get_online_features(["nope.x"], entities=[1])
    with pytest.raises(errors.NotFound, match="feature service nope does not exist"):
        store.get_online_features(service="nope", entities=[1])
    with pytest.raises(errors.InvalidArgument, match="exactly one of features, service or model"):
        store.get_online_features(entities=[1])


def test_serving_role_reads_online_only(store, conn):
    store.apply(two_entities())
    store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [1.0]}, timestamp=ago(hours=1))
    conn.autocommit = False
    conn.execute("SET ROLE fs_serving")
    assert conn.execute("SELECT spend_7d FROM fs_serving.scoring(ARRAY[1]::bigint[], ARRAY[1]::bigint[])").fetchone() == (1.0,)
    assert conn.execute("SELECT spend_7d FROM fs_online.user_stats WHERE user_id = 1").fetchone() == (1.0,)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM fs_offline.user_stats")
    conn.rollback()


def test_a_new_view_version_gets_its_own_online_table_and_service_version(store, conn):
    store.apply(two_entities())
    store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [1.0]}, timestamp=ago(hours=1))
    doc = two_entities()
    view(doc, "user_stats")["features"].append({"name": "spend_30d", "dtype": "float8"})
    plan = {(s.kind, s.name): s for s in store.apply(doc)}
    # v2 is staged: the service stays on v1 and serves what it served
    assert (plan[("feature_service", "scoring")].version, plan[("feature_service", "scoring")].action) == (1, "unchanged")
    both = {"user_id": [1], "merchant_id": [1]}
    assert store.get_online_features(service="scoring", entities=both).column("spend_7d").to_pylist() == [1.0]
    assert conn.execute("SELECT count(*) FROM fs_online.user_stats__v2").fetchone()[0] == 0
    # backfilled and promoted, v2 serves from its own online table; the old service
    # version still serves v1
    store.backfill("user_stats@2")
    assert store.promote("user_stats@2").services == ["scoring@2"]
    served = store.get_online_features(service="scoring", entities=both)
    assert served.column("spend_7d").to_pylist() == [1.0]
    assert conn.execute("SELECT spend_7d FROM fs_online.user_stats__v2").fetchall() == [(1.0,)]
    assert store.get_online_features(service="scoring", service_version=1,
                                     entities=both).column("spend_7d").to_pylist() == [1.0]


def test_online_and_materialize_commands(store, dsn):
    import json

    from click.testing import CliRunner

    from fspg.cli import main

    store.apply(two_entities())
    store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [1.0, 2.0]}, timestamp=ago(hours=1))
    result = CliRunner().invoke(main, ["--dsn", dsn, "online", "--service", "scoring", "--key", "user_id=2,1",
                                       "--key", "merchant_id=5,5", "--json"])
    assert result.exit_code == 0, result.output
    assert [(r["user_id"], r["spend_7d"]) for r in json.loads(result.output)] == [(2, 2.0), (1, 1.0)]
    result = CliRunner().invoke(main, ["--dsn", dsn, "online", "--features", "user_stats.spend_7d", "--key", "user_id=1"])
    assert result.exit_code == 0 and "spend_7d" in result.output.splitlines()[0]
    result = CliRunner().invoke(main, ["--dsn", dsn, "materialize", "user_stats"])
    assert result.exit_code == 0 and "user_stats@1: 0 online rows written, 0 stale rows removed" in result.output  # already in step
    result = CliRunner().invoke(main, ["--dsn", dsn, "online", "--features", "nope.x", "--key", "user_id=1"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
