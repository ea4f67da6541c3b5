"""Models bound to the feature versions they were trained with; deprecation; lineage."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from click.testing import CliRunner

from fspg import errors
from fspg.cli import main
from tests.defs import base, view

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def spine() -> pa.Table:
    return pa.table({"user_id": pa.array([1, 2], pa.int64()), "event_ts": [NOW] * 2, "label": [1, 0]})


@pytest.fixture
def trained(store):
    """user_stats@1 with values, a training set on it, and model fraud@1 trained on that set."""
    store.apply(base())
    store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [10.0, 20.0], "country": ["DE", "FR"]},
                       timestamp=NOW - dt.timedelta(hours=1))
    store.create_training_set("fraud_train", spine(), ["user_stats.spend_7d", "user_stats.country"])
    store.register_model("fraud", 1, training_set="fraud_train", experiment="exp-42",
                         params={"max_depth": 6}, metrics={"auc": 0.91})
    return store


def new_user_stats_version(store) -> None:
    """user_stats@2: spend_7d becomes numeric (a new meaning), promoted; then other values
    (which also reach user_stats@1, kept written as the rollback target)."""
    doc = base()
    view(doc, "user_stats")["features"][0]["dtype"] = "numeric"
    assert any(step.action == "new version" for step in store.apply(doc, promote=True))
    store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [111.0, 222.0], "country": ["US", "US"]},
                       timestamp=NOW - dt.timedelta(minutes=30))


def test_a_model_is_served_the_versions_it_was_trained_with(trained):
    store = trained
    new_user_stats_version(store)
    served = store.get_online_features(model="fraud", model_version=1, entities=[1, 2], as_dicts=True)
    # user_stats@1: its float8 spend_7d, not the numeric of the promoted version
    assert served == [{"user_id": 1, "spend_7d": 111.0, "country": "US"}, {"user_id": 2, "spend_7d": 222.0, "country": "US"}]
    assert all(type(row["spend_7d"]) is float for row in served)
    current = store.get_online_features(["user_stats.spend_7d"], entities=[1], as_dicts=True)
    assert type(current[0]["spend_7d"]) is not float and float(current[0]["spend_7d"]) == 111.0
    # Its training set rebuilds as trained, too, and a fresh join for the model reads @1.
    assert store.get_training_set("fraud_train").column("spend_7d").to_pylist() == [10.0, 20.0]
    fresh = store.get_training_set(spine(), model="fraud", model_version=1)
    assert fresh.schema.field("spend_7d").type == pa.float64()
    assert fresh.column("country").to_pylist() == ["US", "US"]
    described = store.models("fraud")[0]
    assert described["features"] == ["user_stats@1.spend_7d", "user_stats@1.country"]
    assert (described["training_set"], described["experiment"], described["metrics"]) == ("fraud_train@1", "exp-42", {"auc": 0.91})


def test_newest_active_version_serves_when_no_version_is_named(trained):
    store = trained
    new_user_stats_version(store)
    store.register_model("fraud", features=["user_stats.spend_7d"])  # version 2, on user_stats@2
    assert store.models("fraud")[1]["features"] == ["user_stats@2.spend_7d"]
    served = store.get_online_features(model="fraud", entities=[1], as_dicts=True)[0]["spend_7d"]
    assert type(served) is not float and float(served) == 111.0          # numeric: user_stats@2
    store.archive_model("fraud", 2)
    served = store.get_online_features(model="fraud", entities=[1], as_dicts=True)[0]["spend_7d"]
    assert type(served) is float and served == 111.0                     # float8: user_stats@1


def test_deprecation_is_refused_while_an_active_model_uses_the_version(trained, conn):
    store = trained
    new_user_stats_version(store)
    store.register_model("fraud_v2_shadow", features=["user_stats@1.country"])
    with pytest.raises(errors.InUse, match=r"user_stats@1 is used by active model\(s\) fraud@1, fraud_v2_shadow@1"):
        store.deprecate("user_stats@1")
    store.archive_model("fraud", 1)
    store.archive_model("fraud_v2_shadow", 1)
    store.deprecate("user_stats@1")
    status = conn.execute("SELECT status FROM fs.feature_view_version vv JOIN fs.feature_view fv USING (view_id)"
                          " WHERE fv.name = 'user_stats' ORDER BY vv.version").fetchall()
    assert status == [("deprecated",), ("active",)]
    with pytest.raises(errors.InvalidArgument, match="user_stats@1 are deprecated"):
        store.register_model("late", features=["user_stats@1.spend_7d"])


def test_bad_model_requests(trained):
    store = trained
    with pytest.raises(errors.NotFound, match="model nope is not registered"):
        store.get_online_features(model="nope", entities=[1])
    with pytest.raises(errors.NotFound, match="model fraud@7 is not registered"):
        store.get_online_features(model="fraud", model_version=7, entities=[1])
    with pytest.raises(errors.NotFound, match="model fraud@7 is not registered"):
        store.get_training_set(spine(), model="fraud", model_version=7)
    with pytest.raises(errors.Conflict, match="fraud@1 is already registered"):
        store.register_model("fraud", 1, features=["user_stats.spend_7d"])
    assert store.register_model("fraud", 1, training_set="fraud_train", experiment="exp-42",
                                params={"max_depth": 6}, metrics={"auc": 0.91})["action"] == "unchanged"
    with pytest.raises(errors.InvalidArgument, match="either the training set"):
        store.register_model("m", features=["user_stats.spend_7d"], training_set="fraud_train")
    with pytest.raises(errors.NotFound, match="training set nope@3 does not exist"):
        store.register_model("m", training_set="nope@3")
    with pytest.raises(errors.InvalidArgument, match="exactly one of features, service or model"):
        store.get_online_features(["user_stats.spend_7d"], model="fraud", entities=[1])
    with pytest.raises(errors.NotFound):
        store.archive_model("fraud", 9)
    with pytest.raises(errors.InvalidArgument, match="view@version"):
        store.deprecate("user_stats")
    assert [m["version"] for m in store.models("fraud")] == [1]


def test_lineage_up_and_down(trained):
    store = trained
    store.register_model("spend_only", features=["user_stats.spend_7d"])
    down = {(r["kind"], r["name"]) for r in store.lineage("user_stats.country", "down")}
    # The feature reaches the training set and the model trained on it, not spend_only.
    assert down == {("feature_view", "user_stats@1"), ("training_set", "fraud_train@1"), ("model", "fraud@1")}
    up = [(r["depth"], r["kind"], r["name"]) for r in store.lineage("model:fraud@1", "up") if r["direction"] == "up"]
    assert up == [(1, "training_set", "fraud_train@1"), (2, "feature_view", "user_stats@1"), (3, "entity", "user")]
    whole_view = {(r["kind"], r["name"]) for r in store.lineage("user_stats", "down") if r["direction"] == "down"}
    assert {("model", "fraud@1"), ("model", "spend_only@1"), ("feature_service", "scoring@1")} <= whole_view
    with pytest.raises(errors.NotFound):
        store.lineage("nothing_here")


def test_models_and_lineage_commands(trained, dsn):
    def run(*args):
        return CliRunner().invoke(main, ["--dsn", dsn, *args])

    result = run("models", "ls")
    assert result.exit_code == 0 and "fraud" in result.output and "fraud_train@1" in result.output
    result = run("models", "describe", "fraud@1")
    assert result.exit_code == 0 and "user_stats@1.spend_7d" in result.output and "entity user" in result.output
    result = run("models", "register", "cli_model", "--features", "user_stats.spend_7d", "--metrics", '{"auc": 0.7}')
    assert result.exit_code == 0 and "create     model cli_model@1: user_stats@1.spend_7d" in result.output
    result = run("models", "register", "cli_model", "--features", "x.y", "--metrics", "{not json")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    result = run("deprecate", "user_stats@1")
    assert result.exit_code == 2 and "fraud@1" in result.stderr and result.stderr.count("\n") == 1
    result = run("models", "archive", "fraud")
    assert result.exit_code == 2
    result = run("lineage", "model:fraud@1", "--up")
    assert result.exit_code == 0 and "fraud_train@1" in result.output
    result = run("training-set", "verify", "fraud_train@1")
    assert result.exit_code == 0 and "identical" in result.output
    result = run("training-set", "ls")
    assert result.exit_code == 0 and "fs_training.fraud_train__v1" in result.output
    result = run("training-set", "get", "fraud_train")
    assert result.exit_code == 0 and result.output.splitlines()[0].split() == ["user_id", "event_ts", "label", "spend_7d", "country"]
