"""fspg on Citus: the user journey on a coordinator and two workers, each step compared with
the same step on a single-node store built from the same data.

The cluster runs where the PostgreSQL under test has Citus installed (docs/scale-out.md);
elsewhere the module skips and says why. The steps share one cluster and run in order,
as a user's would: distribute, ingest, serve, read, train, evolve, erase.
"""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import httpx
import psycopg
import pyarrow as pa
import pytest
from click.testing import CliRunner

from fspg import FeatureStore, errors, migrate
from fspg.cli import main
from fspg.http.app import ServerConfig, create_app
from tests import citus_cluster
from tests.defs import ingest_defs, view
from tests.test_cdc import wait_for
from tests.http_server import running

pytestmark = pytest.mark.skipif(citus_cluster.missing() is not None, reason=citus_cluster.missing() or "")

DAY = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = citus_cluster.CitusCluster(tmp_path_factory.mktemp("citus")).up()
    yield cluster
    cluster.down()


@pytest.fixture(scope="module")
def dsns(cluster) -> dict[str, str]:
    """The same store twice: single-node and distributed (4 shards), definitions applied."""
    found = {"single": cluster.plain_database("fspg_single"), "citus": cluster.database("fspg_citus")}
    for dsn in found.values():
        migrate.upgrade(dsn)
        FeatureStore(dsn).apply(ingest_defs())
    return found


@pytest.fixture(scope="module")
def stores(dsns) -> dict[str, FeatureStore]:
    return {name: FeatureStore(dsn) for name, dsn in dsns.items()}


def both(stores, call):
    """The result of one call on each store: (single-node, distributed)."""
    return call(stores["single"]), call(stores["citus"])


def counts(result):
    return result.rows_in, result.inserted, result.quarantined, result.reasons, result.unchanged


