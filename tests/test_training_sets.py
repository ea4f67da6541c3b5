"""Stored, versioned training sets: rebuilt identical after history changed; spines from SQL."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fspg import errors
from tests.test_training import T0, UTC, definitions

FEATURES = ["v_a.x", "v_b.y"]


def seed(store) -> None:
    store.apply(definitions())
    store.insert_batch("v_a", {"user_id": [1, 2, 3], "x": [1.0, 2.0, 3.0], "score": [0.1, 0.2, 0.3]}, timestamp=T0)
    store.insert_batch("v_b", {"user_id": [1, 2], "score": [0.5, 0.6], "y": [10, 20]}, timestamp=T0)


def spine() -> pa.Table:
    return pa.table({"user_id": pa.array([1, 2, 3, 1], pa.int64()),
                     "event_ts": [T0 + dt.timedelta(hours=h) for h in (12, 12, 12, 36)],
                     "label": [1, 0, 1, 1]})


def test_stored_training_set_is_rebuilt_identical_after_late_and_corrected_data(store, conn, tmp_path):
    seed(store)
    made = store.create_training_set("churn", spine(), FEATURES, description="churn model inputs")
    assert (made.name, made.version, made.action, made.row_count) == ("churn", 1, "create", 4)
    first = store.get_training_set("churn", version=1)
    assert first.column("x").to_pylist() == [1.0, 2.0, 3.0, 1.0]
    assert first.column("y").to_pylist() == [10, 20, None, 10]

    # History changes after the fact: a correction of an event the set used, and a late
    # event that would now be in effect for the spine.
    store.insert_batch("v_a", {"user_id": [1], "x": [100.0], "score": [0.0]}, timestamp=T0)
    store.insert_batch("v_b", {"user_id": [3], "score": [0.7], "y": [30]}, timestamp=T0 + dt.timedelta(hours=1))
    assert store.get_training_set(spine(), FEATURES).column("x").to_pylist()[0] == 100.0  # a fresh join sees them

    again = store.get_training_set("churn", version=1)
    assert again.equals(first)
    assert again.column_names == ["user_id", "event_ts", "label", "x", "y"]
    verified = store.verify_training_set("churn", 1)
    assert verified["identical"] and verified["content_hash"] == made.content_hash == verified["recorded_hash"]
    # The same rows in SQL, for an analyst or a BI tool.
    assert conn.execute("SELECT x FROM fs_training.churn__v1").fetchall() == [(1.0,), (2.0,), (3.0,), (1.0,)]
    assert conn.execute("SELECT count(*) FROM fs_training.churn").fetchone()[0] == 4
    # As a stream of record batches, and streamed to Parquet: the same rows again.
    assert pa.Table.from_batches(list(store.stream_training_set("churn", version=1))).equals(first)
    assert pa.Table.from_batches(list(store.stream_training_set(spine(), FEATURES))).column("x").to_pylist()[0] == 100.0
    rows = store.write_training_set(tmp_path / "churn.parquet", "churn")
    assert rows == 4 and pq.read_table(tmp_path / "churn.parquet").equals(first.replace_schema_metadata(None), check_metadata=False)


def test_reusing_a_name_never_overwrites(store):
    seed(store)
    made = store.create_training_set("churn", spine(), FEATURES)
    same = store.create_training_set("churn", spine(), FEATURES, as_of=made.as_of)
    assert (same.version, same.action, same.content_hash) == (1, "unchanged", made.content_hash)
    other = store.create_training_set("churn", spine(), ["v_a.x"], as_of=made.as_of)  # another definition
    assert (other.version, other.action) == (2, "create")
    assert store.get_training_set("churn").column_names == ["user_id", "event_ts", "label", "x"]  # current = v2
    assert store.get_training_set("churn", version=1).column_names[-1] == "y"
    listed = store.training_sets("churn")
    assert [(r["version"], r["current"]) for r in listed] == [(1, False), (2, True)]
    assert listed[0]["features"] == ["v_a@1.x", "v_b@1.y"]  # pinned to view versions


def test_spine_from_a_table_or_a_query(store, conn):
    seed(store)
    conn.execute("CREATE TABLE public.labels (customer bigint, at timestamp, label int)")
    conn.execute("INSERT INTO public.labels VALUES (2, %s, 0), (1, %s, 1)",
                 (dt.datetime(2026, 10, 1, 12), dt.datetime(2026, 10, 2, 12)))  # naive = UTC
    conn.commit()
    query = "SELECT customer AS user_id, at AS event_ts, label FROM public.labels ORDER BY label"
    from_query = store.get_training_set(query, FEATURES)
    assert from_query.column("user_id").to_pylist() == [2, 1] and from_query.column("x").to_pylist() == [2.0, 1.0]
    as_arrow = store.get_training_set(pa.table({"user_id": [2, 1], "event_ts": [T0 + dt.timedelta(hours=12),
                                                                                 T0 + dt.timedelta(hours=36)],
                                                "label": pa.array([0, 1], pa.int32())}), FEATURES)
    assert from_query.equals(as_arrow, check_metadata=False)
    conn.execute("CREATE VIEW public.label_spine AS " + query)
    conn.commit()
    assert store.get_training_set("public.label_spine", FEATURES).equals(from_query)
    made = store.create_training_set("from_sql", query, FEATURES)
    assert made.row_count == 2
    assert store.training_sets("from_sql")[0]["spine_source"] == query
    # Plain SQL, no Python: the join for a spine query, run in the same session.
    sql = conn.execute("SELECT fs.training_set_sql(%s, %s)", (query, FEATURES)).fetchone()[0]
    assert [r[-2:] for r in conn.execute(sql).fetchall()] == [(2.0, 20), (1.0, 10)]


def test_spine_times_in_mixed_time_zones_are_instants(store):
    seed(store)
    store.insert_batch("v_a", {"user_id": [1], "x": [5.0], "score": [0.0]}, timestamp=T0 + dt.timedelta(hours=10))
    # 11:30+02:00 is 09:30 UTC (before the 10:00 event); 10:30Z is after it.
    text = pa.table({"user_id": [1, 1, 1], "event_ts": ["2026-10-01T11:30:00+02:00", "2026-10-01T10:30:00Z",
                                                        "2026-10-01T10:30:00"]})
    assert store.get_training_set(text, ["v_a.x"]).column("x").to_pylist() == [1.0, 5.0, 5.0]
    berlin = dt.timezone(dt.timedelta(hours=2))
    objects = {"user_id": [1, 1], "event_ts": [dt.datetime(2026, 10, 1, 11, 30, tzinfo=berlin),
                                               dt.datetime(2026, 10, 1, 10, 30, tzinfo=UTC)]}
    got = store.get_training_set(objects, ["v_a.x"])
    assert got.column("x").to_pylist() == [1.0, 5.0]
    assert got.column("event_ts").to_pylist()[0] == dt.datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    with pytest.raises(errors.SchemaMismatch, match="row 2: event_ts 'yesterday'"):
        store.get_training_set(pa.table({"user_id": [1, 1], "event_ts": ["2026-10-01T10:30:00Z", "yesterday"]}), ["v_a.x"])


def test_bad_training_set_requests(store, conn):
    seed(store)
    with pytest.raises(errors.InvalidArgument, match="NULL timestamp or key: 2, 3"):
        store.create_training_set("bad", {"user_id": [1, None, 3], "event_ts": [T0, T0, None]}, ["v_a.x"])
    with pytest.raises(errors.SchemaMismatch, match="lacks key column.*user_id"):
        store.create_training_set("bad", "SELECT now() AS event_ts", ["v_a.x"])
    with pytest.raises(errors.InvalidArgument, match="relation \"no_such_table\" does not exist"):
        store.get_training_set("no_such_table", ["v_a.x"])
    with pytest.raises(errors.InvalidArgument, match="spine SELECT nonsense"):
        store.get_training_set("SELECT nonsense FROM", ["v_a.x"])
    with pytest.raises(errors.SchemaMismatch, match="not a timestamp"):
        store.get_training_set("SELECT 1::bigint AS user_id, 5 AS event_ts", ["v_a.x"])
    with pytest.raises(errors.NotFound, match="training set nope does not exist"):
        store.get_training_set("nope")
    with pytest.raises(errors.NotFound, match="training set bad does not exist"):
        store.verify_training_set("bad")
    with pytest.raises(errors.InvalidName):
        store.create_training_set("Bad Name", spine(), ["v_a.x"])
    with pytest.raises(errors.InvalidArgument, match="in the future"):
        store.create_training_set("later", spine(), ["v_a.x"], as_of=dt.datetime.now(UTC) + dt.timedelta(hours=1))
    with pytest.raises(errors.InvalidArgument, match="exactly one of features, service or model"):
        store.create_training_set("both", spine(), ["v_a.x"], service="s")
    assert store.training_sets() == []  # nothing half-made
    assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'fs_training'").fetchone()[0] == 0


def test_duplicate_spine_rows_are_kept(store):
    seed(store)
    doubled = pa.concat_tables([spine(), spine()])
    made = store.create_training_set("twice", doubled, ["v_a.x"])
    assert made.row_count == 8
    assert store.get_training_set("twice").column("x").to_pylist() == [1.0, 2.0, 3.0, 1.0] * 2
