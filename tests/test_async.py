"""AsyncFeatureStore: the same lookups, pushes and reads as FeatureStore, awaited."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from fspg import errors
from fspg.aio import AsyncFeatureStore
from tests.defs import base

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def filled(store):
    store.apply(base())
    store.insert_batch("user_stats", {"user_id": [1, 2, 3], "spend_7d": [10.0, 20.0, 30.0], "country": ["DE", "FR", "US"]},
                       timestamp=NOW - dt.timedelta(hours=1))
    store.insert_batch("fx_rates", {"eur_usd": [1.08]}, timestamp=NOW - dt.timedelta(hours=1))
    return store


def test_lookups_answer_as_the_sync_store_does(filled, dsn):
    async def lookups():
        async with AsyncFeatureStore(dsn) as fs:
            return (await fs.get_online_features(service="scoring", entities=[3, 99, 1], as_dicts=True),
                    await fs.get_online_features(["user_stats.*"], entities={"user_id": [2]}),
                    await fs.get_online_features(service="scoring@1", entities=[1], with_event_ts=True))

    dicts, table, with_ts = run(lookups())
    assert dicts == filled.get_online_features(service="scoring", entities=[3, 99, 1], as_dicts=True)
    assert [d["spend_7d"] for d in dicts] == [30.0, None, 10.0]
    assert table.equals(filled.get_online_features(["user_stats.*"], entities={"user_id": [2]}))
    assert with_ts.column("user_stats__event_ts").to_pylist() == [NOW - dt.timedelta(hours=1)]


def test_many_lookups_at_once_share_a_bounded_pool(filled, dsn):
    async def many():
        async with AsyncFeatureStore(dsn, max_size=3) as fs:
            rows = await asyncio.gather(*[fs.get_online_features(service="scoring", entities=[1 + i % 3], as_dicts=True)
                                          for i in range(60)])
            return rows, fs.pool_stats()["lookups"]

    rows, stats = run(many())
    assert [r[0]["user_id"] for r in rows] == [1 + i % 3 for i in range(60)]
    assert stats["pool_size"] <= 3


def test_push_validates_quarantines_and_retries(filled, dsn):
    events = [{"user_id": 4, "spend_7d": 5.0, "country": "DE", "event_ts": NOW},
              {"user_id": 5, "spend_7d": -1.0, "event_ts": NOW},            # breaks min 0
              {"user_id": "six", "spend_7d": 1.0, "event_ts": NOW}]          # not a bigint

    async def push():
        async with AsyncFeatureStore(dsn) as fs:
            first = await fs.push("user_stats", events, batch_key="evt-1")
            again = await fs.push("user_stats", events, batch_key="evt-1")
            online = await fs.get_online_features(["user_stats.spend_7d"], entities=[4, 5], as_dicts=True)
            return first, again, online

    first, again, online = run(push())
    assert (first.rows_in, first.inserted, first.quarantined) == (3, 1, 2)
    assert first.reasons == {"spend_7d__min": 1, "user_id__type": 1}
    assert again.batch_id == first.batch_id  # the retry is the first batch, written once
    assert [r["spend_7d"] for r in online] == [5.0, None]
    assert filled.quarantine(first.batch_id)[0]["reasons"]


def test_bad_input_is_an_fspg_error(filled, dsn):
    async def attempt(call):
        async with AsyncFeatureStore(dsn) as fs:
            await call(fs)

    cases = [
        (lambda fs: fs.get_online_features(["user_stats.nope"], entities=[1]), errors.NotFound),
        (lambda fs: fs.get_online_features(service="scoring", entities=["x"]), errors.InvalidArgument),
        (lambda fs: fs.get_online_features(service="scoring", entities=list(range(10_001))), errors.InvalidArgument),
        (lambda fs: fs.get_online_features(service="nope", entities=[1]), errors.NotFound),
        (lambda fs: fs.push("user_stats", {"user_id": 1, "nope": 2}, timestamp="now"), errors.SchemaMismatch),
        (lambda fs: fs.push("user_stats", [], timestamp="now"), errors.InvalidArgument),
        (lambda fs: fs.push("nope", {"user_id": 1}, timestamp="now"), errors.NotFound),
    ]
    for call, expected in cases:
        with pytest.raises(expected):
            run(attempt(call))


def test_a_role_limits_what_the_store_may_do(filled, dsn, logins):
    async def as_serving():
        async with AsyncFeatureStore(dsn, role="fs_serving") as fs:
            rows = await fs.get_online_features(service="scoring", entities=[1], as_dicts=True)
            with pytest.raises(errors.PermissionDenied):
                await fs.push("user_stats", {"user_id": 1, "spend_7d": 1.0}, timestamp="now")
            return rows

    assert run(as_serving())[0]["spend_7d"] == 10.0


def test_offline_reads_run_without_blocking_the_loop(filled, dsn):
    async def reads():
        async with AsyncFeatureStore(dsn) as fs:
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            task = asyncio.create_task(ticker())
            table = await fs.load_batch("user_stats", entities=[2, 1])
            task.cancel()
            return table, ticks

    table, ticks = run(reads())
    assert table.column("spend_7d").to_pylist() == [20.0, 10.0]
    assert ticks > 0  # the loop kept running while the read was in its thread


def test_an_unreachable_database_is_connection_failed():
    async def open_it():
        async with AsyncFeatureStore("postgresql://nobody@127.0.0.1:1/none"):
            pass

    with pytest.raises(errors.ConnectionFailed, match="cannot connect"):
        run(open_it())