def test_distribute_refuses_what_it_cannot_do(stores, dsns):
    with pytest.raises(errors.DistributionError, match="Citus is not installed"):
        stores["single"].distribute()
    with pytest.raises(errors.NotFound, match="feature view nope does not exist"):
        stores["citus"].distribute(["nope"])
    with pytest.raises(errors.InvalidArgument, match="shard count must be between 1 and 64000"):
        stores["citus"].distribute(shard_count=0)
    with psycopg.connect(dsns["citus"], autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS fspg_admin_only")
        conn.execute("CREATE ROLE fspg_admin_only LOGIN IN ROLE fs_admin")
    with pytest.raises(errors.PermissionDenied, match="runs as a superuser"):
        FeatureStore(dsns["citus"].replace("postgres@", "fspg_admin_only@")).distribute()
    cli = subprocess.run([sys.executable, "-m", "fspg.cli", "--dsn", dsns["citus"], "distribute", "--shard-count", "0"],
                         capture_output=True, text=True)
    assert cli.returncode == 2 and "0 is not in the range 1<=x<=64000" in cli.stderr
    assert all(row["placement"] == "coordinator" for row in stores["citus"].placement())


def test_distribute_places_history_and_online_by_entity(stores, dsns):
    rows = stores["citus"].distribute(shard_count=4)
    assert {(r["feature_view"], r["action"]) for r in rows} == {
        ("checked", "distributed"), ("user_stats", "distributed"), ("fx_rates", "kept on the coordinator (global view)")}
    placed = {(r["feature_view"], r["kind"]): r for r in stores["citus"].placement()}
    assert placed["checked", "history"]["placement"] == "distributed by user_id"
    assert placed["checked", "online"]["shards"] == 4 and len(placed["checked", "online"]["nodes"]) == 2
    assert placed["fx_rates", "online"]["placement"] == "coordinator"
    again = CliRunner().invoke(main, ["--dsn", dsns["citus"], "distribute", "checked", "--json"])
    assert again.exit_code == 0, again.output
    assert [r["action"] for r in json.loads(again.output)] == ["distributed already"]
    shown = CliRunner().invoke(main, ["--dsn", dsns["citus"], "placement", "checked"])
    assert shown.exit_code == 0 and shown.output.count("distributed by user_id") == 2, shown.output
    described = CliRunner().invoke(main, ["--dsn", dsns["citus"], "describe", "checked"])
    assert "placement: distributed by user_id over 4 shards (Citus)" in described.output, described.output


def test_ingest_counts_and_history_match_single_node(stores, dsns):
    good = {"user_id": list(range(1, 201)), "amount": [float(i % 90) for i in range(200)]}
    single, citus = both(stores, lambda s: s.insert_batch("checked", good, timestamp=DAY))
    assert counts(single) == counts(citus) == (200, 200, 0, {}, 0)
    mixed = {"user_id": [1, 2, 3, 4], "amount": [50.0, 150.0, 250.0, 20.0], "code": ["ABC", "abc", "XYZ", "DEF"]}
    single, citus = both(stores, lambda s: s.insert_batch("checked", mixed, timestamp=DAY + dt.timedelta(hours=1)))
    assert counts(single) == counts(citus) == (4, 2, 2, {"amount__max": 2, "code__regex": 1}, 0)
    assert citus.path == "staging"
    for store in stores.values():
        with pytest.raises(errors.BatchRejected):
            store.insert_batch("checked", mixed, timestamp=DAY + dt.timedelta(hours=2), mode="strict")
    retried = both(stores, lambda s: [s.insert_batch("user_stats", {"user_id": [7], "spend_7d": [1.5]}, timestamp="now",
                                                     batch_key="k-1") for _ in range(2)])
    for first, second in retried:
        assert first.batch_id == second.batch_id and first.inserted == 1
    histories = [sorted(_rows(dsn, "SELECT user_id, event_ts, amount, code FROM fs_offline.checked__v1")) for dsn in dsns.values()]
    assert histories[0] == histories[1] and len(histories[0]) == 202
    logs = [_rows(dsn, "SELECT rows_in, inserted, quarantined, min_event_ts, max_event_ts FROM fs.ingest_batch"
                       " JOIN fs.feature_view_version USING (version_id) WHERE offline_table = 'checked__v1' ORDER BY batch_id")
            for dsn in dsns.values()]
    assert logs[0] == logs[1]


def test_plain_sql_writes_keep_online_current_and_rules(dsns):
    for dsn in dsns.values():
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO fs_offline.checked__v1 (user_id, event_ts, amount) VALUES (500, %s, 10), (501, %s, 11)",
                         [DAY, DAY])
            with pytest.raises(psycopg.Error, match='violates check constraint "amount__min_max"'):
                conn.execute("INSERT INTO fs_offline.checked__v1 (user_id, event_ts, amount) VALUES (502, %s, 1000)", [DAY])
    online = [_rows(dsn, "SELECT user_id, amount FROM fs_online.checked__v1 WHERE user_id >= 500 ORDER BY 1") for dsn in dsns.values()]
    assert online[0] == online[1] == [(500, 10.0), (501, 11.0)]


def test_writers_write_as_themselves_and_never_set_created_ts(dsns):
    for dsn in dsns.values():
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET ROLE fs_writer")
            conn.execute("INSERT INTO fs_offline.checked__v1 (user_id, event_ts, amount) VALUES (600, %s, 6)", [DAY])
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO fs_offline.checked__v1 (user_id, event_ts, created_ts, amount) VALUES (601, %s, %s, 6)",
                             [DAY, DAY])
    for dsn in dsns.values():
        assert _rows(dsn, "SELECT user_id, amount FROM fs_online.checked__v1 WHERE user_id IN (600, 601)") == [(600, 6.0)]


def test_a_migrate_after_distribute_keeps_the_upkeep_on_the_workers(stores, dsns):
    migrate.upgrade(dsns["citus"])  # re-makes every version's trigger function (99_reconcile)
    both(stores, lambda s: s.insert_batch("checked", {"user_id": [610], "amount": [61.0]}, timestamp=DAY))
    assert _rows(dsns["citus"], "SELECT amount FROM fs_online.checked__v1 WHERE user_id = 610") == [(61.0,)]


