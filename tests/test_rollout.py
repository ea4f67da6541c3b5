"""Staged versions: a changed definition never breaks serving (F7 part 1).

A changed view gets a staged version that every write reaches and nothing serves;
backfill fills it, promote switches serving atomically, rollback goes back without
losing what was written in between.
"""
from __future__ import annotations

import datetime as dt
import json
import threading

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from fspg import FeatureStore, errors
from fspg.cli import main
from tests.defs import base, view

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DAY = dt.timedelta(days=1)


def daily() -> dict:
    """base() with user_stats partitioned by day (a backfill step is one partition period)."""
    doc = base()
    view(doc, "user_stats")["partition"] = "day"
    return doc


def relaxed(max_spend: float = 5000) -> dict:
    """daily() with the spend rule changed: the change that made serving NULL before F7."""
    doc = daily()
    view(doc, "user_stats")["features"][0]["rules"]["max"] = max_spend
    return doc


def rows(conn, table: str, where: str = "true") -> list[tuple]:
    return conn.execute(f"SELECT user_id, spend_7d FROM fs_offline.{table} WHERE {where} ORDER BY user_id, event_ts").fetchall()


def served(store, users) -> list:
    return store.get_online_features(["user_stats.spend_7d"], entities=users, as_dicts=True)


def cli(dsn: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--dsn", dsn, *args])
    return result.exit_code, result.output


@pytest.fixture
def live(store):
    """user_stats@1 serving 200 users, written over three days."""
    store.apply(daily())
    for day in range(3):
        store.insert_batch("user_stats", {"user_id": list(range(1, 201)), "spend_7d": [float(u + day) for u in range(1, 201)]},
                           timestamp=NOW - (3 - day) * DAY)
    return store


def test_a_rule_change_never_serves_null(live, dsn, conn):
    """Lookups run throughout apply, backfill and promote: none returns NULL."""
    users = list(range(1, 201))
    seen_null, stop, lookups = [], threading.Event(), [0]

    def serve() -> None:
        with FeatureStore(dsn) as app:
            while not stop.is_set():
                values = [row["spend_7d"] for row in served(app, users)]
                lookups[0] += 1
                if None in values:
                    seen_null.append(values.count(None))

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        plan = live.apply(relaxed())
        assert [s.message for s in plan if s.name == "user_stats"] == ["new version 2 staged; serving stays on 1"]
        live.backfill("user_stats@2")
        live.promote("user_stats@2")
        stop.wait(1.5)   # long enough for the app to notice the promote
    finally:
        stop.set()
        thread.join()
    assert lookups[0] > 10 and seen_null == []
    assert conn.execute("SELECT current_version, previous_version FROM fs.feature_view WHERE name = 'user_stats'"
                        ).fetchone() == (2, 1)
    assert conn.execute("SELECT count(*) FROM fs_online.user_stats__v2").fetchone()[0] == 200


def test_every_write_path_lands_in_both_versions_each_with_its_rules(live, dsn, conn, tmp_path):
    live.apply(relaxed(max_spend=500))    # stricter: 600 is fine for v1, bad for v2
    # insert_batch, direct path (all rows fit v1)
    direct = live.insert_batch("user_stats", {"user_id": [1001, 1002], "spend_7d": [10.0, 600.0]}, timestamp=NOW)
    assert direct.path == "direct"
    # insert_batch, staging path (a row bad for v1 too)
    staged = live.insert_batch("user_stats", {"user_id": [1003, 1004], "spend_7d": [20.0, -1.0]}, timestamp=NOW)
    assert (staged.path, staged.quarantined) == ("staging", 1)
    # a file through the CLI
    csv = tmp_path / "more.csv"
    csv.write_text("user_id,spend_7d\n1005,30\n1006,700\n")
    assert cli(dsn, "ingest", "user_stats", str(csv), "--timestamp", NOW.isoformat())[0] == 0
    # plain SQL into the stable view
    conn.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d) VALUES (1007, now(), 40), (1008, now(), 800)")
    assert rows(conn, "user_stats__v1", "user_id > 1000") == [
        (1001, 10.0), (1002, 600.0), (1003, 20.0), (1005, 30.0), (1006, 700.0), (1007, 40.0), (1008, 800.0)]
    assert rows(conn, "user_stats__v2", "user_id > 1000") == [(1001, 10.0), (1003, 20.0), (1005, 30.0), (1007, 40.0)]
    # v2's quarantine holds what only its rule refuses, with its reason; every batch adds up
    bad_for_v2 = conn.execute(
        "SELECT (q.data ->> 'user_id')::int, q.reasons FROM fs.quarantine q JOIN fs.feature_view_version vv USING (version_id)"
        " WHERE vv.version = 2 ORDER BY 1").fetchall()
    assert bad_for_v2 == [(1002, ["spend_7d__max"]), (1004, ["spend_7d__min"]), (1006, ["spend_7d__max"]),
                          (1008, ["spend_7d__max"])]
    copies = conn.execute("SELECT source, rows_in, inserted, quarantined FROM fs.ingest_batch b"
                          " JOIN fs.feature_view_version vv USING (version_id) WHERE vv.version = 2 ORDER BY batch_id").fetchall()
    assert [c[0] for c in copies[:2]] == [f"dual write of batch {direct.batch_id}", f"dual write of batch {staged.batch_id}"]
    assert all(rows_in == inserted + quarantined for _, rows_in, inserted, quarantined in copies)
    # the online tables follow each version's history
    assert conn.execute("SELECT count(*) FROM fs_online.user_stats__v2 WHERE user_id > 1000").fetchone()[0] == 4
    # a row only the served version refuses is offered to the staged one (a relaxed rule)
    live.apply(relaxed(max_spend=5000))   # v3, staged too
    offered = live.insert_batch("user_stats", {"user_id": [1010], "spend_7d": [2500.0]}, timestamp=NOW)
    assert (offered.inserted, offered.quarantined) == (0, 1)
    assert rows(conn, "user_stats__v3", "user_id = 1010") == [(1010, 2500.0)]
    assert rows(conn, "user_stats__v2", "user_id = 1010") == []
    # one transaction: a rolled-back write is in neither version
    with psycopg.connect(dsn) as tx:
        tx.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d) VALUES (1009, now(), 1)")
        tx.rollback()
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v2 WHERE user_id = 1009").fetchone()[0] == 0


