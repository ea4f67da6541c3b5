"""fspg apply: create, dry run, idempotency, new versions, metadata updates, services."""
from __future__ import annotations

import json

import psycopg
import pytest

from tests.conftest import EXAMPLES
from tests.defs import base, view


def _actions(plan):
    return [(s.kind, s.name, s.version, s.action) for s in plan]


def _catalog_counts(conn):
    return conn.execute(
        "SELECT (SELECT count(*) FROM fs.entity), (SELECT count(*) FROM fs.feature_view_version),"
        " (SELECT count(*) FROM fs.feature_service_version),"
        " (SELECT count(*) FROM pg_tables WHERE schemaname IN ('fs_offline', 'fs_online'))").fetchone()


def test_first_apply_creates_everything_with_tables(store, conn):
    plan = store.apply(base())
    assert _actions(plan) == [
        ("entity", "user", None, "create"),
        ("feature_view", "user_stats", 1, "create"),
        ("feature_view", "fx_rates", 1, "create"),
        ("feature_service", "scoring", 1, "create"),
    ]
    tables = {r[0] for r in conn.execute(
        "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname IN ('fs_offline', 'fs_online')")}
    assert {"fs_offline.user_stats__v1", "fs_online.user_stats__v1",
            "fs_offline.fx_rates__v1", "fs_online.fx_rates__v1"} <= tables
    # history is range-partitioned by event_ts
    strategy = conn.execute("SELECT partstrat, pg_get_partkeydef('fs_offline.user_stats__v1'::regclass)"
                            " FROM pg_partitioned_table WHERE partrelid = 'fs_offline.user_stats__v1'::regclass").fetchone()
    assert strategy == ("r", "RANGE (event_ts)")
    # online primary key is the entity key
    pk = conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                      " WHERE conrelid = 'fs_online.user_stats__v1'::regclass AND contype = 'p'").fetchone()[0]
    assert pk == "PRIMARY KEY (user_id)"
    cols = [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'fs_offline'"
        " AND table_name = 'user_stats__v1' ORDER BY ordinal_position")]
    assert cols == ["user_id", "event_ts", "created_ts", "batch_id", "spend_7d", "country", "email_domain"]


def test_dry_run_reports_plan_and_changes_nothing(store, conn):
    before = _catalog_counts(conn)
    plan = store.apply(base(), dry_run=True)
    assert [s.action for s in plan] == ["create"] * 4
    assert _catalog_counts(conn) == before
    store.apply(base())
    doc = base()
    view(doc, "user_stats")["features"][0]["rules"]["max"] = 5000
    after_apply = _catalog_counts(conn)
    plan = store.apply(doc, dry_run=True)
    assert ("feature_view", "user_stats", 2, "new version") in _actions(plan)
    assert _catalog_counts(conn) == after_apply


def test_reapplying_unchanged_definitions_changes_nothing(store, conn):
    store.apply(base())
    before = _catalog_counts(conn)
    plan = store.apply(base())
    assert {s.action for s in plan} == {"unchanged"}
    assert _catalog_counts(conn) == before


def test_changed_definition_makes_a_staged_version_and_serving_stays(store, conn):
    store.apply(base())
    conn.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d) VALUES (1, now(), 10)")
    doc = base()
    view(doc, "user_stats")["features"].append({"name": "spend_30d", "dtype": "float8"})
    plan = store.apply(doc)
    step = next(s for s in plan if s.name == "user_stats")
    assert (step.version, step.action, step.serving) == (2, "new version", 1)
    assert step.message == "new version 2 staged; serving stays on 1"
    # the service follows the served version, which has not changed
    assert ("feature_service", "scoring", 1, "unchanged") in _actions(plan)
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v1").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v2").fetchone()[0] == 0
    online_columns = """SELECT column_name FROM information_schema.columns WHERE table_schema = 'fs_online'
                         AND table_name = 'user_stats' ORDER BY ordinal_position"""
    assert "spend_30d" not in [r[0] for r in conn.execute(online_columns)]
    described = store.describe("user_stats@2")
    assert (described["stage"], described["current_version"]) == ("staged", 1)
    # promoted (after its backfill), the stable views and the service move to version 2
    store.backfill("user_stats@2")
    switch = store.promote("user_stats@2")
    assert (switch.from_version, switch.to_version, switch.services) == (1, 2, ["scoring@2"])
    assert "spend_30d" in [r[0] for r in conn.execute(online_columns)]
    described = store.describe("user_stats@1")
    assert described["version"] == 1 and described["current_version"] == 2 and described["rows"] == 1
    assert described["stage"] == "previous"


@pytest.mark.parametrize("change", ["dtype", "rules", "ttl", "tags", "partition"])
def test_each_schema_change_is_a_new_version(store, change):
    store.apply(base())
    doc = base()
    v = view(doc, "user_stats")
    if change == "dtype":
        v["features"][0]["dtype"] = "numeric"
    elif change == "rules":
        v["features"][1]["rules"]["allowed"].append("GB")
    elif change == "ttl":
        v["ttl"] = "14 days"
    elif change == "tags":
        v["tags"] = {"experiment": "exp-43"}
    else:
        v["partition"] = "day"
    plan = store.apply(doc)
    assert ("feature_view", "user_stats", 2, "new version") in _actions(plan)


