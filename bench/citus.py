"""[F10] fspg on one node against fspg on Citus (coordinator + 2 workers), same machine,
same data, same run.

Both stores live in one Citus cluster started for the benchmark (tests/citus_cluster.py):
the single-node store is a database on the coordinator's server without the extension.
Sizes: one view of 10 float8 features; ingest of 1,000,000 rows over 100,000 entities;
training sets with spines of 100,000 and 1,000,000 rows; load_batch of the 100,000
entities; lookups of 1 and 100 keys through the Python client (each call planned and
routed: Citus's custom plans on the cluster, the generic plan on one node), and the same
lookups on a plain replica fed by every worker (``fspg replica add``).
Skips, saying why, where Citus is not installed.
"""
from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from bench.common import feature_table, median, save, timed
from fspg import FeatureStore, migrate
from tests import citus_cluster

ROWS = 1_000_000
ENTITIES = 100_000
FEATURES = 10
REPEATS = 3
LOOKUPS = 2_000


def definitions() -> dict:
    """The view read from, and one empty view per timed ingest (same features)."""
    features = [{"name": f"f{i:02d}", "dtype": "float8", "rules": {"min": 0, "max": 1}} for i in range(FEATURES)]
    return {
        "entities": [{"name": "user", "keys": {"user_id": "bigint"}}],
        "feature_views": [{"name": name, "entity": "user", "ttl": "90 days", "features": features}
                          for name in ["activity"] + [f"ingest_{i}" for i in range(REPEATS)]],
        "feature_services": [{"name": "scoring", "features": ["activity.*"]}],
    }


def spine(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    now = np.datetime64("now", "us")
    return pa.table({"user_id": pa.array(rng.integers(0, ENTITIES, rows)),
                     "event_ts": pa.array(now - rng.integers(0, 20 * 86400, rows).astype("timedelta64[s]"),
                                          pa.timestamp("us", tz="UTC"))})


def lookups(store: FeatureStore, keys: int) -> dict:
    rng = random.Random(3)
    times = []
    for _ in range(LOOKUPS // keys if keys > 1 else LOOKUPS):
        ids = [rng.randrange(ENTITIES) for _ in range(keys)]
        start = time.perf_counter()
        store.get_online_features(service="scoring", entities={"user_id": ids}, as_dicts=True)
        times.append(time.perf_counter() - start)
    times.sort()
    return {"calls": len(times), "p50_ms": round(1000 * median(times), 3),
            "p99_ms": round(1000 * times[int(len(times) * 0.99) - 1], 3), "per_s": round(len(times) / sum(times))}


def measure(store: FeatureStore, data: pa.Table, label: str) -> dict:
    result: dict = {}
    ingest = [timed(lambda: store.insert_batch(f"ingest_{i}", data)) for i in range(REPEATS)]
    store.insert_batch("activity", data)
    result["ingest_1m_s"] = round(median(ingest), 2)
    for rows in (100_000, 1_000_000):
        s = spine(rows, rows)
        result[f"training_{rows // 1000}k_s"] = round(median([timed(lambda: store.get_training_set(s, ["activity.*"]))
                                                             for _ in range(REPEATS)]), 2)
    entities = {"user_id": list(range(ENTITIES))}
    result["load_batch_100k_s"] = round(median([timed(lambda: store.load_batch("activity", entities=entities))
                                                for _ in range(REPEATS)]), 2)
    store.get_online_features(service="scoring", entities={"user_id": [1]})  # statement built once
    result["lookup_1"] = lookups(store, 1)
    result["lookup_100"] = lookups(store, 100)
    print(label, result, flush=True)
    return result


def main() -> None:
    reason = citus_cluster.missing()
    if reason:
        print(f"citus: skipped: {reason}")
        return
    root = Path(tempfile.mkdtemp(prefix="fspg-bench-citus-"))
    cluster = citus_cluster.CitusCluster(root).up()
    try:
        dsns = {"single": cluster.plain_database("bench_single"), "citus": cluster.database("bench_citus")}
        stores = {}
        for name, dsn in dsns.items():
            migrate.upgrade(dsn)
            stores[name] = FeatureStore(dsn)
            stores[name].apply(definitions())
        stores["citus"].distribute(shard_count=8)
        data = feature_table(ROWS, FEATURES, entities=ENTITIES, days=20)
        figures = {name: measure(store, data, name) for name, store in stores.items()}
        # The lowest-latency path of a distributed store: a plain PostgreSQL replica fed by
        # every worker, looked up with the single-node statement.
        replica = cluster.plain_database("bench_replica")
        stores["citus"].add_replica(replica, name="bench")
        while not stores["citus"].replica_status()[0]["streaming"]:
            time.sleep(0.2)
        served = FeatureStore(dsns["citus"], replicas=[replica])
        served.get_online_features(service="scoring", entities={"user_id": [1]})
        figures["citus_replica"] = {"lookup_1": lookups(served, 1), "lookup_100": lookups(served, 100)}
        print("citus replica", figures["citus_replica"], flush=True)
        ratios = {key: round(figures["citus"][key] / figures["single"][key], 2)
                  for key in figures["single"] if key.endswith("_s")}
        for key in ("lookup_1", "lookup_100"):
            ratios[key + "_p50"] = round(figures["citus"][key]["p50_ms"] / figures["single"][key]["p50_ms"], 2)
            ratios[key + "_replica_p50"] = round(figures["citus_replica"][key]["p50_ms"] / figures["single"][key]["p50_ms"], 2)
        save("citus", {"sizes": {"rows": ROWS, "entities": ENTITIES, "features": FEATURES, "shards": 8, "workers": 2,
                                 "repeats": REPEATS},
                       **figures, "citus_over_single": ratios})
    finally:
        cluster.down()


if __name__ == "__main__":
    main()
