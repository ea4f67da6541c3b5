"""Point-in-time-correct training sets, checked row for row against a brute-force oracle."""
from __future__ import annotations

import datetime as dt
import random
import time

import pyarrow as pa
import pytest

from fspg import errors

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 10, 1, tzinfo=UTC)
TTL = {"v_a": dt.timedelta(days=3), "v_b": None}
FEATURES = {"v_a": ["x", "score"], "v_b": ["score", "y"]}


def definitions() -> dict:
    return {
        "entities": [{"name": "user", "keys": {"user_id": "bigint"}}],
        "feature_views": [
            {"name": "v_a", "entity": "user", "ttl": "3 days",
             "features": [{"name": "x", "dtype": "float8"}, {"name": "score", "dtype": "float8"}]},
            {"name": "v_b", "entity": "user",
             "features": [{"name": "score", "dtype": "float8"}, {"name": "y", "dtype": "bigint"}]},
        ],
    }


def random_history(store, rng: random.Random) -> None:
    """Three batches per view: fresh events, then late arrivals, then corrections of earlier events."""
    for view in ("v_a", "v_b"):
        earlier = []
        for batch in range(3):
            rows = []
            for _ in range(60):
                if batch == 2 and earlier and rng.random() < 0.7:
                    user, ts = rng.choice(earlier)  # a correction: same entity and event time
                else:
                    user = rng.randrange(12)
                    hours = rng.randrange(0, 24 * 20) - (24 * 5 if batch == 1 else 0)  # batch 1 arrives late
                    ts = T0 + dt.timedelta(hours=hours)
                if (user, ts) not in rows:  # one value per entity and moment within a batch: no ties
                    rows.append((user, ts))
            earlier += rows
            first, second = FEATURES[view]
            store.insert_batch(view, {
                "user_id": [u for u, _ in rows], "event_ts": [t for _, t in rows],
                first: [round(rng.random(), 6) for _ in rows],
                second: ([round(rng.random(), 6) for _ in rows] if second != "y" else [rng.randrange(1000) for _ in rows])})
            time.sleep(0.002)  # distinct created_ts per batch


def oracle(history: dict[str, list[dict]], spine: list[dict], as_of=None) -> list[dict]:
    out = []
    for row in spine:
        result = dict(row)
        for view, columns in FEATURES.items():
            candidates = [h for h in history[view]
                          if h["user_id"] == row["user_id"] and h["event_ts"] <= row["event_ts"]
                          and (TTL[view] is None or h["event_ts"] > row["event_ts"] - TTL[view])
                          and (as_of is None or h["created_ts"] <= as_of)]
            best = max(candidates, key=lambda h: (h["event_ts"], h["created_ts"]), default=None)
            for column in columns:
                name = f"{view}__{column}" if column == "score" else column
                result[name] = best[column] if best else None
        out.append(result)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_training_set_matches_the_point_in_time_oracle(store, seed):
    rng = random.Random(seed)
    store.apply(definitions())
    random_history(store, rng)
    history = {v: store.load_history(v).to_pylist() for v in FEATURES}
    spine = [{"user_id": rng.randrange(14), "event_ts": T0 + dt.timedelta(hours=rng.randrange(-24, 24 * 22)),
              "label": rng.randrange(2)} for _ in range(150)]
    spine += spine[:5]  # duplicate spine rows are kept as given
    got = store.get_training_set(pa.Table.from_pylist(spine), ["v_a.*", "v_b.*"]).to_pylist()
    assert got == oracle(history, spine)
    # Three sessions on slices of the spine, one snapshot: the same rows in the same order.
    assert store.get_training_set(pa.Table.from_pylist(spine), ["v_a.*", "v_b.*"], sessions=3).to_pylist() == got
    # A stored set rebuilds the same rows, and so does its SQL view (the join's portable form).
    store.create_training_set("oracle", pa.Table.from_pylist(spine), ["v_a.*", "v_b.*"])
    assert store.get_training_set("oracle").to_pylist() == got
    with store.connection() as conn:
        assert conn.execute("SELECT * FROM fs_training.oracle").fetchall() == [tuple(r.values()) for r in got]


def test_as_of_reproduces_an_earlier_training_set(store):
    store.apply(definitions())
    spine = pa.table({"user_id": [1, 2], "event_ts": [T0 + dt.timedelta(days=2)] * 2})
    store.insert_batch("v_b", {"user_id": [1, 2], "score": [0.1, 0.2], "y": [1, 2]}, timestamp=T0)
    built_at = dt.datetime.now(UTC)
    first = store.get_training_set(spine, ["v_b.score"], as_of=built_at)
    time.sleep(0.01)
    store.insert_batch("v_b", {"user_id": [1], "score": [0.9], "y": [9]}, timestamp=T0)  # a correction arrives
    store.insert_batch("v_b", {"user_id": [2], "score": [0.8], "y": [8]}, timestamp=T0 + dt.timedelta(days=1))  # late data
    assert store.get_training_set(spine, ["v_b.score"], as_of=built_at).equals(first)
    assert store.get_training_set(spine, ["v_b.score"], as_of=built_at, sessions=2).equals(first)
    assert store.get_training_set(spine, ["v_b.score"]).column("score").to_pylist() == [0.9, 0.8]


