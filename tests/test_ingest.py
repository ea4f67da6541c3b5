"""insert_batch: the write path, every bad input, and the promise rows in = inserted + quarantined."""
from __future__ import annotations

import datetime as dt
import math

import psycopg
import pyarrow as pa
import pytest

from fspg import FeatureStoreClient, errors
from tests.defs import base, ingest_defs, spec_view

UTC = dt.timezone.utc
T = dt.datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _history(conn, table="fs_offline.checked"):
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _accounted(result):
    assert result.rows_in == result.inserted + result.quarantined
    return result


def test_the_specification_calls_work_as_written(dsn):
    client = FeatureStoreClient(dsn)
    client.apply(spec_view())
    TIMESTAMP = T
    new_features = {'x': [1.0, 2.0], 'y': [3.0, 4.0]}
    result = client.insert_batch('my_feature', timestamp=TIMESTAMP, data=new_features)
    # A global view has one value per moment: the last row wins, the first is set aside.
    assert (result.rows_in, result.inserted, result.quarantined) == (2, 1, 1)
    assert result.reasons == {"event_ts__duplicate": 1}
    loaded_features = client.load_batch('my_feature', timestamp=TIMESTAMP, limit=100)
    assert isinstance(loaded_features, pa.Table)
    assert loaded_features.num_rows == 1  # a global view has one value in effect
    assert loaded_features.column("x")[0].as_py() == 2.0
    assert loaded_features.column("event_ts")[0].as_py() == TIMESTAMP
    client.close()


def test_a_clean_batch_takes_the_fast_path(store, conn):
    store.apply(ingest_defs())
    result = store.insert_batch("checked", {"user_id": [1, 2], "score": [0.5, 1.5], "amount": [1.0, 2.0],
                                            "event_ts": [T, T]})
    assert (result.inserted, result.quarantined, result.path) == (2, 0, "direct")
    assert conn.execute("SELECT count(*) FROM fs_offline.checked WHERE batch_id = %s", [result.batch_id]).fetchone()[0] == 2
    assert conn.execute("SELECT rows_in, inserted, quarantined FROM fs.ingest_batch WHERE batch_id = %s",
                        [result.batch_id]).fetchone() == (2, 2, 0)


BAD_ROWS = {
    # case: (column values for row 2 of 3 (rows 1 and 3 are good), the reason expected)
    "null key": ({"user_id": None}, "user_id__not_null"),
    "NaN with finite rule": ({"score": math.nan}, "score__finite"),
    "+Infinity with finite rule": ({"score": math.inf}, "score__finite"),
    "-Infinity with finite rule": ({"score": -math.inf}, "score__finite"),
    "NaN with a min/max rule": ({"amount": math.nan}, "amount__max"),
    "below min": ({"amount": -0.01}, "amount__min"),
    "above max": ({"amount": 100.5}, "amount__max"),
    "regex mismatch": ({"code": "ab1"}, "code__regex"),
    "too long": ({"code": "ABCD"}, "code__max_length"),
    "not an allowed value": ({"tier": "bronze"}, "tier__allowed"),
    "event in the far future": ({"event_ts": dt.datetime(2999, 1, 1, tzinfo=UTC)}, "event_ts__not_in_future"),
    "event before 1970": ({"event_ts": dt.datetime(1969, 7, 20, tzinfo=UTC)}, "event_ts__not_before_1970"),
    "fraction for an int": ({"n": 1.5}, "n__type"),
    "int too large for an int": ({"n": 2**40}, "n__type"),
}


def _three_rows(bad: dict) -> dict:
    rows = [{"user_id": i, "event_ts": T, "score": 0.1, "amount": 5.0, "code": "ABC", "tier": "gold", "n": 3}
            for i in (1, 2, 3)]
    rows[1].update(bad)
    return {k: [r[k] for r in rows] for k in rows[0]}


@pytest.mark.parametrize("case", BAD_ROWS, ids=list(BAD_ROWS))
def test_bad_row_is_quarantined_with_its_rule(case, store, conn):
    store.apply(ingest_defs())
    bad, reason = BAD_ROWS[case]
    data = _three_rows(bad)
    if case == "fraction for an int" or case == "int too large for an int":
        data["n"] = pa.array(data["n"], pa.float64() if case.startswith("fraction") else pa.int64())
    result = _accounted(store.insert_batch("checked", data))
    assert (result.rows_in, result.inserted, result.quarantined) == (3, 2, 1)
    assert reason in result.reasons
    rows = store.quarantine(result.batch_id)
    assert [r["row_number"] for r in rows] == [2]
    assert reason in rows[0]["reasons"]
    assert _history(conn) == 2


