"""Retries are safe: a batch key already on record is that batch, a file ingested twice
lands once, two identical ingests at once land once, and a notebook re-running
create_training_set gets the version it made."""
from __future__ import annotations

import threading

import pyarrow as pa
import pytest
from click.testing import CliRunner

from fspg import FeatureStore, errors
from fspg.cli import main
from tests.defs import base


def _history(conn) -> int:
    return conn.execute("SELECT count(*) FROM fs_offline.user_stats").fetchone()[0]


def test_a_batch_key_on_record_is_that_batch(store, conn):
    store.apply(base())
    clean = {"user_id": [1, 2], "spend_7d": [1.0, 2.0]}
    first = store.insert_batch("user_stats", clean, timestamp="2026-11-01", batch_key="job-17")
    again = store.insert_batch("user_stats", clean, timestamp="2026-11-01", batch_key="job-17")
    assert (first.path, again.path) == ("direct", "existing")
    assert (again.batch_id, again.rows_in, again.inserted) == (first.batch_id, 2, 2)
    # The staging path (bad rows, a one-shot stream) and its retry.
    stream = lambda: pa.RecordBatchReader.from_batches(  # noqa: E731
        pa.schema([("user_id", pa.int64()), ("spend_7d", pa.float64())]),
        [pa.record_batch([pa.array([3, 4]), pa.array([3.0, -1.0])], names=["user_id", "spend_7d"])])
    staged = store.insert_batch("user_stats", stream(), timestamp="2026-11-01", batch_key="job-18")
    retried = store.insert_batch("user_stats", stream(), timestamp="2026-11-01", batch_key="job-18")
    assert (staged.path, staged.inserted, staged.quarantined) == ("staging", 1, 1)
    assert (retried.path, retried.batch_id, retried.quarantined) == ("existing", staged.batch_id, 1)
    assert _history(conn) == 3
    assert conn.execute("SELECT count(*) FROM fs.quarantine").fetchone()[0] == 1
    # Keys are per view version: the same key for another version is another batch...
    doc = base()
    doc["feature_views"][0]["features"][0]["rules"]["max"] = 5000
    store.apply(doc)
    assert store.insert_batch("user_stats", clean, timestamp="2026-11-01", batch_key="job-17").path == "existing"
    other = store.insert_batch("user_stats@2", clean, timestamp="2026-11-01", batch_key="job-17")
    assert other.path == "direct" and other.batch_id != first.batch_id
    # ...but a version backfilled from one holds that one's batches: after the promote a
    # retry of job-18 (which reached v2 by the backfill) is still that batch.
    store.backfill("user_stats@2")
    store.promote("user_stats@2")
    assert store.insert_batch("user_stats", stream(), timestamp="2026-11-01", batch_key="job-18").batch_id == staged.batch_id
    # A key is 1 to 500 characters.
    for bad in ("", " ", "k" * 501):
        with pytest.raises(errors.InvalidArgument):
            store.insert_batch("user_stats", clean, timestamp="2026-11-01", batch_key=bad)


def test_two_identical_batches_at_once_land_once(dsn, store, conn):
    store.apply(base())
    data = pa.table({"user_id": pa.array(range(20_000), pa.int64()), "spend_7d": pa.array([1.0] * 20_000)})
    results, failures = [], []
    start = threading.Barrier(2)

    def ingest() -> None:
        with FeatureStore(dsn) as own:
            start.wait()
            try:
                results.append(own.insert_batch("user_stats", data, timestamp="2026-11-01", batch_key="nightly-2026-11-01"))
            except Exception as err:  # the test reports it below
                failures.append(err)

    threads = [threading.Thread(target=ingest) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert {r.batch_id for r in results} == {results[0].batch_id}
    assert sorted(r.path for r in results) == ["direct", "existing"]
    assert _history(conn) == 20_000
    assert conn.execute("SELECT count(*) FROM fs.ingest_batch WHERE batch_key IS NOT NULL").fetchone()[0] == 1


def test_a_file_ingested_twice_lands_once(store, conn, dsn, tmp_path):
    store.apply(base())
    path = tmp_path / "stats.csv"
    path.write_text("user_id,spend_7d\n1,1.5\n2,-3\n")
    runner = CliRunner()
    first = runner.invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(path), "--timestamp", "2026-11-01"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(path), "--timestamp", "2026-11-01"])
    assert second.exit_code == 0, second.output
    assert "already ingested" in second.output and "nothing written" in second.output
    assert _history(conn) == 1
    # Another timestamp is another batch (it lands other rows); --again forces one.
    runner.invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(path), "--timestamp", "2026-11-02"])
    assert _history(conn) == 2
    forced = runner.invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(path), "--timestamp", "2026-11-02", "--again"])
    assert forced.exit_code == 0 and "already" not in forced.output
    assert _history(conn) == 3
    # An explicit key names one batch: refused with several files.
    both = runner.invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(path), str(path), "--batch-key", "x"])
    assert both.exit_code == 2 and "one file" in both.output


