"""Feature statistics, drift between versions against declared thresholds, training/serving skew."""
from __future__ import annotations

import datetime as dt
import random
import statistics

import pytest
from click.testing import CliRunner

from fspg import errors
from fspg.cli import main

T0 = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)


def definitions(amount_dtype: str = "float8", drift: dict | None = None) -> dict:
    spec = {"name": "payments", "entity": "user", "features": [
        {"name": "amount", "dtype": amount_dtype}, {"name": "fee", "dtype": "float8"},
        {"name": "channel", "dtype": "text"}, {"name": "refunded", "dtype": "bool"}]}
    if drift is not None:
        spec["drift"] = drift
    return {"entities": [{"name": "user", "keys": {"user_id": "bigint"}}], "feature_views": [spec]}


def rows(rng: random.Random, n: int, *, fee_mean: float = 1.0, web_share: float = 0.5, day: int = 0) -> dict:
    return {
        "user_id": list(range(n)),
        "event_ts": [T0 + dt.timedelta(days=day, minutes=i % 600) for i in range(n)],
        "amount": [rng.gauss(50, 10) for _ in range(n)],
        "fee": [rng.gauss(fee_mean, 0.2) if i % 10 else None for i in range(n)],
        "channel": ["web" if rng.random() < web_share else "app" for _ in range(n)],
        "refunded": [rng.random() < 0.1 for _ in range(n)],
    }


def test_statistics_are_computed_in_sql_and_stored(store, conn):
    store.apply(definitions())
    data = rows(random.Random(1), 2000)
    store.insert_batch("payments", data)
    got = {s["feature"]: s for s in store.compute_stats("payments")}
    amount = got["amount"]
    assert (amount["row_count"], amount["nulls"]) == (2000, 0)
    assert amount["mean"] == pytest.approx(statistics.fmean(data["amount"]))
    assert amount["stddev"] == pytest.approx(statistics.stdev(data["amount"]))
    assert (amount["min"], amount["max"]) == (pytest.approx(min(data["amount"])), pytest.approx(max(data["amount"])))
    assert amount["quantiles"][50] == pytest.approx(statistics.median(data["amount"]))
    assert len(amount["quantiles"]) == 101 and amount["distinct_count"] == len(set(data["amount"]))
    assert sum(amount["histogram"]["counts"]) == 2000 and len(amount["histogram"]["edges"]) == 11
    assert got["fee"]["nulls"] == 200
    assert got["channel"]["histogram"]["values"] == {"web": data["channel"].count("web"), "app": data["channel"].count("app")}
    assert got["refunded"]["mean"] == pytest.approx(sum(data["refunded"]) / 2000)
    stored = conn.execute("SELECT count(*) FROM fs.feature_stats WHERE source = 'history'").fetchone()[0]
    assert stored == 4
    # A time range narrows what is measured.
    first_hour = store.compute_stats("payments", T0, T0 + dt.timedelta(minutes=59))
    assert first_hour[0]["row_count"] == sum(1 for t in data["event_ts"] if t < T0 + dt.timedelta(hours=1))


def test_a_new_version_that_changed_a_feature_is_flagged(store):
    rng = random.Random(2)
    store.apply(definitions(drift={"psi": 0.2, "features": {"channel": {"psi": 5}}}))
    store.insert_batch("payments", rows(rng, 3000))
    # Version 2 (amount now numeric, staged) is written over the same days; its fee means
    # something else now (cents: mean 100) and web traffic doubled.
    store.apply(definitions("numeric", drift={"psi": 0.2, "features": {"channel": {"psi": 5}}}))
    store.insert_batch("payments@2", rows(rng, 3000, fee_mean=100.0, web_share=0.9))
    report = {r["feature"]: r for r in store.compare_versions("payments", 1, 2)}
    assert report["fee"]["drifted"] and report["fee"]["psi"] > 1 and report["fee"]["mean_shift"] > 100
    assert any(reason.startswith("psi") for reason in report["fee"]["reasons"])
    assert report["amount"]["change"] == "dtype float8 -> numeric" and report["amount"]["drifted"]
    assert report["amount"]["psi"] < 0.1  # same distribution: only the schema changed
    assert not report["refunded"]["drifted"] and report["refunded"]["psi"] < 0.1
    # channel moved (PSI well above 0.2) but its declared threshold is 5.
    assert report["channel"]["psi"] > 0.2 and not report["channel"]["drifted"]


def test_training_serving_skew(store):
    rng = random.Random(3)
    store.apply(definitions())
    now = dt.datetime.now(dt.timezone.utc)
    store.insert_batch("payments", {**rows(rng, 1000), "event_ts": [now - dt.timedelta(days=3)] * 1000})
    assert not any(r["drifted"] for r in store.training_serving_skew("payments"))  # online = the same rows
    later = rows(rng, 1000, fee_mean=3.0)
    store.insert_batch("payments", {**later, "event_ts": [now - dt.timedelta(minutes=1)] * 1000})
    report = {r["feature"]: r for r in store.training_serving_skew("payments", end=now - dt.timedelta(days=1))}
    assert report["fee"]["drifted"] and report["fee"]["mean_new"] == pytest.approx(statistics.fmean(
        [f for f in later["fee"] if f is not None]))


def test_bad_statistics_requests(store, dsn):
    store.apply(definitions())
    with pytest.raises(errors.NotFound):
        store.compare_versions("payments", 1, 2)
    with pytest.raises(errors.InvalidArgument, match="starts after it ends"):
        store.compute_stats("payments", T0, T0 - dt.timedelta(days=1))
    with pytest.raises(errors.InvalidArgument, match="history or online"):
        store.compute_stats("payments", source="warehouse")
    with pytest.raises(errors.DefinitionError, match="unknown drift threshold kl"):
        store.apply(definitions(drift={"kl": 0.1}))
    with pytest.raises(errors.DefinitionError, match="must be a number >= 0"):
        store.apply(definitions(drift={"features": {"fee": {"psi": -1}}}))
    # Thresholds are monitoring settings: changing them updates the view, no new version.
    assert [s.action for s in store.apply(definitions(drift={"psi": 0.1}))][-1] == "update"
    result = CliRunner().invoke(main, ["--dsn", dsn, "compare", "payments", "1", "2"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_compare_and_skew_commands(store, dsn):
    rng = random.Random(4)
    store.apply(definitions())
    store.insert_batch("payments", rows(rng, 500))
    store.apply(definitions("numeric"))
    store.insert_batch("payments", rows(rng, 500, fee_mean=50.0))
    result = CliRunner().invoke(main, ["--dsn", dsn, "compare", "payments", "1", "2", "--check"])
    assert result.exit_code == 3 and "fee" in result.output and "dtype float8 -> numeric" in result.output
    result = CliRunner().invoke(main, ["--dsn", dsn, "stats", "payments@2"])
    assert result.exit_code == 0 and result.output.splitlines()[1].split()[:3] == ["amount", "500", "0"]
    result = CliRunner().invoke(main, ["--dsn", dsn, "skew", "payments", "--json"])
    assert result.exit_code == 0 and '"feature": "amount"' in result.output