def test_backfill_copies_through_the_new_rules_and_resumes(live, conn):
    doc = relaxed(max_spend=150)
    features = view(doc, "user_stats")["features"]
    features.remove(next(f for f in features if f["name"] == "email_domain"))   # dropped: ignored
    features.append({"name": "spend_30d", "dtype": "float8"})                  # new: NULL
    live.apply(doc)
    # a correction written during the rollout (dual write) is newer knowledge than history
    live.insert_batch("user_stats", {"user_id": [7], "spend_7d": [70.0]}, timestamp=NOW - 3 * DAY)
    # three steps run, then the job dies; the next run resumes
    for _ in range(3):
        with live.connection() as c:
            c.execute("SELECT * FROM fs.backfill_chunk('user_stats@2')")
    with pytest.raises(errors.NotReady, match="backfill stopped after 2 of"):
        live.promote("user_stats@2")
    steps = []
    done = live.backfill("user_stats@2", on_step=steps.append)
    assert done.finished and (steps[0].periods_done, steps[0].finished) == (3, False)
    # every row of v1 accounted for: 150 of 200 users per day fit max 150 on day 0, ...
    v1 = conn.execute("SELECT count(*) FROM fs_offline.user_stats__v1").fetchone()[0]
    assert done.rows_read == v1 - 2 and done.inserted + done.quarantined == done.rows_read  # user 7's two rows of day 0: one moment
    assert done.quarantined == conn.execute("SELECT count(*) FROM fs_offline.user_stats__v1 h"
                                            " WHERE spend_7d > 150 AND NOT (user_id = 7 AND event_ts = %s)",
                                            [NOW - 3 * DAY]).fetchone()[0]
    assert conn.execute("SELECT spend_7d, spend_30d FROM fs_offline.user_stats__v2 WHERE user_id = 7 AND event_ts = %s",
                        [NOW - 3 * DAY]).fetchall() == [(70.0, None)]
    columns = [r[0] for r in conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = 'fs_offline.user_stats__v2'::regclass"
                                          " AND attnum > 0")]
    assert "email_domain" not in columns
    # backfilled rows carry the backfill's created_ts: an as_of read of v2 before it sees nothing
    started = conn.execute("SELECT started_at FROM fs.backfill").fetchone()[0]
    assert live.load_batch("user_stats@2", timestamp=NOW, as_of=started - dt.timedelta(milliseconds=1)).num_rows <= 1
    assert live.load_batch("user_stats@2", timestamp=NOW).num_rows == 150
    # and a range: only those event times
    live.apply(relaxed(max_spend=2000))
    part = live.backfill("user_stats@3", start=NOW - 2 * DAY - dt.timedelta(hours=1), end=NOW - DAY - dt.timedelta(hours=1))
    assert part.rows_read == 200
    # backfilled twice with the same arguments: nothing new
    assert live.backfill("user_stats@3", start=NOW - 2 * DAY - dt.timedelta(hours=1),
                         end=NOW - DAY - dt.timedelta(hours=1)).rows_read == 200
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v3").fetchone()[0] == 200


