"""[F7 §1] Rollout: backfilling a staged version, and what dual writes cost.

1. Backfill of 1,000,000 rows (1 bigint key + 20 float8 features with min/max rules,
   day partitions over 20 days) from version N into a staged N+1 whose rule changed,
   against the insert_batch of the same 1,000,000 rows into N: ratio of times.
2. Dual writes: insert_batch of 100,000 rows, and of 1 row from a dict, into a view with
   one staged version against the same into a view without; interleaved, medians.
"""
from __future__ import annotations

import datetime as dt
import statistics
import time

from bench.common import bench_definitions, feature_table, fresh_database, median, save, server
from fspg import FeatureStore

ROWS = 1_000_000
FEATURES = 20
REPEATS = 2
BATCH = 100_000
BATCH_REPEATS = 5
SMALL_CALLS = 300


def daily(name: str, max_first: float = 1.0) -> dict:
    doc = bench_definitions(name, FEATURES)
    view = doc["feature_views"][0]
    view["partition"] = "day"
    view["features"][0]["rules"]["max"] = max_first
    return doc


def backfill_vs_ingest(dsn: str) -> dict:
    table = feature_table(ROWS, FEATURES)
    ingest_s, backfill_s, steps = [], [], []
    with FeatureStore(dsn) as store:
        for i in range(REPEATS):
            name = f"rollout_{i}"
            store.apply(daily(name))
            result = store.insert_batch(name, table)
            assert result.inserted == ROWS, result
            ingest_s.append(result.seconds)
            store.apply(daily(name, max_first=2.0))
            started = time.perf_counter()
            done = store.backfill(f"{name}@2")
            backfill_s.append(time.perf_counter() - started)
            assert done.inserted == ROWS and done.quarantined == 0, done
            steps.append(done.periods)
    return {"rows": ROWS, "features": FEATURES, "partition": "day", "backfill_steps": steps[0],
            "ingest_s": [round(s, 2) for s in ingest_s], "backfill_s": [round(s, 2) for s in backfill_s],
            "ingest_rows_per_s": round(ROWS / median(ingest_s)), "backfill_rows_per_s": round(ROWS / median(backfill_s)),
            "ratio_backfill_to_ingest": round(median(backfill_s) / median(ingest_s), 2)}


def dual_write_cost(dsn: str) -> dict:
    big, small = {"solo": [], "dual": []}, {"solo": [], "dual": []}
    t = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    with FeatureStore(dsn) as store:
        for name in ("solo", "dual"):
            store.apply(daily(name))
        store.apply(daily("dual", max_first=2.0))     # dual@2 staged: every write lands twice
        for repeat in range(BATCH_REPEATS):
            batch = feature_table(BATCH, FEATURES, seed=100 + repeat)
            for name in ("solo", "dual") if repeat % 2 == 0 else ("dual", "solo"):
                big[name].append(store.insert_batch(name, batch).seconds)
        key = 10_000_000
        for _ in range(SMALL_CALLS // 50):
            for name in ("solo", "dual"):
                for _ in range(50):
                    row = {"user_id": [key]} | {f"f{i:02d}": [0.5] for i in range(FEATURES)}
                    started = time.perf_counter()
                    store.insert_batch(name, row, timestamp=t)
                    small[name].append(time.perf_counter() - started)
                    key += 1
    return {
        "batch_rows": BATCH, "batch_repeats": BATCH_REPEATS,
        "batch_s_no_staged": round(median(big["solo"]), 3), "batch_s_one_staged": round(median(big["dual"]), 3),
        "ratio_batch": round(median(big["dual"]) / median(big["solo"]), 2),
        "one_row_calls": SMALL_CALLS,
        "one_row_p50_ms_no_staged": round(statistics.median(small["solo"]) * 1000, 2),
        "one_row_p50_ms_one_staged": round(statistics.median(small["dual"]) * 1000, 2),
        "ratio_one_row_p50": round(statistics.median(small["dual"]) / statistics.median(small["solo"]), 2),
    }


def main() -> None:
    with server() as admin:
        with fresh_database(admin) as dsn:
            result = {"backfill": backfill_vs_ingest(dsn)}
        with fresh_database(admin) as dsn:
            result["dual_writes"] = dual_write_cost(dsn)
    save("rollout", result)