def test_description_owner_retention_update_in_place(store, conn):
    store.apply(base())
    doc = base()
    v = view(doc, "user_stats")
    v["description"] = "Spend per user, hourly."
    v["owner"] = "fraud-team"
    v["retention"] = "5 years"
    v["features"][0]["description"] = "Spend over 7 days in EUR."
    plan = store.apply(doc)
    assert ("feature_view", "user_stats", 1, "update") in _actions(plan)
    info = store.describe("user_stats")
    assert (info["owner"], info["retention"], info["features"][0]["description"]) == \
        ("fraud-team", "5 years", "Spend over 7 days in EUR.")
    comment = conn.execute("SELECT col_description('fs_offline.user_stats__v1'::regclass, 5)").fetchone()[0]
    assert comment.startswith("Spend over 7 days in EUR.")


def test_every_generated_object_has_a_comment(store, conn):
    store.apply(base())
    missing = conn.execute("""
        SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('fs', 'fs_offline', 'fs_online') AND c.relkind IN ('r', 'p', 'v')
           AND c.relname NOT LIKE '%\\_default' AND c.relname <> 'alembic_version'
           AND obj_description(c.oid, 'pg_class') IS NULL""").fetchall()
    assert missing == []
    uncommented_columns = conn.execute("""
        SELECT a.attrelid::regclass::text, a.attname FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('fs_offline', 'fs_online') AND c.relkind IN ('r', 'p') AND a.attnum > 0
           AND NOT a.attisdropped AND c.relname NOT LIKE '%\\_default' AND a.attname <> 'global_key'
           AND col_description(a.attrelid, a.attnum) IS NULL""").fetchall()
    assert uncommented_columns == []


def test_global_view_has_one_online_row_key(store, conn):
    store.apply(base())
    store.insert_batch("fx_rates", {"eur_usd": [1.1]}, timestamp="2026-11-01")
    store.insert_batch("fx_rates", {"eur_usd": [1.2]}, timestamp="2026-11-02")
    assert conn.execute("SELECT eur_usd FROM fs_online.fx_rates__v1").fetchall() == [(1.2,)]
    with pytest.raises(psycopg.errors.CheckViolation):  # the key can only be true: one row
        conn.execute("INSERT INTO fs_online.fx_rates__v1 VALUES (false, now(), now(), 1.3)")


def test_composite_entity_key(store, conn):
    doc = {
        "entities": [{"name": "user_merchant", "keys": {"user_id": "bigint", "merchant_id": "text"}}],
        "feature_views": [{"name": "pair_stats", "entity": "user_merchant",
                           "features": [{"name": "n_txn", "dtype": "int"}]}],
    }
    store.apply(doc)
    pk = conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                      " WHERE conrelid = 'fs_online.pair_stats__v1'::regclass AND contype = 'p'").fetchone()[0]
    assert pk == "PRIMARY KEY (user_id, merchant_id)"
    assert store.describe("pair_stats")["keys"] == [{"name": "user_id", "dtype": "bigint"},
                                                    {"name": "merchant_id", "dtype": "text"}]


def test_feature_service_pins_versions_and_records_lineage(store, conn):
    store.apply(base())
    rows = conn.execute("SELECT feature_view, feature_view_version, feature FROM fs.feature_services"
                        " WHERE name = 'scoring' AND is_current ORDER BY position").fetchall()
    assert rows == [("user_stats", 1, "spend_7d"), ("fx_rates", 1, "eur_usd")]
    doc = base()
    doc["feature_services"][0]["features"] = ["user_stats@1.spend_7d", "user_stats@1.country"]
    assert ("feature_service", "scoring", 2, "new version") in _actions(store.apply(doc))
    edges = set(conn.execute("SELECT source_name, target_name FROM fs.lineage WHERE target_kind = 'feature_service'"))
    assert {("user_stats@1", "scoring@1"), ("fx_rates@1", "scoring@1"), ("user_stats@1", "scoring@2")} <= edges
    info = store.describe("user_stats")
    assert {"kind": "entity", "name": "user"} in info["upstream"]
    assert {"kind": "feature_service", "name": "scoring@2"} in info["downstream"]


def test_list_feature_views(store, conn):
    store.apply(base())
    conn.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d) VALUES (1, now(), 1), (2, now(), 2)")
    views = {v["name"]: v for v in store.list_feature_views()}
    assert set(views) == {"user_stats", "fx_rates"}
    assert (views["user_stats"]["current_version"], views["user_stats"]["rows"],
            views["user_stats"]["features"], views["user_stats"]["owner"]) == (1, 2, 3, "risk")


def test_example_repository_applies(store, needs_vector, conn):
    plan = store.apply(EXAMPLES)
    assert {s.action for s in plan} == {"create"}
    assert {s.name for s in plan if s.kind == "feature_view"} == {"user_stats", "user_embeddings", "merchant_stats", "fx_rates",
                                                                 "daily_spend", "order_events"}
    assert conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                        " WHERE attrelid = 'fs_online.user_embeddings__v1'::regclass AND attname = 'embedding'"
                        ).fetchone()[0] == "vector(16)"
    assert {s.action for s in store.apply(EXAMPLES)} == {"unchanged"}


def test_sql_users_get_the_same_api(conn):
    """An analyst applies a definition from psql with the same function the client calls."""
    rows = conn.execute("SELECT * FROM fs.apply(%s::jsonb)", [json.dumps(base())]).fetchall()
    assert rows[1] == ("feature_view", "user_stats", 1, "create", 1)
    assert conn.execute("SELECT name, current_version, entity FROM fs.feature_views WHERE name = 'user_stats'"
                        ).fetchone() == ("user_stats", 1, "user")