def test_text_that_cannot_be_cast_is_quarantined_per_row(store, conn):
    store.apply(ingest_defs())
    result = _accounted(store.insert_batch("checked", {
        "user_id": ["1", "two", "3"], "event_ts": ["2026-11-01T12:00:00", "2026-11-01T12:00:00", "yesterday-ish"],
        "amount": ["1.5", "2", "abc"]}))
    assert (result.inserted, result.quarantined) == (1, 2)
    assert result.reasons == {"user_id__type": 1, "event_ts__type": 1, "amount__type": 1}
    shown = {r["row_number"]: r for r in store.quarantine(result.batch_id)}
    assert shown[3]["data"]["amount"] == "abc"  # the value as it arrived


def test_a_row_breaking_several_rules_lists_them_all(store):
    store.apply(ingest_defs())
    result = _accounted(store.insert_batch("checked", _three_rows({"amount": -1.0, "tier": "x", "code": "lower"})))
    reasons = store.quarantine(result.batch_id)[0]["reasons"]
    assert set(reasons) == {"amount__min", "tier__allowed", "code__regex", "code__max_length"}


def test_column_of_a_type_that_cannot_become_the_feature(store, conn):
    store.apply(ingest_defs())
    data = pa.table({"user_id": [1], "event_ts": pa.array([T]), "amount": pa.array([[1.0, 2.0]])})
    with pytest.raises(errors.SchemaMismatch, match="amount"):
        store.insert_batch("checked", data)
    assert _history(conn) == 0


def test_missing_key_column(store, conn):
    store.apply(ingest_defs())
    with pytest.raises(errors.SchemaMismatch, match="missing column.*user_id"):
        store.insert_batch("checked", {"amount": [1.0]}, timestamp=T)
    assert _history(conn) == 0


def test_missing_event_ts_without_timestamp(store):
    store.apply(ingest_defs())
    with pytest.raises(errors.SchemaMismatch, match="event_ts"):
        store.insert_batch("checked", {"user_id": [1], "amount": [1.0]})


def test_unknown_columns_are_an_error_not_dropped(store, conn):
    store.apply(ingest_defs())
    with pytest.raises(errors.SchemaMismatch, match="unknown column.*colour"):
        store.insert_batch("checked", {"user_id": [1], "amount": [1.0], "colour": ["red"]}, timestamp=T)
    assert _history(conn) == 0


def test_sql_callers_get_the_same_checks(store, conn):
    store.apply(ingest_defs())
    conn.execute("CREATE TEMP TABLE st (user_id bigint, event_ts timestamptz, colour text)")
    with pytest.raises(psycopg.Error) as err:
        conn.execute("SELECT * FROM fs.ingest('checked', 'st'::regclass)")
    assert err.value.sqlstate == "YF011"
    conn.execute("CREATE TEMP TABLE st2 (event_ts timestamptz, amount float8)")
    with pytest.raises(psycopg.Error) as err:
        conn.execute("SELECT * FROM fs.ingest('checked', 'st2'::regclass)")
    assert err.value.sqlstate == "YF010"


def test_naive_datetimes_are_utc(store, conn):
    store.apply(ingest_defs())
    naive = dt.datetime(2026, 11, 1, 12, 0)
    store.insert_batch("checked", {"user_id": [1], "event_ts": [naive], "seen": [naive]})
    store.insert_batch("checked", {"user_id": [2], "amount": [1.0]}, timestamp=naive)
    conn.execute("SET TimeZone = 'America/New_York'")  # the session's zone must not matter
    rows = conn.execute("SELECT user_id, event_ts, seen FROM fs_offline.checked ORDER BY user_id").fetchall()
    assert rows[0][1] == T and rows[0][2] == T and rows[1][1] == T


def test_empty_batch_is_logged_with_zero_rows(store, conn):
    store.apply(ingest_defs())
    result = _accounted(store.insert_batch("checked", {"user_id": pa.array([], pa.int64()),
                                                       "event_ts": pa.array([], pa.timestamp("us", tz="UTC"))}))
    assert (result.rows_in, result.inserted, result.quarantined) == (0, 0, 0)
    assert store.batches("checked")[0]["batch_id"] == result.batch_id


def test_view_or_version_that_does_not_exist(store):
    store.apply(ingest_defs())
    with pytest.raises(errors.NotFound, match="feature view nope does not exist"):
        store.insert_batch("nope", {"user_id": [1]}, timestamp=T)
    with pytest.raises(errors.NotFound, match="has no version 9"):
        store.insert_batch("checked@9", {"user_id": [1]}, timestamp=T)


def test_invalid_mode(store):
    store.apply(ingest_defs())
    with pytest.raises(errors.InvalidArgument, match="mode"):
        store.insert_batch("checked", {"user_id": [1]}, timestamp=T, mode="lenient")