def test_online_is_newest_of_history_everywhere(dsns):
    newest = ("SELECT DISTINCT ON (user_id) user_id, event_ts, amount FROM fs_offline.checked__v1"
              " ORDER BY user_id, event_ts DESC, created_ts DESC")
    for dsn in dsns.values():
        assert sorted(_rows(dsn, newest)) == sorted(_rows(dsn, "SELECT user_id, event_ts, amount FROM fs_online.checked__v1"))


def test_lookups_match_single_node(stores, dsns):
    now = {"user_id": [1, 2, 3, 7, 999], "spend_7d": [1.0, 2.0, 3.0, 4.0, 5.0]}
    both(stores, lambda s: s.insert_batch("user_stats", now, timestamp="now"))
    both(stores, lambda s: s.insert_batch("fx_rates", {"eur_usd": [1.08]}, timestamp="now"))
    for features in (["user_stats.spend_7d", "checked.amount", "fx_rates.eur_usd"], ["checked.*"]):
        single, citus = both(stores, lambda s: s.get_online_features(features, entities={"user_id": [3, 1, 12345, 2]},
                                                                     as_dicts=True))
        assert single == citus
    single, citus = both(stores, lambda s: s.get_online_features(service="scoring", entities={"user_id": [7]}, as_dicts=True))
    assert single == citus and citus[0]["spend_7d"] == 4.0 and citus[0]["eur_usd"] == 1.08
    for _ in range(8):  # past the 5 custom plans after which PostgreSQL may switch to a generic one
        assert stores["citus"].get_online_features(service="scoring", entities={"user_id": [2]}, as_dicts=True)[0]["spend_7d"] == 2.0
    sql = ["SELECT user_id, spend_7d, eur_usd FROM fs_serving.scoring(ARRAY[1, 999, 4]::bigint[])",
           "SELECT user_id, spend_7d FROM fs_serving.scoring(7::bigint)"]
    for query in sql:
        assert _rows(dsns["single"], query) == _rows(dsns["citus"], query)


def test_offline_reads_match_single_node(stores):
    entities = {"user_id": [4, 1, 77777, 500]}
    single, citus = both(stores, lambda s: s.load_batch("checked", DAY + dt.timedelta(hours=3), entities=entities))
    assert single.equals(citus) and citus.column("user_id").to_pylist() == [4, 1, 77777, 500]
    single, citus = both(stores, lambda s: s.load_batch("checked", DAY + dt.timedelta(hours=3)))
    assert single.sort_by("user_id").equals(citus.sort_by("user_id"))
    single, citus = both(stores, lambda s: s.load_history("checked", DAY, DAY + dt.timedelta(days=1), entities={"user_id": [1, 2]})
                         .drop_columns(["created_ts", "batch_id"]))
    assert single.equals(citus) and single.column("amount").to_pylist() == [0.0, 50.0, 1.0]


def test_training_sets_match_and_rebuild_identical(stores):
    spine = pa.table({"user_id": [1, 2, 3, 1, 500, 42],
                      "event_ts": [DAY + dt.timedelta(minutes=30)] * 3 + [DAY + dt.timedelta(hours=2)] * 3})
    features = ["checked.amount", "checked.code", "user_stats.spend_7d", "fx_rates.eur_usd"]
    single, citus = both(stores, lambda s: s.get_training_set(spine, features))
    assert single.equals(citus)
    assert citus.column("amount").to_pylist() == [0.0, 1.0, 2.0, 50.0, 10.0, 41.0]
    stored = both(stores, lambda s: s.create_training_set("churn", spine, features))
    assert stored[0].content_hash == stored[1].content_hash
    assert stores["citus"].verify_training_set("churn").identical


