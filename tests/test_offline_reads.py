"""load_batch and load_history: the point-in-time rule, TTL, as_of and entity selection."""
from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest

from fspg import errors
from tests.defs import base, spec_view

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 10, 1, tzinfo=UTC)


def day(n: int) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@pytest.fixture
def views(store):
    store.apply(base())
    store.apply(spec_view())
    return store


def _values(table, column="spend_7d"):
    return dict(zip(table.column("user_id").to_pylist(), table.column(column).to_pylist()))


def test_newest_value_per_entity_at_a_moment(views):
    views.insert_batch("user_stats", {"user_id": [1, 1, 2], "event_ts": [day(0), day(2), day(1)],
                                      "spend_7d": [10.0, 12.0, 20.0]})
    assert _values(views.load_batch("user_stats", timestamp=day(1))) == {1: 10.0, 2: 20.0}
    assert _values(views.load_batch("user_stats", timestamp=day(3))) == {1: 12.0, 2: 20.0}
    assert views.load_batch("user_stats", timestamp=day(-1)).num_rows == 0  # nothing yet: no leakage


def test_late_older_event_never_overwrites_newer(views):
    views.insert_batch("user_stats", {"user_id": [1], "event_ts": [day(5)], "spend_7d": [50.0]})
    views.insert_batch("user_stats", {"user_id": [1], "event_ts": [day(4)], "spend_7d": [40.0]})  # arrives late
    assert _values(views.load_batch("user_stats", timestamp=day(6))) == {1: 50.0}
    assert _values(views.load_batch("user_stats", timestamp=day(4))) == {1: 40.0}


def test_a_correction_wins_over_the_value_it_corrects(views):
    views.insert_batch("user_stats", {"user_id": [1], "event_ts": [day(1)], "spend_7d": [10.0]})
    first = dt.datetime.now(UTC)
    time.sleep(0.01)
    views.insert_batch("user_stats", {"user_id": [1], "event_ts": [day(1)], "spend_7d": [11.0]})
    assert _values(views.load_batch("user_stats", timestamp=day(2))) == {1: 11.0}
    # as of before the correction, the original value: reads are reproducible
    assert _values(views.load_batch("user_stats", timestamp=day(2), as_of=first)) == {1: 10.0}


def test_ttl_expires_values(views):
    views.insert_batch("user_stats", {"user_id": [1, 2], "event_ts": [day(0), day(5)], "spend_7d": [1.0, 2.0]})
    assert _values(views.load_batch("user_stats", timestamp=day(8))) == {2: 2.0}  # ttl is 7 days
    table = views.load_batch("user_stats", timestamp=day(8), entities=[1, 2])
    assert _values(table) == {1: None, 2: 2.0}


def test_entities_in_request_order_with_missing_ones_null(views):
    views.insert_batch("user_stats", {"user_id": [1, 2, 3], "spend_7d": [1.0, 2.0, 3.0]}, timestamp=day(0))
    table = views.load_batch("user_stats", timestamp=day(1), entities=[3, 99, 1])
    assert table.column("user_id").to_pylist() == [3, 99, 1]
    assert table.column("spend_7d").to_pylist() == [3.0, None, 1.0]
    table = views.load_batch("user_stats", timestamp=day(1), entities={"user_id": [2]}, features=["country"])
    assert table.column_names == ["user_id", "event_ts", "country"]


def test_reads_keep_their_arrow_connection_and_leave_nothing_behind(views, conn):
    """load_batch with entities uploads them as a temp table: the next read on the same
    (kept) connection must neither see it nor fail on it, and must not log in again."""
    views.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [1.0, 2.0]}, timestamp=day(0))
    readers = "SELECT array_agg(pid ORDER BY pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    views.load_batch("user_stats", timestamp=day(1), entities=[1])
    before = conn.execute(readers).fetchone()[0]
    for keys in ([2], [1, 2], [2, 1]):
        assert views.load_batch("user_stats", timestamp=day(1), entities=keys).column("user_id").to_pylist() == keys
    views.load_history("user_stats", entities=[1])
    assert conn.execute(readers).fetchone()[0] == before


