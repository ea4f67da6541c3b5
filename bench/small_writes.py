"""[F7 §6] Small writes: a 1-row dict insert_batch against the raw-SQL limit.

fspg: ``insert_batch(view, {"user_id": [i], "n": [i], "x": [1.0]}, timestamp=T)`` (Python
ints for an int feature, validated, logged, online kept current). Baseline: a prepared
single-row INSERT into the same history table (its constraints and online trigger fire
too) on an autocommit connection. Interleaved blocks of 50, medians and p99.
"""
from __future__ import annotations

import datetime as dt
import statistics
import time

import psycopg

from bench.common import fresh_database, save, server
from fspg import FeatureStore

CALLS = 1_000
BLOCK = 50
T = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


def _quantiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3), "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 3),
            "per_s": round(len(ordered) / sum(ordered))}


def small_writes(dsn: str) -> dict:
    fspg_s, raw_s, paths = [], [], set()
    with FeatureStore(dsn) as store, psycopg.connect(dsn, autocommit=True) as conn:
        store.apply({"entities": [{"name": "user", "keys": {"user_id": "bigint"}}],
                     "feature_views": [{"name": "small", "entity": "user",
                                        "features": [{"name": "n", "dtype": "int"}, {"name": "x", "dtype": "float8",
                                                                                    "rules": {"min": 0}}]}]})
        store.insert_batch("small", {"user_id": [0], "n": [0], "x": [0.0]}, timestamp=T)  # partitions, plans
        key = 1
        for _ in range(CALLS // BLOCK):
            for _ in range(BLOCK):
                started = time.perf_counter()
                result = store.insert_batch("small", {"user_id": [key], "n": [key], "x": [1.0]}, timestamp=T)
                fspg_s.append(time.perf_counter() - started)
                paths.add(result.path)
                key += 1
            for _ in range(BLOCK):
                started = time.perf_counter()
                conn.execute("INSERT INTO fs_offline.small__v1 (user_id, event_ts, n, x) VALUES (%s, %s, %s, %s)",
                             [key, T, key, 1.0], prepare=True)
                raw_s.append(time.perf_counter() - started)
                key += 1
    fspg, raw = _quantiles(fspg_s), _quantiles(raw_s)
    return {"calls": CALLS, "fspg_paths": sorted(paths), "fspg": fspg, "raw_insert": raw,
            "ratio_p50_raw_to_fspg": round(raw["p50_ms"] / fspg["p50_ms"], 3), "target_p50_ms": 5, "target_per_s": 1000}


def main() -> None:
    with server() as admin, fresh_database(admin) as dsn:
        result = {"small_writes": small_writes(dsn)}
    save("small_writes", result)


if __name__ == "__main__":
    main()