def test_training_sets_of_two_entities_match(stores):
    doc = ingest_defs()
    doc["entities"].append({"name": "merchant", "keys": {"merchant_id": "bigint"}})
    doc["feature_views"].append({"name": "merchant_risk", "entity": "merchant",
                                 "features": [{"name": "chargebacks", "dtype": "int"}]})
    both(stores, lambda s: s.apply(doc))
    both(stores, lambda s: s.insert_batch("merchant_risk", {"merchant_id": [10, 20], "chargebacks": [1, 5]}, timestamp=DAY))
    spine = pa.table({"user_id": [1, 2, 3], "merchant_id": [20, 10, 30],
                      "event_ts": [DAY + dt.timedelta(hours=2)] * 3})
    single, citus = both(stores, lambda s: s.get_training_set(spine, ["checked.amount", "merchant_risk.chargebacks"]))
    assert single.equals(citus) and citus.column("chargebacks").to_pylist() == [5, 1, None]


def test_statistics_match_single_node(stores):
    single, citus = both(stores, lambda s: s.compute_stats("checked"))
    # Sums over shards add up in another order: equal to the last few bits.
    for one, other in zip(single, citus, strict=True):
        for key, value in one.items():
            if key != "computed_at":
                assert other[key] == (pytest.approx(value) if isinstance(value, (float, list)) and value else value), key


def test_new_versions_are_distributed_backfilled_and_promoted(stores):
    doc = ingest_defs()
    view(doc, "checked")["features"][1]["rules"]["max"] = 200
    both(stores, lambda s: s.apply(doc))
    placed = {(r["version"], r["kind"]): r["placement"] for r in stores["citus"].placement("checked")}
    assert placed[2, "history"] == placed[2, "online"] == "distributed by user_id"
    single, citus = both(stores, lambda s: s.backfill("checked@2"))
    assert (single.inserted, single.quarantined) == (citus.inserted, citus.quarantined)
    both(stores, lambda s: s.promote("checked@2"))
    single, citus = both(stores, lambda s: s.get_online_features(["checked.amount"], entities={"user_id": [1, 2, 3]},
                                                                 as_dicts=True))
    assert single == citus


def test_writes_reach_staged_versions_under_their_rules(stores, dsns):
    doc = ingest_defs()
    view(doc, "checked")["features"][1]["rules"]["max"] = 60  # version 3, staged: stricter
    both(stores, lambda s: s.apply(doc))
    rows = {"user_id": [1, 2, 3], "amount": [10.0, 55.0, 150.0]}
    single, citus = both(stores, lambda s: s.insert_batch("checked", rows, timestamp=DAY + dt.timedelta(hours=5)))
    assert counts(single) == counts(citus) == (3, 3, 0, {}, 0)
    staged = [_rows(dsn, "SELECT user_id, amount FROM fs_offline.checked__v3 ORDER BY 1") for dsn in dsns.values()]
    assert staged[0] == staged[1] == [(1, 10.0), (2, 55.0)]
    logged = [_rows(dsn, "SELECT b.rows_in, b.inserted, b.quarantined, b.reasons FROM fs.ingest_batch b"
                         " JOIN fs.feature_view_version v USING (version_id) WHERE v.offline_table = 'checked__v3'")
              for dsn in dsns.values()]
    assert logged[0] == logged[1] == [(3, 2, 1, {"amount__max": 1})]


def test_maintain_and_forget_on_distributed_tables(stores, dsns):
    staged = "SELECT user_id, amount FROM fs_offline.checked__v3 ORDER BY 1"
    before = _rows(dsns["citus"], staged)
    single, citus = both(stores, lambda s: s.maintain())
    assert [(r["feature_view"], r["version"]) for r in single] == [(r["feature_view"], r["version"]) for r in citus]
    # The staged version's rows waited in its default partition on Citus (partitions are
    # not made inside a dual write there); maintain moved them, and lost none.
    assert {(r["version"], r["default_rows_moved"]) for r in citus if r["feature_view"] == "checked"} == {(1, 0), (2, 0), (3, 2)}
    assert _rows(dsns["citus"], staged) == before == _rows(dsns["single"], staged)
    assert _rows(dsns["citus"], "SELECT count(*) FROM fs_offline.checked__v3_default") == [(0,)]
    single, citus = both(stores, lambda s: s.forget("checked", {"user_id": 1}, reason="erasure request 9"))
    assert single == citus > 0
    for dsn in dsns.values():
        assert _rows(dsn, "SELECT count(*) FROM fs_offline.checked__v2 WHERE user_id = 1") == [(0,)]
        assert _rows(dsn, "SELECT count(*) FROM fs_online.checked__v2 WHERE user_id = 1") == [(0,)]