def test_spine_order_columns_and_names(store):
    store.apply(definitions())
    store.insert_batch("v_a", {"user_id": [1], "x": [1.0], "score": [2.0]}, timestamp=T0)
    spine = {"label": [1, 0, 1], "user_id": [1, 5, 1],
             "when": [dt.datetime(2026, 10, 2), dt.datetime(2026, 10, 2), dt.datetime(2026, 9, 30)]}
    table = store.get_training_set(spine, ["v_a.x", "v_a.score"], timestamp_column="when")
    assert table.column_names == ["label", "user_id", "when", "x", "score"]
    assert table.column("x").to_pylist() == [1.0, None, None]  # unknown entity; a spine time before the event


def test_bad_spines(store):
    store.apply(definitions())
    with pytest.raises(errors.InvalidArgument, match=r"NULL timestamp or key: 2 \("):
        store.get_training_set({"user_id": [1, 2], "event_ts": [T0, None]}, ["v_a.x"])
    with pytest.raises(errors.InvalidArgument, match=r"NULL timestamp or key: 1 \("):
        store.get_training_set({"user_id": [None, 2], "event_ts": [T0, T0]}, ["v_a.x"])
    with pytest.raises(errors.SchemaMismatch, match="lacks key column.*user_id"):
        store.get_training_set({"customer": [1], "event_ts": [T0]}, ["v_a.x"])
    with pytest.raises(errors.SchemaMismatch, match="no timestamp column"):
        store.get_training_set({"user_id": [1]}, ["v_a.x"])
    with pytest.raises(errors.NotFound):
        store.get_training_set({"user_id": [1], "event_ts": [T0]}, ["nope.x"])
    with pytest.raises(errors.InvalidArgument, match="in the future"):
        store.get_training_set({"user_id": [1], "event_ts": [T0]}, ["v_a.x"], as_of=dt.datetime.now(UTC) + dt.timedelta(days=1))


def test_training_set_command(store, dsn, tmp_path):
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from fspg.cli import main

    store.apply(definitions())
    store.insert_batch("v_a", {"user_id": [1], "x": [1.5], "score": [2.0]}, timestamp=T0)
    (tmp_path / "spine.csv").write_text("user_id,event_ts,label\n1,2026-10-02T00:00:00,1\n2,2026-10-02T00:00:00,0\n")
    pq.write_table(pa.table({"user_id": pa.array([1], pa.int64()), "event_ts": pa.array([T0 + dt.timedelta(hours=1)])}),
                   tmp_path / "spine.parquet")
    out = tmp_path / "train.parquet"
    result = CliRunner().invoke(main, ["--dsn", dsn, "training-set", "build", str(tmp_path / "spine.parquet"),
                                       "--features", "v_a.x", "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.stderr)
    assert pq.read_table(out).column("x").to_pylist() == [1.5]
    result = CliRunner().invoke(main, ["--dsn", dsn, "training-set", "build", str(tmp_path / "spine.csv"), "--features", "v_a.x"])
    assert result.exit_code == 0, (result.output, result.stderr)  # CSV: text keys and times are parsed
    lines = result.output.splitlines()
    assert lines[0].split() == ["user_id", "event_ts", "label", "x"] and lines[1].split()[-1] == "1.5"
    (tmp_path / "bad.csv").write_text("user_id,event_ts\nabc,2026-10-02T00:00:00\n")
    result = CliRunner().invoke(main, ["--dsn", dsn, "training-set", "build", str(tmp_path / "bad.csv"), "--features", "v_a.x"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "abc" in result.stderr


def test_rows_in_the_default_partition_are_found(store, conn):
    """A plain SQL insert for a month without a partition parks in the default partition;
    the join reads it there, and after fs.maintain moves it, from its own partition."""
    store.apply(definitions())
    store.insert_batch("v_a", {"user_id": [1], "x": [1.0], "score": [0.0]}, timestamp=T0)
    earlier = dt.datetime(2025, 3, 1, tzinfo=UTC)
    conn.execute("INSERT INTO fs_offline.v_a (user_id, event_ts, x, score) VALUES (2, %s, 7.0, 0.5)", [earlier])
    conn.commit()
    assert conn.execute("SELECT count(*) FROM fs_offline.v_a__v1_default").fetchone()[0] == 1
    spine = {"user_id": [1, 2], "event_ts": [T0 + dt.timedelta(hours=1), earlier + dt.timedelta(hours=1)]}
    assert store.get_training_set(spine, ["v_a.x"]).column("x").to_pylist() == [1.0, 7.0]
    store.maintain()
    assert conn.execute("SELECT count(*) FROM fs_offline.v_a__v1_default").fetchone()[0] == 0
    assert store.get_training_set(spine, ["v_a.x"]).column("x").to_pylist() == [1.0, 7.0]
