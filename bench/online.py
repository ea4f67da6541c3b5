"""[F3] Online serving, fspg against the raw-SQL limit on the same server.

1. single-entity lookups through a feature service's prepared statement vs a raw
   prepared SELECT by primary key on a plain table with the same columns (1M entities x
   20 float8): lookups/s ratio, p50/p99 latency; also through get_online_features;
2. batch lookups of 1,000 keys: the service vs the raw `= ANY` query;
3. a 3-view feature service vs three raw primary-key queries (one round trip vs three);
4. ingest with online maintenance vs history only (the sync trigger disabled);
5. replica lag under a sustained 20,000 rows/s ingest: commit-to-visible on the replica;
6. single-key lookup latency at 1M and 10M online rows.
"""
from __future__ import annotations

import datetime as dt
import random
import statistics
import threading
import time

import psycopg

from bench.common import OUT, fresh_database, median, save, server
from fspg import FeatureStore

ENTITIES = 1_000_000
FEATURES = 20
SINGLE_LOOKUPS = 5_000
BATCHES = 200
BATCH_KEYS = 1_000
INGEST_ROWS = 1_000_000
LAG_SECONDS = 20
LAG_RATE = 20_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def definitions() -> dict:
    features = [{"name": f"f{i:02d}", "dtype": "float8"} for i in range(FEATURES)]
    return {
        "entities": [{"name": "user", "keys": {"user_id": "bigint"}}, {"name": "merchant", "keys": {"merchant_id": "bigint"}}],
        "feature_views": [
            {"name": "users", "entity": "user", "ttl": "30 days", "features": features},
            {"name": "merchants", "entity": "merchant", "ttl": "30 days",
             "features": [{"name": f"m{i:02d}", "dtype": "float8"} for i in range(5)]},
            {"name": "rates", "ttl": "30 days", "features": [{"name": "eur_usd", "dtype": "float8"}]},
        ],
        "feature_services": [
            {"name": "one_view", "features": ["users.*"]},
            {"name": "three_views", "features": ["users.*", "merchants.*", "rates.*"]},
        ],
    }


def populate(store: FeatureStore) -> None:
    from bench.common import feature_table

    users = feature_table(ENTITIES, FEATURES, days=1)
    store.insert_batch("users", users)
    merchants = feature_table(100_000, 5, key="merchant_id", days=1).rename_columns(
        ["merchant_id", "event_ts"] + [f"m{i:02d}" for i in range(5)])
    store.insert_batch("merchants", merchants)
    store.insert_batch("rates", {"eur_usd": [1.08]}, timestamp=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))


def time_calls(conn: psycopg.Connection, query: str, params_list: list) -> list[float]:
    out = []
    for params in params_list:
        start = time.perf_counter()
        conn.execute(query, params, prepare=True).fetchall()
        out.append(time.perf_counter() - start)
    return out


def lookup_stats(fspg_times: list[float], raw_times: list[float]) -> dict:
    return {
        "fspg_lookups_per_s": round(len(fspg_times) / sum(fspg_times)),
        "raw_lookups_per_s": round(len(raw_times) / sum(raw_times)),
        "ratio": round(sum(raw_times) / sum(fspg_times), 3),
        "fspg_p50_ms": round(percentile(fspg_times, 0.5) * 1000, 3), "fspg_p99_ms": round(percentile(fspg_times, 0.99) * 1000, 3),
        "raw_p50_ms": round(percentile(raw_times, 0.5) * 1000, 3), "raw_p99_ms": round(percentile(raw_times, 0.99) * 1000, 3),
    }