def test_sql_defined_views_materialize_into_distributed_tables(stores, dsns):
    from tests.test_sources import QUERY, definitions

    for dsn in dsns.values():
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE public.payments (payment_id bigserial PRIMARY KEY, user_id bigint, amount numeric,"
                         " paid_at timestamptz)")
            conn.execute("""INSERT INTO public.payments (user_id, amount, paid_at)
                            SELECT u, u * 10 + h / 6, %s::timestamptz + h * interval '1 hour'
                              FROM generate_series(1, 3) u, generate_series(0, 143, 6) h""", [DAY])
            conn.execute("GRANT SELECT ON public.payments TO fs_source")
    both(stores, lambda s: s.apply(definitions()))
    assert {r["placement"] for r in stores["citus"].placement("daily_spend")} == {"distributed by user_id"}
    steps = both(stores, lambda s: s.materialize("daily_spend", DAY, DAY + dt.timedelta(days=3)))
    assert [(w.inserted, w.quarantined) for w in steps[0]] == [(w.inserted, w.quarantined) for w in steps[1]]
    history = [_rows(dsn, "SELECT user_id, event_ts, spend_1d, txn_1d FROM fs_offline.daily_spend__v1 ORDER BY 1, 2")
               for dsn in dsns.values()]
    assert history[0] == history[1] == _rows(dsns["single"], f"SELECT user_id, event_ts, spend_1d::float8, txn_1d::int"
                                                            f" FROM ({QUERY}) q WHERE event_ts < '{DAY + dt.timedelta(days=3)}'"
                                                            " ORDER BY 1, 2")
    assert len(history[1]) == 9


def test_cdc_from_an_application_database_into_a_distributed_view(stores, dsns, cluster):
    from fspg import cdc
    from tests.test_cdc import definitions as shop_definitions

    source = cluster.plain_database("shop")
    with psycopg.connect(source, autocommit=True) as app:
        app.execute("CREATE TABLE public.orders (order_id bigint PRIMARY KEY, merchant_id bigint, total numeric,"
                    " status text, ordered_at timestamptz NOT NULL DEFAULT now())")
        app.execute("INSERT INTO orders VALUES (1, 10, 5.5, 'new', now() - interval '1 hour')")
    store = stores["citus"]
    store.apply(shop_definitions())
    assert {r["placement"] for r in store.placement("order_events")} == {"distributed by order_id"}
    history = "SELECT order_id, total, status FROM fs_offline.order_events__v1 ORDER BY order_id, created_ts"
    cdc.add(dsns["citus"], "shop", source, "public.orders", "order_events", event_time="ordered_at")
    try:
        wait_for(lambda: len(_rows(dsns["citus"], history)) == 1)
        with psycopg.connect(source, autocommit=True) as app:
            app.execute("INSERT INTO orders VALUES (2, 11, 7, 'paid', now())")
            app.execute("UPDATE orders SET status = 'shipped', ordered_at = now() WHERE order_id = 1")
            app.execute("INSERT INTO orders VALUES (3, 12, -1, 'new', now())")  # breaks total >= 0
            app.execute("DELETE FROM orders WHERE order_id = 2")
            app.execute("INSERT INTO orders VALUES (5, 13, 1, 'new', now())")
        wait_for(lambda: any(r[0] == 5 for r in _rows(dsns["citus"], history)))
        assert _rows(dsns["citus"], history) == [(1, 5.5, "new"), (1, 5.5, "shipped"), (2, 7.0, "paid"), (2, None, None),
                                                 (5, 1.0, "new")]
        assert store.get_online_features(["order_events.status"], entities={"order_id": [1, 2, 5]}, as_dicts=True) == [
            {"order_id": 1, "status": "shipped"}, {"order_id": 2, "status": None}, {"order_id": 5, "status": "new"}]
        assert _rows(dsns["citus"], "SELECT count(*) FROM fs.quarantine q JOIN fs.feature_view_version v USING (version_id)"
                                    " WHERE v.offline_table = 'order_events__v1'") == [(1,)]
    finally:
        cdc.remove(dsns["citus"], "shop")