def test_strict_mode_names_rule_column_and_row(store, conn):
    store.apply(ingest_defs())
    with pytest.raises(errors.BatchRejected) as err:
        store.insert_batch("checked", _three_rows({"amount": 500.0}), mode="strict")
    message = str(err.value)
    assert "row 2" in message and "amount__max" in message and "column amount" in message
    assert _history(conn) == 0
    assert conn.execute("SELECT count(*) FROM fs.ingest_batch").fetchone()[0] == 0


def test_strict_batch_of_two_million_rows_with_the_last_bad_lands_nothing(store, conn):
    store.apply({"entities": base()["entities"], "feature_views": [
        {"name": "wide", "entity": "user", "features": [{"name": "v", "dtype": "float8", "rules": {"min": 0}}]}]})
    rows = 2_000_000
    values = pa.array([1.0] * (rows - 1) + [-1.0])
    data = pa.table({"user_id": pa.array(range(rows), pa.int64()), "v": values})
    with pytest.raises(errors.BatchRejected, match=f"row {rows} breaks rule v__min"):
        store.insert_batch("wide", data, timestamp=T, mode="strict")
    assert _history(conn, "fs_offline.wide") == 0
    assert conn.execute("SELECT count(*) FROM fs.ingest_batch").fetchone()[0] == 0


def test_fast_path_and_staging_path_write_the_same_rows(store, conn):
    store.apply(ingest_defs())
    data = pa.table({"user_id": pa.array([1, 2, 3], pa.int64()), "event_ts": pa.array([T] * 3),
                     "amount": [1.0, 2.0, 3.0], "code": ["ABC", "DEF", None]})
    direct = store.insert_batch("checked", data)
    staged = store.insert_batch("checked", pa.RecordBatchReader.from_batches(data.schema, data.to_batches()))
    assert (direct.path, staged.path) == ("direct", "staging")
    rows = conn.execute("SELECT batch_id, user_id, event_ts, amount, code FROM fs_offline.checked ORDER BY batch_id, user_id").fetchall()
    assert [r[1:] for r in rows[:3]] == [r[1:] for r in rows[3:]]


def test_a_bad_row_on_the_fast_path_falls_back_and_keeps_the_good_rows(store, conn):
    store.apply(ingest_defs())
    result = _accounted(store.insert_batch("checked", _three_rows({"amount": -5.0})))
    assert (result.path, result.inserted, result.quarantined) == ("staging", 2, 1)
    assert _history(conn) == 2


def test_pandas_and_polars_frames(store, conn):
    import pandas as pd
    import polars as pl

    store.apply(ingest_defs())
    frame = pd.DataFrame({"user_id": [1, 2], "amount": [1.0, 2.0], "event_ts": pd.to_datetime([T, T])})
    assert store.insert_batch("checked", frame).inserted == 2
    polars_frame = pl.DataFrame({"user_id": [3], "amount": [3.0], "tier": ["gold"]})
    assert store.insert_batch("checked", polars_frame, timestamp=T).inserted == 1
    assert _history(conn) == 3


def test_large_input_streams_in_chunks(store, conn):
    store.apply(ingest_defs())
    rows = 200_000
    data = pa.table({"user_id": pa.array(range(rows), pa.int64()), "amount": pa.array([1.0] * rows)})
    seen = []
    result = store.insert_batch("checked", data, timestamp=T, chunk_rows=10_000, progress=seen.append)
    assert result.inserted == rows and len(seen) == rows // 10_000 and sum(seen) == rows


def test_vector_of_the_wrong_dimension(store, conn, needs_vector):
    doc = base()
    doc["feature_views"].append({"name": "emb", "entity": "user", "features": [{"name": "e", "dtype": "vector(3)"}]})
    store.apply(doc)
    result = _accounted(store.insert_batch("emb", {"user_id": [1, 2, 3], "e": [[1, 2, 3], [1, 2], None]}, timestamp=T))
    assert (result.inserted, result.quarantined) == (2, 1)
    assert result.reasons == {"e__dimension": 1}
    assert conn.execute("SELECT e::text FROM fs_offline.emb WHERE user_id = 1").fetchone()[0] == "[1,2,3]"


def test_corrections_are_new_rows_history_is_append_only(store, conn):
    store.apply(ingest_defs())
    store.insert_batch("checked", {"user_id": [1], "amount": [1.0]}, timestamp=T)
    store.insert_batch("checked", {"user_id": [1], "amount": [2.0]}, timestamp=T)
    rows = conn.execute("SELECT amount, created_ts FROM fs_offline.checked ORDER BY created_ts").fetchall()
    assert [r[0] for r in rows] == [1.0, 2.0] and rows[0][1] < rows[1][1]
    assert store.load_batch("checked", timestamp=T).column("amount").to_pylist() == [2.0]
