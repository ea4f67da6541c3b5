"""Small writes take the direct path when their values allow it, and a batch says which
path it took and why."""
from __future__ import annotations

import logging

import pyarrow as pa
import pytest

from fspg import FeatureStore

DEFS = {"entities": [{"name": "user", "keys": {"user_id": "bigint"}}],
        "feature_views": [{"name": "small", "entity": "user",
                           "features": [{"name": "n", "dtype": "int"}, {"name": "x", "dtype": "float8", "rules": {"min": 0}}]}]}


def test_python_ints_that_fit_an_int_feature_go_direct(store: FeatureStore, conn, caplog):
    store.apply(DEFS)
    fits = store.insert_batch("small", {"user_id": [1], "n": [5], "x": [1.0]}, timestamp="2026-11-01")
    assert (fits.path, fits.why, fits.inserted) == ("direct", "", 1)
    # A value past int32: not cut, not cast; the staging path checks it per row and says why.
    with caplog.at_level(logging.INFO, logger="fspg.ingest"):
        wide = store.insert_batch("small", {"user_id": [2, 3], "n": [2**40, 7], "x": [1.0, 2.0]}, timestamp="2026-11-01")
    assert (wide.path, wide.inserted, wide.quarantined, wide.reasons) == ("staging", 1, 1, {"n__type": 1})
    assert "column n arrives as int64 for dtype int" in wide.why
    assert any("took the staging path" in r.getMessage() for r in caplog.records)
    stream = pa.RecordBatchReader.from_batches(
        pa.schema([("user_id", pa.int64()), ("x", pa.float64())]),
        [pa.record_batch([pa.array([4]), pa.array([1.0])], names=["user_id", "x"])])
    streamed = store.insert_batch("small", stream, timestamp="2026-11-01")
    assert streamed.path == "staging" and "one-shot stream" in streamed.why
    bad = store.insert_batch("small", {"user_id": [5, 6], "x": [-1.0, 1.0], "n": [1, 2]}, timestamp="2026-11-01")
    assert (bad.path, bad.quarantined) == ("staging", 1) and "a row broke a rule" in bad.why
    assert conn.execute("SELECT n FROM fs_offline.small WHERE user_id = 1").fetchone()[0] == 5


def test_push_takes_events_in_any_shape_through_the_rules(store: FeatureStore, conn, logins):
    """fs.push from Python (a dict of columns, Feast's push shape) and from plain SQL as a
    writer: values parsed per row, NaN and bad values quarantined, every event counted."""
    import datetime as dt

    import psycopg

    from tests.defs import ingest_defs

    store.apply(ingest_defs())
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    result = store.push("checked", {"user_id": [1, 2, 3], "score": [0.5, float("nan"), 1.0],
                                    "n": [7, 8, 9.5], "seen": [now, "not a moment", None]}, timestamp=now)
    assert (result.rows_in, result.inserted, result.quarantined) == (3, 1, 2)
    assert result.reasons == {"score__finite": 1, "n__type": 1, "seen__type": 1}
    assert conn.execute("SELECT n, seen FROM fs_online.checked__v1 WHERE user_id = 1").fetchone() == (7, now)
    with psycopg.connect(logins["writer"], autocommit=True) as writer:
        row = writer.execute("""SELECT rows_in, inserted, quarantined FROM fs.push('checked',
                                '[{"user_id": 4, "amount": 50, "event_ts": "2026-11-30T10:00:00Z"},
                                  {"user_id": 4, "amount": 500, "event_ts": "2026-11-30T11:00:00Z"}]')""").fetchone()
        assert row == (2, 1, 1)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="JSON array of objects"):
            writer.execute("""SELECT fs.push('checked', '{"user_id": 4}')""")