def test_limit_and_features(views):
    views.insert_batch("user_stats", {"user_id": list(range(10)), "spend_7d": [1.0] * 10}, timestamp=day(0))
    table = views.load_batch("user_stats", timestamp=day(1), limit=3, features=["spend_7d"])
    assert table.num_rows == 3 and table.column_names == ["user_id", "event_ts", "spend_7d"]
    with pytest.raises(errors.NotFound, match="unknown feature"):
        views.load_batch("user_stats", features=["nope"])


def test_as_of_in_the_future_is_refused(views):
    with pytest.raises(errors.InvalidArgument, match="in the future"):
        views.load_batch("user_stats", as_of=dt.datetime.now(UTC) + dt.timedelta(hours=1))


def test_as_of_waits_for_writers_that_started_before_it(views, dsn):
    """The trap: a transaction that began before as_of and commits after it."""
    writer = psycopg.connect(dsn)
    writer.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d) VALUES (7, %s, 70)", [day(0)])
    time.sleep(0.05)
    as_of = dt.datetime.now(UTC)
    result = {}

    def read():
        result["table"] = views.load_batch("user_stats", timestamp=day(1), as_of=as_of)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.5)
    assert reader.is_alive()  # still waiting for the open writer
    writer.commit()
    writer.close()
    reader.join(timeout=10)
    # the row's created_ts is before as_of, so a rebuild would see it: the first read does too
    assert _values(result["table"]) == {7: 70.0}


def test_load_history_range_and_entities(views):
    views.insert_batch("user_stats", {"user_id": [1, 1, 2, 2], "event_ts": [day(0), day(3), day(1), day(5)],
                                      "spend_7d": [1.0, 2.0, 3.0, 4.0]})
    table = views.load_history("user_stats", day(1), day(5))
    assert list(zip(table.column("user_id").to_pylist(), table.column("spend_7d").to_pylist())) == [(1, 2.0), (2, 3.0)]
    assert table.column_names[:4] == ["user_id", "event_ts", "created_ts", "batch_id"]
    only = views.load_history("user_stats", entities=[2])
    assert only.column("spend_7d").to_pylist() == [3.0, 4.0]


def test_global_view_value_in_effect(views):
    views.insert_batch("my_feature", {"x": [1.0], "y": [2.0]}, timestamp=day(0))
    views.insert_batch("my_feature", {"x": [3.0], "y": [4.0]}, timestamp=day(2))
    assert views.load_batch("my_feature", timestamp=day(1)).column("x").to_pylist() == [1.0]
    assert views.load_batch("my_feature", timestamp=day(3)).column("x").to_pylist() == [3.0]
    with pytest.raises(errors.InvalidArgument, match="global view"):
        views.load_batch("my_feature", entities=[1])


def test_reads_of_a_pinned_version(views):
    views.insert_batch("user_stats", {"user_id": [1], "spend_7d": [1.0]}, timestamp=day(0))
    doc = base()
    doc["feature_views"][0]["features"].append({"name": "spend_30d", "dtype": "float8"})
    views.apply(doc)
    assert views.load_batch("user_stats@2", timestamp=day(1)).num_rows == 0   # staged, not backfilled
    # unpinned reads stay on the served version until v2 is promoted
    assert _values(views.load_batch("user_stats", timestamp=day(1))) == {1: 1.0}
    assert _values(views.load_batch("user_stats@1", timestamp=day(1))) == {1: 1.0}


def test_the_query_is_sql_an_analyst_can_run(views, conn):
    views.insert_batch("user_stats", {"user_id": [1], "spend_7d": [5.0]}, timestamp=day(0))
    query = conn.execute("SELECT fs.load_batch_query('user_stats', %s)", [day(1)]).fetchone()[0]
    assert conn.execute(query).fetchall()[0][0] == 1
