"""The offline store from the command line: ingest files, load, history, batches, quarantine, maintain, forget."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from fspg.cli import main
from tests.defs import ingest_defs


def _run(dsn, *args, code=0):
    result = CliRunner().invoke(main, ["--dsn", dsn, *args])
    assert result.exit_code == code, (result.output, result.stderr)
    return result


def test_ingest_parquet_csv_jsonl_then_load(store, dsn, tmp_path):
    store.apply(ingest_defs())
    pq.write_table(pa.table({"user_id": pa.array([1, 2], pa.int64()), "amount": [1.0, 2.0]}), tmp_path / "a.parquet")
    (tmp_path / "b.csv").write_text("user_id,amount,tier\n3,3.5,gold\n4,oops,silver\n5,,bronze\n")
    (tmp_path / "c.jsonl").write_text('{"user_id": 6, "amount": 6.0}\n{"user_id": 7, "amount": 700.0}\n')
    out = _run(dsn, "ingest", "checked", str(tmp_path / "a.parquet"), str(tmp_path / "b.csv"), str(tmp_path / "c.jsonl"),
               "--timestamp", "2026-11-01T00:00:00").output
    assert "a.parquet: batch" in out and "2 rows in, 2 inserted, 0 quarantined" in out
    assert "3 rows in, 1 inserted, 2 quarantined" in out and "amount__type" in out and "tier__allowed" in out
    assert "2 rows in, 1 inserted, 1 quarantined" in out and "amount__max" in out

    out = _run(dsn, "load", "checked", "--at", "2026-11-02").output
    assert out.splitlines()[0].split()[:3] == ["user_id", "event_ts", "score"]
    assert len(out.splitlines()) == 1 + 4  # users 1, 2, 3, 6
    _run(dsn, "load", "checked", "--at", "2026-11-02", "-o", str(tmp_path / "out.parquet"))
    assert sorted(pq.read_table(tmp_path / "out.parquet").column("user_id").to_pylist()) == [1, 2, 3, 6]
    _run(dsn, "history", "checked", "-o", str(tmp_path / "h.csv"))
    assert (tmp_path / "h.csv").read_text().count("\n") == 5

    batches = json.loads(_run(dsn, "batches", "--json").output)
    assert [(b["rows_in"], b["inserted"], b["quarantined"]) for b in batches] == [(2, 1, 1), (3, 1, 2), (2, 2, 0)]
    summary = json.loads(_run(dsn, "quarantine", "ls", "--json").output)
    assert sum(s["waiting"] for s in summary) == 3
    csv_batch = batches[1]["batch_id"]
    shown = json.loads(_run(dsn, "quarantine", "show", str(csv_batch), "--json").output)
    assert [r["row_number"] for r in shown] == [2, 3] and shown[0]["data"]["amount"] == "oops"
    out = _run(dsn, "quarantine", "replay", str(csv_batch)).output
    assert "2 rows in, 0 inserted, 2 quarantined" in out


def test_strict_ingest_exits_2_with_one_line(store, dsn, tmp_path):
    store.apply(ingest_defs())
    (tmp_path / "bad.csv").write_text("user_id,amount\n1,1\n2,-3\n")
    result = _run(dsn, "ingest", "checked", str(tmp_path / "bad.csv"), "--mode", "strict",
                  "--timestamp", "2026-11-01", code=2)
    assert result.stderr.count("\n") == 1 and "row 2 breaks rule amount__min" in result.stderr


def test_ingest_errors_are_one_line(store, dsn, tmp_path):
    store.apply(ingest_defs())
    (tmp_path / "x.txt").write_text("nothing")
    assert "unknown file type" in _run(dsn, "ingest", "checked", str(tmp_path / "x.txt"), code=2).stderr
    assert "no such file" in _run(dsn, "ingest", "checked", str(tmp_path / "missing.csv"), code=2).stderr
    (tmp_path / "extra.csv").write_text("user_id,colour\n1,red\n")
    result = _run(dsn, "ingest", "checked", str(tmp_path / "extra.csv"), "--timestamp", "2026-11-01", code=2)
    assert "unknown column(s) colour" in result.stderr and result.stderr.count("\n") == 1
    assert "does not exist" in _run(dsn, "load", "nope", code=2).stderr


def test_maintain_and_forget(store, dsn):
    store.apply(ingest_defs())
    store.insert_batch("checked", {"user_id": [1, 2], "amount": [1.0, 2.0]}, timestamp="2026-11-01")
    rows = json.loads(_run(dsn, "maintain", "--json").output)
    assert {r["feature_view"] for r in rows} == {"user_stats", "fx_rates", "checked"}
    out = _run(dsn, "forget", "checked", "--key", "user_id=1", "--reason", "request 9").output
    assert "1 history rows deleted" in out
    assert "expected KEY=V1,V2" in _run(dsn, "forget", "checked", "--key", "user_id", code=2).stderr