def test_re_running_create_training_set_returns_the_version_it_made(store):
    store.apply(base())
    store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [1.0, 2.0]}, timestamp="2026-11-01")
    spine = {"user_id": [1, 2], "event_ts": ["2026-11-02", "2026-11-02"]}
    first = store.create_training_set("churn", spine, features=["user_stats.spend_7d"])
    again = store.create_training_set("churn", spine, features=["user_stats.spend_7d"])
    assert (first.version, first.action) == (1, "create")
    assert (again.version, again.action, again.content_hash) == (1, "unchanged", first.content_hash)
    # A value that changes the rows makes a new version.
    store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [9.0]}, timestamp="2026-11-01 12:00")
    changed = store.create_training_set("churn", spine, features=["user_stats.spend_7d"])
    assert (changed.version, changed.action) == (2, "create")
    assert changed.content_hash != first.content_hash


def test_a_batch_may_say_how_many_bad_rows_it_tolerates(store, conn, dsn, tmp_path):
    store.apply(base())
    rows = {"user_id": list(range(10)), "spend_7d": [1.0] * 8 + [-1.0, -2.0]}
    with pytest.raises(errors.BatchRejected, match="2 of 10 rows are bad, more than max_quarantined 1"):
        store.insert_batch("user_stats", rows, timestamp="2026-11-01", max_quarantined=1)
    with pytest.raises(errors.BatchRejected):
        store.insert_batch("user_stats", rows, timestamp="2026-11-01", max_quarantined=0.1)
    assert _history(conn) == 0 and conn.execute("SELECT count(*) FROM fs.quarantine").fetchone()[0] == 0
    ok = store.insert_batch("user_stats", rows, timestamp="2026-11-01", max_quarantined=0.2)
    assert (ok.inserted, ok.quarantined) == (8, 2)
    with pytest.raises(errors.InvalidArgument):
        store.insert_batch("user_stats", rows, timestamp="2026-11-02", max_quarantined=1.5)
    # The CLI: a file of bad rows exits non-zero with one line, and writes nothing.
    path = tmp_path / "bad.csv"
    path.write_text("user_id,spend_7d\n" + "".join(f"{i},-1\n" for i in range(100, 200)))
    result = CliRunner().invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(path), "--timestamp", "2026-11-03",
                                       "--max-quarantined", "5%"])
    assert result.exit_code != 0 and result.stderr.count("\n") == 1, result.output
    assert "more than max_quarantined" in result.stderr
    bad = CliRunner().invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(path), "--max-quarantined", "lots"])
    assert bad.exit_code == 2
    assert _history(conn) == 8


def test_skip_unchanged_counts_what_history_already_holds(store, conn, dsn, tmp_path):
    store.apply(base())
    snapshot = {"user_id": [1, 2, 3], "spend_7d": [1.0, 2.0, 3.0]}
    store.insert_batch("user_stats", snapshot, timestamp="2026-11-01")
    # the same snapshot again, with one value changed and one bad row
    again = store.insert_batch("user_stats", {"user_id": [1, 2, 3, 4], "spend_7d": [1.0, 2.5, 3.0, -1.0]},
                               timestamp="2026-11-01", skip_unchanged=True)
    assert (again.rows_in, again.inserted, again.quarantined, again.unchanged) == (4, 1, 1, 2)
    assert _history(conn) == 4
    logged = conn.execute("SELECT rows_in, inserted, quarantined, unchanged FROM fs.ingest_batch WHERE batch_id = %s",
                          [again.batch_id]).fetchone()
    assert logged == (4, 1, 1, 2)
    from click.testing import CliRunner

    from fspg.cli import main

    csv = tmp_path / "same.csv"
    csv.write_text("user_id,spend_7d\n1,1\n2,2.5\n")
    out = CliRunner().invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(csv), "--timestamp", "2026-11-01",
                                    "--skip-unchanged"])
    assert out.exit_code == 0 and "0 inserted, 0 quarantined, 2 unchanged" in out.output, out.output