def test_promote_refuses_what_would_serve_less_and_says_why(live, dsn, conn):
    live.apply(relaxed())
    code, out = cli(dsn, "promote", "user_stats@2")
    assert code == 2 and out.count("\n") == 1
    assert "never backfilled" in out and "fspg backfill user_stats@2" in out
    assert json.loads(cli(dsn, "rollout", "user_stats", "--json")[1])[1]["stage"] == "staged"
    code, out = cli(dsn, "promote", "user_stats@2", "--force")
    assert code == 0 and "serving 2 (was 1)" in out
    # forced: nothing was copied, so serving has what arrived since (nothing)
    assert served(live, [1]) == [{"user_id": 1, "spend_7d": None}]
    assert cli(dsn, "rollback", "user_stats")[0] == 0
    with FeatureStore(dsn) as fresh:   # (a running app notices within a second)
        assert served(fresh, [1])[0]["spend_7d"] == 3.0
    # bad requests: one line each, exit 2
    for args, message in [
        (("promote", "user_stats"), "needs a version"),
        (("promote", "user_stats@9"), "has no version 9"),
        (("promote", "nope@2"), "does not exist"),
        (("promote", "user_stats@1"), "promoted already"),
        (("rollback", "user_stats"), "no previous version"),
        (("backfill", "user_stats@1"), "only a staged version"),
        (("backfill", "user_stats@2", "--from", "2"), "from itself"),
        (("rollback", "nope"), "does not exist"),
    ]:
        code, out = cli(dsn, *args)
        assert (code, out.count("\n")) == (2, 1) and message in out, (args, out)


def test_rollback_loses_nothing_and_the_rolled_back_version_stays_written(live, conn):
    live.apply(relaxed())
    live.backfill("user_stats@2")
    live.promote("user_stats@2")
    live.insert_batch("user_stats", {"user_id": [1], "spend_7d": [2500.0]}, timestamp=NOW)   # fine for v2 only
    live.insert_batch("user_stats", {"user_id": [2], "spend_7d": [22.0]}, timestamp=NOW)
    switch = live.rollback("user_stats")
    assert (switch.from_version, switch.to_version) == (2, 1)
    assert served(live, [1, 2]) == [{"user_id": 1, "spend_7d": 3.0}, {"user_id": 2, "spend_7d": 22.0}]
    # v2 is staged again, still written, and can be promoted again with nothing missing
    live.insert_batch("user_stats", {"user_id": [3], "spend_7d": [33.0]}, timestamp=NOW)
    assert live.describe("user_stats@2")["stage"] == "staged"
    live.promote("user_stats@2")
    assert served(live, [1, 2, 3]) == [{"user_id": 1, "spend_7d": 2500.0}, {"user_id": 2, "spend_7d": 22.0},
                                       {"user_id": 3, "spend_7d": 33.0}]
    log = conn.execute("SELECT kind, from_version, to_version FROM fs.promotion ORDER BY promotion_id").fetchall()
    assert log == [("promote", 1, 2), ("rollback", 2, 1), ("promote", 1, 2)]
    # re-applying the old definition stages v1 again instead of making v3
    plan = {s.name: s for s in live.apply(daily())}
    assert (plan["user_stats"].version, plan["user_stats"].action) == (1, "staged again")
    assert plan["user_stats"].message == "version 1 staged again; serving stays on 2"


