"""Values are never silently changed (F7 part 5): an odd value is quarantined with its row
number and the same reason on the Arrow and the CSV path, or refused with one clear line;
it never fails a batch with an unmapped error."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from fspg import errors
from fspg.cli import main
from fspg.files import open_source
from tests.defs import base

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
FAR_MS = 586_000 * 365 * 86_400 * 1000     # year ~586,000 in milliseconds since 1970


def odd_defs() -> dict:
    doc = base()
    doc["entities"].append({"name": "account", "keys": {"account": "text"}})
    doc["feature_views"].append({"name": "odd", "entity": "account", "features": [
        {"name": "ratio", "dtype": "float4"}, {"name": "seen", "dtype": "timestamp"},
        {"name": "doc", "dtype": "jsonb"}, {"name": "note", "dtype": "text"}]})
    return doc


@pytest.fixture
def odd(store):
    store.apply(odd_defs())
    return store


def reasons_of(store, result) -> dict[int, list[str]]:
    return {r["row_number"]: r["reasons"] for r in store.quarantine(result.batch_id)}


def via_csv(store, tmp_path, view: str, header: str, lines: list[str]):
    path = tmp_path / f"{view}.csv"
    path.write_bytes((header + "\n" + "\n".join(lines) + "\n").encode())
    source, _ = open_source(path)
    return store.insert_batch(view, source, timestamp=NOW)


CASES = {
    # name: (arrow column, csv text of the odd value, expected reason)
    "float8 beyond float4": ("ratio", pa.array([1.5, 1e300]), "1e300", "ratio__type"),
    "timestamp beyond microseconds": ("seen", pa.array([0, FAR_MS], pa.timestamp("ms", tz="UTC")), "586000-01-01", "seen__type"),
    "NUL byte in text": ("note", pa.array(["fine", "a\x00b"]), "a\x00b", "note__nul_byte"),
    "NUL byte in a key": ("account", None, "k\x00y", "account__nul_byte"),
    "JSON 200,000 deep": ("doc", pa.array(['{"a": 1}', "[" * 200_000 + "]" * 200_000]), "[" * 200_000 + "]" * 200_000,
                          "doc__depth"),
    "a 4,000-character key": ("account", None, "k" * 4000, "account__max_length"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_odd_value_quarantines_its_row_alike_on_both_paths(odd, tmp_path, conn, case):
    column, array, text, reason = CASES[case]
    accounts = pa.array(["a1", text]) if array is None else pa.array(["a1", "a2"])
    table = pa.table({"account": accounts} | ({} if array is None else {column: array}))
    arrow = odd.insert_batch("odd", table, timestamp=NOW)
    # the same rows as a CSV file (every value text, parsed by the database)
    if array is None:
        header, lines = "account", ["a1", text]
    else:
        first = {"ratio": "1.5", "seen": "2026-01-01", "doc": '"{""a"": 1}"', "note": "fine"}[column]
        header, lines = f"account,{column}", [f"a1,{first}", f"a2,{text}"]
    csv = via_csv(odd, tmp_path, "odd", header, lines)
    for result in (arrow, csv):
        assert (result.rows_in, result.inserted, result.quarantined) == (2, 1, 1), (case, result)
        assert reasons_of(odd, result) == {2: [reason]}, case
    # nothing changed on the way: the good row is as sent
    assert conn.execute("SELECT count(*) FROM fs_offline.odd WHERE account = 'a1'").fetchone()[0] == 2


def test_values_change_in_no_stream_either(odd):
    """A one-shot stream cannot be looked at twice: the row is marked while it streams."""
    batch = pa.record_batch([pa.array(["a1", "a2"]), pa.array([1.5, 1e300])], names=["account", "ratio"])
    result = odd.insert_batch("odd", pa.RecordBatchReader.from_batches(batch.schema, [batch]), timestamp=NOW)
    assert (result.inserted, result.quarantined, reasons_of(odd, result)) == (1, 1, {2: ["ratio__type"]})


def test_a_uint64_key_beyond_bigint_and_a_far_future_parquet_event(odd, tmp_path):
    keys = pa.array([1, 2**63], pa.uint64())
    result = odd.insert_batch("user_stats", pa.table({"user_id": keys, "spend_7d": [1.0, 2.0]}), timestamp=NOW)
    assert reasons_of(odd, result) == {2: ["user_id__type"]}
    csv = via_csv(odd, tmp_path, "user_stats", "user_id,spend_7d", ["1,1", f"{2**63},2"])
    assert reasons_of(odd, csv) == {2: ["user_id__type"]}
    path = tmp_path / "future.parquet"
    pq.write_table(pa.table({"user_id": pa.array([3, 4, 5], pa.int64()), "spend_7d": [1.0, 2.0, 3.0],
                             "event_ts": pa.array([NOW.timestamp() * 1000, 32_503_680_000_000, FAR_MS],
                                                  pa.timestamp("ms", tz="UTC"))}), path)
    source, _ = open_source(path)
    future = odd.insert_batch("user_stats", source)
    assert reasons_of(odd, future) == {2: ["event_ts__not_in_future"], 3: ["event_ts__type"]}


def test_refused_with_one_clear_line(odd, dsn, tmp_path):
    # a ragged CSV row after the first block
    path = tmp_path / "ragged.csv"
    path.write_text("user_id,spend_7d\n" + "".join(f"{i},1\n" for i in range(200_000)) + "7,1,extra\n")
    out = CliRunner().invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(path), "--timestamp", NOW.isoformat()])
    assert out.exit_code == 2 and out.output.count("\n") == 1, out.output
    assert "has 3 fields, the header 2" in out.output
    assert odd.load_batch("user_stats", timestamp=NOW).num_rows == 0
    # a float key in a lookup would be rounded to another entity's
    odd.insert_batch("user_stats", {"user_id": [1], "spend_7d": [1.0]}, timestamp=NOW)
    with pytest.raises(errors.InvalidArgument, match="only a whole number names an entity"):
        odd.get_online_features(["user_stats.spend_7d"], entities=[1.5])
    assert odd.get_online_features(["user_stats.spend_7d"], entities=[1.0], as_dicts=True)[0]["spend_7d"] == 1.0
    # 10,000 features in one view
    wide = {"feature_views": [{"name": "wide", "entity": "user",
                               "features": [{"name": f"f{i}", "dtype": "float8"} for i in range(10_000)]}]}
    with pytest.raises(errors.DefinitionError, match="10000 features; at most 1500"):
        odd.apply(wide)
    # a YAML "billion laughs"
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                      + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)))
    out = CliRunner().invoke(main, ["--dsn", dsn, "apply", str(laughs)])
    assert out.exit_code == 2 and out.output.count("\n") == 1 and "aliases" in out.output, out.output
