"""Partitions, retention, erasure, quarantine replay, and an ingest whose client dies."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fspg import errors
from tests.defs import base, ingest_defs, view

UTC = dt.timezone.utc


def _partitions(conn, table):
    return sorted(r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass", [f"fs_offline.{table}"]))


def test_ingest_creates_the_partitions_it_needs(store, conn):
    store.apply(base())
    store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [1.0, 2.0],
                                      "event_ts": [dt.datetime(2025, 3, 9, tzinfo=UTC), dt.datetime(2025, 5, 1, tzinfo=UTC)]})
    parts = _partitions(conn, "user_stats__v1")
    # the periods that have rows, not every period between them
    assert {"user_stats__v1_20250301", "user_stats__v1_20250501"} <= set(parts)
    assert "user_stats__v1_20250401" not in parts
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v1_default").fetchone()[0] == 0


def test_maintain_adopts_default_rows_creates_ahead_and_applies_retention(store, conn):
    doc = base()
    view(doc, "user_stats")["retention"] = "90 days"
    store.apply(doc)
    now = dt.datetime.now(UTC)
    old = now - dt.timedelta(days=400)
    # A plain SQL write where no partition exists lands in the default partition.
    conn.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d) VALUES (1, %s, 1), (2, %s, 2)", [old, now])
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v1_default").fetchone()[0] == 2
    report = {r["feature_view"]: r for r in store.maintain(ahead=2)}["user_stats"]
    # the 400-day-old parked row is past retention and goes; the current one gets a partition
    assert (report["rows_expired"], report["default_rows_moved"], report["partitions_dropped"]) == (1, 1, 0)
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v1_default").fetchone()[0] == 0
    assert conn.execute("SELECT user_id FROM fs_offline.user_stats").fetchall() == [(2,)]
    # data already past retention gets no partition of its own: it waits in the default
    # partition and maintain expires it
    store.insert_batch("user_stats", {"user_id": [3], "spend_7d": [3.0]}, timestamp=old)
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v1_default").fetchone()[0] == 1
    report = {r["feature_view"]: r for r in store.maintain(ahead=2)}["user_stats"]
    assert report["rows_expired"] == 1
    assert conn.execute("SELECT user_id FROM fs_offline.user_stats").fetchall() == [(2,)]
    assert conn.execute("SELECT fs.row_count('user_stats')").fetchone()[0] == 1
    actions = {r[0] for r in conn.execute("SELECT action FROM fs.maintenance_log")}
    assert {"create partition", "move from default", "expire default rows"} <= actions
    ahead = (now.replace(day=1) + dt.timedelta(days=62)).replace(day=1)
    assert f"user_stats__v1_{ahead:%Y%m}01" in _partitions(conn, "user_stats__v1")
    again = {r["feature_view"]: r for r in store.maintain(ahead=2)}["user_stats"]
    assert (again["partitions_created"], again["partitions_dropped"], again["default_rows_moved"]) == (0, 0, 0)


def test_forget_erases_an_entity_everywhere_and_logs_it(store, conn):
    store.apply(ingest_defs())
    store.insert_batch("checked", {"user_id": [1, 1, 2], "amount": [1.0, -5.0, 2.0],
                                   "event_ts": [dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 1, 1), dt.datetime(2026, 11, 1)]})
    doc = ingest_defs()
    view(doc, "checked")["ttl"] = "60 days"
    store.apply(doc)  # a second version (staged) holds the entity too
    store.insert_batch("checked", {"user_id": [1], "amount": [3.0]}, timestamp=dt.datetime(2026, 11, 2))
    deleted = store.forget("checked", {"user_id": 1}, reason="GDPR request 17")
    assert deleted == 3  # 1.0 and 3.0 in v1, 3.0 written to staged v2 as well
    assert conn.execute("SELECT count(*) FROM fs_offline.checked__v1 WHERE user_id = 1").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM fs_offline.checked__v2 WHERE user_id = 1").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM fs.quarantine WHERE data @> '{\"user_id\": 1}'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM fs_offline.checked__v1").fetchone()[0] == 1
    log = conn.execute("SELECT view_name, entity_key, rows_deleted, reason FROM fs.erasure_log").fetchall()
    assert log == [("checked", {"user_id": 1}, 3, "GDPR request 17")]
    with pytest.raises(errors.InvalidArgument, match="every key"):
        store.forget("checked", {"customer": 1})


def test_replay_after_a_rule_is_fixed_loses_nothing(store, conn):
    store.apply(ingest_defs())
    first = store.insert_batch("checked", {"user_id": [1, 2, 3], "amount": [50.0, 150.0, 250.0]},
                               timestamp=dt.datetime(2026, 11, 1))
    assert (first.inserted, first.quarantined) == (1, 2)
    doc = ingest_defs()
    view(doc, "checked")["features"][1]["rules"]["max"] = 200  # the fix: a new version with a wider rule
    store.apply(doc)
    replayed = store.replay_quarantine(first.batch_id)
    assert (replayed.version, replayed.rows_in, replayed.inserted, replayed.quarantined) == (2, 2, 1, 1)
    assert conn.execute("SELECT user_id FROM fs_offline.checked__v2").fetchall() == [(2,)]
    waiting = {r["batch_id"]: r["waiting"] for r in store.quarantine()}
    assert waiting == {first.batch_id: 0, replayed.batch_id: 1}  # row 3 still waits, under the replay's batch
    again = store.replay_quarantine(first.batch_id)
    assert again.rows_in == 0  # nothing left to replay: no row counted twice
    with pytest.raises(errors.NotFound, match="batch 999 does not exist"):
        store.replay_quarantine(999)


KILLED_CLIENT = textwrap.dedent("""
    import sys, time
    import pyarrow as pa
    from fspg import FeatureStore
    schema = pa.schema([("user_id", pa.int64()), ("amount", pa.float64())])
    def batches():
        for i in range(1000):
            yield pa.record_batch([pa.array([i], pa.int64()), pa.array([1.0])], schema=schema)
            if i == 5:
                print("streaming", flush=True)
            time.sleep(0.05)
    store = FeatureStore(sys.argv[1])
    store.insert_batch("checked", pa.RecordBatchReader.from_batches(schema, batches()), timestamp="2026-11-01")