def lookups(dsn: str) -> dict:
    rng = random.Random(1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # as a serving app should (README): generic plans for prepared lookups, both sides
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute("CREATE TABLE plain AS SELECT * FROM fs_online.users__v1")
        conn.execute("ALTER TABLE plain ADD PRIMARY KEY (user_id)")
        conn.execute("CREATE TABLE plain_m AS SELECT * FROM fs_online.merchants__v1")
        conn.execute("ALTER TABLE plain_m ADD PRIMARY KEY (merchant_id)")
        conn.execute("CREATE TABLE plain_r AS SELECT * FROM fs_online.rates__v1")
        conn.execute("VACUUM ANALYZE")
        keys = [rng.randrange(ENTITIES) for _ in range(SINGLE_LOOKUPS)]
        merchants = [rng.randrange(100_000) for _ in range(SINGLE_LOOKUPS)]
        single_fspg_q = "SELECT * FROM fs_serving.one_view(%s::bigint)"  # the one-entity form
        single_raw_q = "SELECT * FROM plain WHERE user_id = %s"
        # warm both, then alternate blocks so drift on a shared machine hits both alike
        time_calls(conn, single_fspg_q, [[k] for k in keys[:500]])
        time_calls(conn, single_raw_q, [[k] for k in keys[:500]])
        fspg_t, raw_t = [], []
        for block in range(0, SINGLE_LOOKUPS, 500):
            fspg_t += time_calls(conn, single_fspg_q, [[k] for k in keys[block:block + 500]])
            raw_t += time_calls(conn, single_raw_q, [[k] for k in keys[block:block + 500]])
        result = {"single": lookup_stats(fspg_t, raw_t)}

        batches = [[rng.randrange(ENTITIES) for _ in range(BATCH_KEYS)] for _ in range(BATCHES)]
        batch_fspg_q = "SELECT * FROM fs_serving.one_view(%s::bigint[])"
        batch_raw_q = "SELECT * FROM plain WHERE user_id = ANY(%s)"
        fspg_t, raw_t = [], []
        for block in range(0, BATCHES, 20):
            fspg_t += time_calls(conn, batch_fspg_q, [[b] for b in batches[block:block + 20]])
            raw_t += time_calls(conn, batch_raw_q, [[b] for b in batches[block:block + 20]])
        result["batch_1000"] = lookup_stats(fspg_t, raw_t)

        three_q = "SELECT * FROM fs_serving.three_views(%s::bigint, %s::bigint)"
        fspg_t, raw_t = [], []
        raw_queries = ["SELECT * FROM plain WHERE user_id = %s", "SELECT * FROM plain_m WHERE merchant_id = %s",
                       "SELECT * FROM plain_r"]
        for block in range(0, SINGLE_LOOKUPS, 500):
            fspg_t += time_calls(conn, three_q, [[k, m] for k, m in zip(keys[block:block + 500], merchants[block:block + 500])])
            for k, m in zip(keys[block:block + 500], merchants[block:block + 500]):
                start = time.perf_counter()
                conn.execute(raw_queries[0], [k], prepare=True).fetchall()
                conn.execute(raw_queries[1], [m], prepare=True).fetchall()
                conn.execute(raw_queries[2], prepare=True).fetchall()
                raw_t.append(time.perf_counter() - start)
        result["three_views_vs_three_queries"] = lookup_stats(fspg_t, raw_t)

    with FeatureStore(dsn) as store:
        store.get_online_features(service="one_view", entities=[1])
        api_t = []
        for k in keys[:2000]:
            start = time.perf_counter()
            store.get_online_features(service="one_view", entities=[k])
            api_t.append(time.perf_counter() - start)
    result["python_api_single"] = {"lookups_per_s": round(len(api_t) / sum(api_t)),
                                   "p50_ms": round(percentile(api_t, 0.5) * 1000, 3),
                                   "p99_ms": round(percentile(api_t, 0.99) * 1000, 3)}
    return result


def ingest_price(dsn: str) -> dict:
    from bench.common import bench_definitions, feature_table

    table = feature_table(INGEST_ROWS, FEATURES, seed=5)
    with_sync, without = [], []
    with FeatureStore(dsn) as store:
        for i in range(3):
            for sync in (True, False):
                name = f"price_{i}_{int(sync)}"
                doc = bench_definitions(name, FEATURES, rules=False)
                doc["entities"][0]["name"] = "bench_entity2"
                doc["feature_views"][0]["entity"] = "bench_entity2"
                store.apply(doc)
                if not sync:
                    with psycopg.connect(dsn, autocommit=True) as conn:
                        conn.execute(f"ALTER TABLE fs_offline.{name}__v1 DISABLE TRIGGER sync_online")
                result = store.insert_batch(name, table)
                (with_sync if sync else without).append(result.seconds)
    return {"rows": INGEST_ROWS, "features": FEATURES, "repeats": 3,
            "with_online_seconds_median": round(median(with_sync), 3),
            "history_only_seconds_median": round(median(without), 3),
            "ratio": round(median(without) / median(with_sync), 3), "target_ratio": 0.6}


def replica_lag(admin_dsn: str, dsn: str) -> dict:
    from bench.common import feature_table
    from fspg import replicas
    from fspg.server import EmbeddedServer

    replica_server = EmbeddedServer(OUT / "replica-home")
    info = replica_server.up()
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(info.dsn_for("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    replica_dsn = info.dsn_for(name)
    try:
        replicas.add(dsn, replica_dsn, "bench")
        with psycopg.connect(replica_dsn, autocommit=True) as rconn:  # wait for the initial copy
            deadline = time.monotonic() + 600
            while rconn.execute("SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'").fetchone()[0]:
                if time.monotonic() > deadline:
                    raise RuntimeError("initial copy did not finish")
                time.sleep(0.5)
        stop = threading.Event()
        sent = [0]
        batch_rows = 2_000

        def load() -> None:
            rng = random.Random(9)
            with FeatureStore(dsn) as store:
                start = time.monotonic()
                while not stop.is_set():
                    table = feature_table(batch_rows, FEATURES, seed=rng.randrange(10**6), days=1)
                    store.insert_batch("users", table)
                    sent[0] += batch_rows
                    ahead = sent[0] / LAG_RATE - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)

        loader = threading.Thread(target=load)
        loader.start()
        lags = []
        started = time.monotonic()
        with FeatureStore(dsn) as store, psycopg.connect(replica_dsn, autocommit=True) as rconn:
            marker = 0
            while time.monotonic() - started < LAG_SECONDS:
                marker += 1
                value = float(marker) / 1e6
                store.insert_batch("rates", {"eur_usd": [value]}, timestamp=dt.datetime.now(dt.timezone.utc))
                committed = time.perf_counter()
                while rconn.execute("SELECT eur_usd FROM fs_online.rates__v1").fetchone()[0] != value:
                    time.sleep(0.002)
                lags.append(time.perf_counter() - committed)
                time.sleep(0.2)
        stop.set()
        loader.join()
        elapsed = time.monotonic() - started
        return {"target_rows_per_s": LAG_RATE, "achieved_rows_per_s": round(sent[0] / elapsed),
                "seconds": LAG_SECONDS, "samples": len(lags),
                "lag_p50_s": round(percentile(lags, 0.5), 3), "lag_p99_s": round(percentile(lags, 0.99), 3)}
    finally:
        try:
            replicas.remove(dsn, "bench")
        finally:
            replica_server.destroy()


def latency_at_scale(dsn: str) -> dict:
    """Single-key lookups through a service on 1M and 10M online rows (5 float8 features;
    rows written straight into the online tables, which is what lookups read; both tables
    prewarmed, the bench server has shared_buffers = 2GB). Blocks of lookups alternate
    between the two sizes, so noise on the shared machine hits both alike."""
    rng = random.Random(4)
    sizes = {"1M": 1_000_000, "10M": 10_000_000}
    with FeatureStore(dsn) as store, psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for label, size in sizes.items():
            name = f"scale_{label.lower()}"
            store.apply({"entities": [{"name": "scale_entity", "keys": {"entity_id": "bigint"}}],
                         "feature_views": [{"name": name, "entity": "scale_entity",
                                            "features": [{"name": f"s{i}", "dtype": "float8"} for i in range(5)]}],
                         "feature_services": [{"name": f"{name}_svc", "features": [f"{name}.*"]}]})
            conn.execute(f"INSERT INTO fs_online.{name}__v1 SELECT g, now(), now(), random(), random(), random(), random(), random()"
                         f" FROM generate_series(1, {size}) g")
            conn.execute(f"VACUUM ANALYZE fs_online.{name}__v1")
        times: dict[str, list[float]] = {label: [] for label in sizes}
        for label, size in sizes.items():  # a serving table is hot: table and key index in shared buffers
            name = f"scale_{label.lower()}"
            conn.execute(f"SELECT pg_prewarm('fs_online.{name}__v1'), pg_prewarm('fs_online.{name}__v1_pkey')")
            time_calls(conn, f"SELECT * FROM fs_serving.{name}_svc(%s::bigint)", [[rng.randrange(1, size)] for _ in range(500)])
        for _ in range(SINGLE_LOOKUPS // 500):
            for label, size in sizes.items():
                q = f"SELECT * FROM fs_serving.scale_{label.lower()}_svc(%s::bigint)"
                times[label] += time_calls(conn, q, [[rng.randrange(1, size)] for _ in range(500)])
    out = {label: {"p50_ms": round(percentile(t, 0.5) * 1000, 3), "p99_ms": round(percentile(t, 0.99) * 1000, 3),
                   "mean_ms": round(statistics.mean(t) * 1000, 3)} for label, t in times.items()}
    out["p50_ratio_10M_to_1M"] = round(out["10M"]["p50_ms"] / out["1M"]["p50_ms"], 3)
    out["target"] = "flat within 20% (ratio <= 1.2)"
    return out


def main() -> None:
    """Run the six measurements and save bench/out/online.json."""
    with server() as admin, fresh_database(admin) as dsn:
        with psycopg.connect(dsn) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        with FeatureStore(dsn) as store:
            store.apply(definitions())
            populate(store)
        result = {"server": f"PostgreSQL {version}", "entities": ENTITIES, "features": FEATURES}
        result.update(lookups(dsn))
        result["ingest_with_online"] = ingest_price(dsn)
        result["replica_lag"] = replica_lag(admin, dsn)
        result["latency_at_scale"] = latency_at_scale(dsn)
    save("online", result)


if __name__ == "__main__":
    main()