def test_the_feature_server_on_the_coordinator_answers_as_on_one_node(dsns):
    answers = {}
    for name, dsn in dsns.items():
        # Without tokens it looks up as fs_serving and pushes as fs_writer: on Citus the
        # coordinator reaches the workers as those roles.
        with running(create_app(ServerConfig(dsn=dsn))) as url:
            pushed = httpx.post(url + "/push", json={"feature_view": "user_stats", "timestamp": "now", "rows": [{"user_id": 31, "spend_7d": 3.5}]},
                                timeout=20)
            assert pushed.status_code == 200 and pushed.json()["inserted"] == 1, pushed.text
            feast = httpx.post(url + "/get-online-features", timeout=20,
                               json={"features": ["user_stats:spend_7d", "fx_rates:eur_usd"], "entities": {"user_id": [31, 2, 404]}})
            ours = httpx.post(url + "/get-online-features", json={"service": "scoring", "entities": {"user_id": [31]}}, timeout=20)
            assert feast.status_code == ours.status_code == 200, feast.text + ours.text
            answers[name] = ([(c["values"], c["statuses"]) for c in feast.json()["results"]], ours.json()["rows"][0]["spend_7d"])
    assert answers["single"] == answers["citus"]
    assert answers["citus"][1] == 3.5


def test_a_replica_fed_by_every_worker_serves_what_the_coordinator_does(stores, dsns, cluster):
    replica_dsn = cluster.plain_database("fspg_replica")
    store = stores["citus"]
    added = store.add_replica(replica_dsn, name="serving1")
    online = "SELECT * FROM fs_online.{} ORDER BY 1"
    for table in ("checked__v2", "user_stats__v1", "fx_rates__v1"):  # the first copy: shards and local tables
        wait_for(lambda: _rows(replica_dsn, online.format(table)) == _rows(dsns["citus"], online.format(table)))
    store.insert_batch("user_stats", {"user_id": [2, 70001], "spend_7d": [77.0, 1.0]}, timestamp="now")
    wait_for(lambda: _rows(replica_dsn, "SELECT spend_7d FROM fs_online.user_stats__v1 WHERE user_id IN (2, 70001) ORDER BY 1")
             == [(1.0,), (77.0,)])  # streamed from the workers
    served = FeatureStore(dsns["citus"], replicas=[replica_dsn])
    ask = {"service": "scoring", "entities": {"user_id": [2, 70001, 5]}, "as_dicts": True}
    assert served.get_online_features(**ask) == store.get_online_features(**ask)
    # SQL users of the replica get the single-node form of the service's functions.
    assert _rows(replica_dsn, "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
                              " WHERE p.proname = 'scoring' GROUP BY 1") == [("sql",)]
    lookup = "SELECT user_id, spend_7d, eur_usd FROM fs_serving.scoring(ARRAY[2, 70001, 5]::bigint[])"
    assert _rows(replica_dsn, lookup) == _rows(dsns["citus"], lookup)
    assert [r["name"] for r in store.replica_status() if r["streaming"]] == [added.name]
    store.remove_replica(added.name)
    assert _rows(replica_dsn, "SELECT subname FROM pg_subscription") == []
    for worker in cluster.worker_dsns("fspg_citus"):
        assert _rows(worker, "SELECT slot_name FROM pg_replication_slots") == []


def _rows(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()