""")


def test_client_killed_mid_batch_leaves_nothing(store, conn, dsn):
    store.apply(ingest_defs())
    proc = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, dsn], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.stdout.readline().strip() == "streaming"
    copying = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                           " AND query LIKE 'COPY \"fs_stage_%%'").fetchall()
    assert len(copying) == 1  # the batch is really in flight, streaming into staging
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [copying[0][0]]).fetchone()[0] == 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the server kept the dead client's session")
    assert conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'fs_stage_%%'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM fs_offline.checked").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM fs.ingest_batch").fetchone()[0] == 0


def test_forget_matches_typed_keys_everywhere_from_python_and_the_cli(store, conn, dsn, tmp_path):
    """1 from Python, "1" from the CLI or a CSV: one entity. History and online of every
    version, quarantine (Arrow and CSV rows), stored training-set spines; the log says what
    went where, and a replay cannot bring it back."""
    from click.testing import CliRunner

    from fspg.cli import main

    store.apply(ingest_defs())
    store.insert_batch("checked", {"user_id": [1, 1, 2], "amount": [1.0, -5.0, 2.0],
                                   "event_ts": [dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 1, 1), dt.datetime(2026, 11, 1)]})
    csv = tmp_path / "more.csv"
    csv.write_text("user_id,amount\n1,-7\n2,-8\n")
    assert CliRunner().invoke(main, ["--dsn", dsn, "ingest", "checked", str(csv), "--timestamp", "2026-11-01"]).exit_code == 0
    assert conn.execute("SELECT count(*) FROM fs.quarantine").fetchone()[0] == 3  # -5 (a number), -7 and -8 (text)
    store.create_training_set("spine_of_1", {"user_id": [1, 2], "event_ts": ["2026-11-02", "2026-11-02"]},
                              features=["checked.amount"])
    out = CliRunner().invoke(main, ["--dsn", dsn, "forget", "checked", "--key", "user_id=1", "--reason", "request 18"])
    assert out.exit_code == 0, out.output
    assert conn.execute("SELECT count(*) FROM fs_offline.checked WHERE user_id = 1").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM fs_online.checked WHERE user_id = 1").fetchone()[0] == 0
    remaining = conn.execute("SELECT data ->> 'user_id' FROM fs.quarantine ORDER BY 1").fetchall()
    assert remaining == [("2",)]
    assert conn.execute("SELECT user_id FROM fs_training.spine_of_1__v1__spine").fetchall() == [(2,)]
    assert conn.execute("SELECT identical FROM fs.verify_training_set('spine_of_1')").fetchone()[0] is False
    removed = conn.execute("SELECT removed FROM fs.erasure_log").fetchone()[0]
    assert removed == {"history": {"checked@1": 1}, "online": {"checked@1": 1}, "quarantine": 2,
                       "training_spines": {"spine_of_1@1": 1}, "cdc_mirrors": {}}
    # Replaying the batches finds nothing of the entity to bring back.
    for batch in [r[0] for r in conn.execute("SELECT DISTINCT batch_id FROM fs.ingest_batch WHERE quarantined > 0")]:
        store.replay_quarantine(batch)
    assert conn.execute("SELECT count(*) FROM fs_offline.checked WHERE user_id = 1").fetchone()[0] == 0
    # A key that is not of the key's type is refused, and nothing is erased.
    with pytest.raises(errors.InvalidArgument, match="must be a bigint"):
        store.forget("checked", {"user_id": "one"})


def test_forget_a_text_key_from_the_cli_and_python(store, conn, dsn, tmp_path):
    from click.testing import CliRunner

    from fspg.cli import main

    doc = {"entities": [{"name": "account", "keys": {"account": "text"}}],
           "feature_views": [{"name": "acct", "entity": "account",
                              "features": [{"name": "score", "dtype": "float8", "rules": {"min": 0}}]}]}
    store.apply(doc)
    t = dt.datetime(2026, 11, 1)
    store.insert_batch("acct", {"account": ["a1", "a2", "a3"], "score": [1.0, 2.0, -1.0],
                                "event_ts": [t, t, t]})
    csv = tmp_path / "acct.csv"
    csv.write_text("account,score\na1,-3\na2,-4\n")
    assert CliRunner().invoke(main, ["--dsn", dsn, "ingest", "acct", str(csv), "--timestamp", "2026-11-02"]).exit_code == 0
    store.create_training_set("accts", {"account": ["a1", "a2", "a3"], "event_ts": ["2026-11-03"] * 3}, ["acct.score"])
    out = CliRunner().invoke(main, ["--dsn", dsn, "forget", "acct", "--key", "account=a1"])
    assert out.exit_code == 0, out.output
    assert store.forget("acct", {"account": "a2"}) == 1
    left = lambda table, column="account": conn.execute(  # noqa: E731
        f"SELECT array_agg({column} ORDER BY 1) FROM {table}").fetchone()[0]
    assert left("fs_offline.acct") is None and left("fs_online.acct") is None
    assert left("fs.quarantine", "data ->> 'account'") == ["a3"]
    assert left("fs_training.accts__v1__spine") == ["a3"]
    removed = conn.execute("SELECT removed FROM fs.erasure_log ORDER BY erased_at").fetchall()
    assert [r[0]["quarantine"] for r in removed] == [1, 1]