def test_services_follow_unpinned_and_pinned_ones_stay(live, conn):
    doc = relaxed()
    doc["feature_services"].append({"name": "pinned", "features": ["user_stats@1.spend_7d"]})
    live.apply(doc)   # the new service pins v1; v2 is staged
    live.backfill("user_stats@2")
    switch = live.promote("user_stats@2")
    assert switch.services == ["scoring@2"]
    assert conn.execute("SELECT current_version FROM fs.feature_service WHERE name = 'pinned'").fetchone()[0] == 1
    # a service naming a feature the new version dropped stops the promote, not serving
    doc = relaxed(max_spend=3000)
    view(doc, "user_stats")["features"] = view(doc, "user_stats")["features"][1:]
    view(doc, "user_stats")["features"][0]["rules"] = {}
    live.apply(doc)
    live.backfill("user_stats@3")
    with pytest.raises(errors.DefinitionError, match="scoring cannot follow user_stats@3"):
        live.promote("user_stats@3")
    assert conn.execute("SELECT current_version FROM fs.feature_view WHERE name = 'user_stats'").fetchone()[0] == 2


def test_a_running_app_switches_when_another_process_promotes(live, dsn):
    with FeatureStore(dsn) as app:
        assert served(app, [1])[0]["spend_7d"] == 3.0
        live.apply(relaxed())
        live.insert_batch("user_stats", {"user_id": [1], "spend_7d": [1500.0]}, timestamp=NOW)  # v2 only
        live.backfill("user_stats@2")
        assert served(app, [1])[0]["spend_7d"] == 3.0
        live.promote("user_stats@2")
        deadline = dt.datetime.now() + dt.timedelta(seconds=5)
        while served(app, [1])[0]["spend_7d"] != 1500.0 and dt.datetime.now() < deadline:
            pass
        assert served(app, [1])[0]["spend_7d"] == 1500.0


def test_apply_dry_run_says_what_serving_does_and_promote_does_it_all(live, dsn, tmp_path):
    path = tmp_path / "features.yaml"
    path.write_text(yaml.safe_dump(relaxed(), sort_keys=False))
    code, out = cli(dsn, "apply", str(path), "--dry-run")
    assert code == 0 and "new version 2 staged; serving stays on 1" in out
    code, out = cli(dsn, "apply", str(path), "--promote")
    assert code == 0
    assert live.rollout_status("user_stats")[1]["stage"] == "promoted"
    assert served(live, [1])[0]["spend_7d"] == 3.0


def test_replay_goes_to_the_staged_fix(live, conn):
    bad = live.insert_batch("user_stats", {"user_id": [5], "spend_7d": [4000.0]}, timestamp=NOW)
    assert bad.quarantined == 1
    live.apply(relaxed())
    replayed = live.replay_quarantine(bad.batch_id)
    assert (replayed.version, replayed.inserted) == (2, 1)
    assert served(live, [5])[0]["spend_7d"] == 7.0      # v1 still serves until the promote


@pytest.mark.parametrize("rows", [1, 2000])
def test_a_writer_with_an_old_answer_lands_in_the_promoted_version(live, dsn, conn, rows):
    """A client caches what a view name means; after a promote elsewhere its next batch
    (pipelined when small, COPY when not) still lands in the version serving now."""
    with FeatureStore(dsn) as writer:
        writer.insert_batch("user_stats", {"user_id": [500], "spend_7d": [1.0]}, timestamp=NOW)   # v1, remembered
        live.apply(relaxed())
        live.backfill("user_stats@2")
        live.promote("user_stats@2")
        users = list(range(1000, 1000 + rows))
        result = writer.insert_batch("user_stats", {"user_id": users, "spend_7d": [2.0] * rows}, timestamp=NOW)
    assert (result.version, result.inserted, result.path) == (2, rows, "direct")
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v2 WHERE user_id >= 1000").fetchone()[0] == rows
    # and v1, the previous version, got them by the dual write of the promoted one
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v1 WHERE user_id >= 1000").fetchone()[0] == rows
