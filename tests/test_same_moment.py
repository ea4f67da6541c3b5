"""One rule for rows of one entity and moment (F7 part 2): the last row in input order
wins, the earlier ones are quarantined as <key>__duplicate, and every reader agrees."""
from __future__ import annotations

import datetime as dt

import psycopg
import pyarrow as pa
import pytest
from click.testing import CliRunner

from fspg import FeatureStore, errors
from fspg.cli import main
from tests.defs import base

# Within user_stats' TTL (7 days), so online lookups serve it.
MOMENT = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=2)
ENTITIES = 500


def triples() -> dict:
    """500 users with three rows each at one moment, interleaved; the last of each is 3u/10."""
    users, spend = [], []
    for copy in (1, 2, 3):
        for u in range(1, ENTITIES + 1):
            users.append(u)
            spend.append(copy * u / 10)
    return {"user_id": users, "spend_7d": spend, "event_ts": [MOMENT] * len(users)}


def every_reader(store: FeatureStore, name: str) -> dict[str, list]:
    """What each read path says user u's spend_7d is at MOMENT."""
    users = list(range(1, ENTITIES + 1))
    spine = {"user_id": users, "event_ts": [MOMENT + dt.timedelta(hours=1)] * ENTITIES}
    store.create_training_set(name, spine, ["user_stats.spend_7d"])
    readers = {
        "online": [r["spend_7d"] for r in store.get_online_features(["user_stats.spend_7d"], entities=users, as_dicts=True)],
        "load_batch": _by_user(store.load_batch("user_stats", timestamp=MOMENT + dt.timedelta(hours=1))),
        "training set": store.get_training_set(spine, ["user_stats.spend_7d"]).column("spend_7d").to_pylist(),
        "stored training set": store.get_training_set(name).column("spend_7d").to_pylist(),
    }
    store.rebuild_online("user_stats")
    readers["materialized online"] = [
        r["spend_7d"] for r in store.get_online_features(["user_stats.spend_7d"], entities=users, as_dicts=True)]
    assert store.verify_training_set(name)["identical"] is True
    return readers


def _by_user(table: pa.Table) -> list:
    values = dict(zip(table.column("user_id").to_pylist(), table.column("spend_7d").to_pylist()))
    return [values.get(u) for u in range(1, ENTITIES + 1)]


@pytest.mark.parametrize("path", ["dict", "arrow", "csv"])
def test_the_last_row_wins_and_every_reader_agrees(store, conn, dsn, tmp_path, path):
    store.apply(base())
    data = triples()
    if path == "dict":
        result = store.insert_batch("user_stats", data)
        counts = (result.rows_in, result.inserted, result.quarantined, result.reasons)
    elif path == "arrow":
        result = store.insert_batch("user_stats", pa.table(data))
        counts = (result.rows_in, result.inserted, result.quarantined, result.reasons)
    else:
        csv = tmp_path / "triples.csv"
        csv.write_text("user_id,spend_7d,event_ts\n" + "".join(
            f"{u},{s},{MOMENT.isoformat()}\n" for u, s in zip(data["user_id"], data["spend_7d"])))
        out = CliRunner().invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(csv), "--json"])
        assert out.exit_code == 0, out.output
        batch = conn.execute("SELECT rows_in, inserted, quarantined, reasons FROM fs.ingest_batch").fetchone()
        counts = tuple(batch)
    assert counts == (1500, 500, 1000, {"user_id__duplicate": 1000})
    last = [3 * u / 10 for u in range(1, ENTITIES + 1)]
    readers = every_reader(store, f"same_moment_{path}")
    assert readers == {name: last for name in readers}
    # the quarantined rows are the earlier ones, with their input row numbers
    rows = conn.execute("SELECT min(row_number), max(row_number) FROM fs.quarantine").fetchone()
    assert rows == (1, 1000)


def test_plain_sql_and_a_second_batch_in_one_transaction_are_refused_clearly(store, dsn, conn):
    store.apply(base())
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d)"
                     " VALUES (1, %s, 1), (1, %s, 2)", [MOMENT, MOMENT])
    with psycopg.connect(dsn) as tx:
        mine = FeatureStore(connection=tx)
        mine.insert_batch("user_stats", {"user_id": [1], "spend_7d": [1.0]}, timestamp=MOMENT)
        with pytest.raises(errors.BatchRejected, match="written earlier in this transaction"):
            mine.insert_batch("user_stats", {"user_id": [1], "spend_7d": [2.0]}, timestamp=MOMENT)
    # in separate transactions the later write is a correction, and wins
    store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [1.0]}, timestamp=MOMENT)
    store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [2.0]}, timestamp=MOMENT)
    assert store.get_online_features(["user_stats.spend_7d"], entities=[1], as_dicts=True)[0]["spend_7d"] == 2.0
    assert store.load_batch("user_stats", timestamp=MOMENT).column("spend_7d").to_pylist() == [2.0]
