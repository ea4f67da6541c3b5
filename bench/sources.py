"""[F5] Sources: materializing a SQL-defined view, and CDC latency.

1. Materialize 1,000,000 rows (bigint key + event_ts + 5 float8 features, min/max rules)
   from a SQL-defined view over a local table vs running the same query as a plain
   ``INSERT … SELECT`` into an unconstrained, unpartitioned table; medians of 3, side by
   side, each into a fresh version/table.
2. CDC end to end: a source server committing 5,000 row changes/s (50-row transactions
   every 10 ms) for 30 s; every 100 ms a probe row is committed and the client times how
   long until it is served from fs_online on the feature store; p50/p99, and how long the
   store needs to catch up when the source stops (whether it keeps up).
"""
from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import threading
import time

import psycopg

from bench.common import fresh_database, median, save, server, timed
from fspg import FeatureStore, cdc
from fspg.server import EmbeddedServer

ROWS = 1_000_000
FEATURES = 5
REPEATS = 3
CDC_RATE = 5_000
CDC_SECONDS = 30
T0 = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)


def source_table(conn: psycopg.Connection) -> None:
    features = ", ".join(f"random() AS f{i}" for i in range(FEATURES))
    conn.execute(f"CREATE TABLE public.bench_source AS SELECT (i %% 100000)::bigint AS user_id,"
                 f" %s::timestamptz + i * interval '2 seconds' AS event_ts, {features} FROM generate_series(1, {ROWS}) i",
                 [T0])
    conn.execute("ANALYZE public.bench_source")
    # Source queries run as fs_source: the DBA grants it what they read.
    conn.execute("GRANT SELECT ON public.bench_source TO fs_source")


def view(name: str) -> dict:
    return {"entities": [{"name": "user", "keys": {"user_id": "bigint"}}],
            "feature_views": [{"name": name, "entity": "user", "ttl": "90 days",
                               "source": {"query": "SELECT * FROM public.bench_source"},
                               "features": [{"name": f"f{i}", "dtype": "float8", "rules": {"min": 0, "max": 1}}
                                            for i in range(FEATURES)]}]}


def materialize_speed(dsn: str) -> dict:
    end = T0 + dt.timedelta(seconds=2 * ROWS + 1)
    columns = ", ".join(f"f{i} float8" for i in range(FEATURES))
    fspg_s, raw_s = [], []
    with FeatureStore(dsn) as store, psycopg.connect(dsn, autocommit=True) as conn:
        source_table(conn)
        for run in range(REPEATS):
            conn.execute(f"CREATE TABLE plain_{run} (user_id bigint, event_ts timestamptz, {columns})")
            raw_s.append(timed(lambda: conn.execute(
                f"INSERT INTO plain_{run} SELECT * FROM (SELECT * FROM public.bench_source) q"
                " WHERE q.event_ts >= %s AND q.event_ts < %s", [T0, end])))
            store.apply(view(f"sourced_{run}"))
            result = []
            fspg_s.append(timed(lambda: result.extend(store.materialize(f"sourced_{run}", T0, end))))
            assert result[0]["inserted"] == ROWS, result
    return {"rows": ROWS, "features": FEATURES, "repeats": REPEATS,
            "fspg_seconds_median": round(median(fspg_s), 2), "insert_select_seconds_median": round(median(raw_s), 2),
            "ratio_fspg_to_raw": round(median(raw_s) / median(fspg_s), 3), "target_ratio": 0.5,
            "fspg_seconds": [round(x, 2) for x in fspg_s], "raw_seconds": [round(x, 2) for x in raw_s]}


def cdc_latency(store_dsn: str) -> dict:
    home = tempfile.mkdtemp(prefix="fspg-bench-source-")
    source = EmbeddedServer(home)
    source_dsn = source.up().dsn_for("postgres")
    try:
        with psycopg.connect(source_dsn, autocommit=True) as app:
            app.execute("DROP TABLE IF EXISTS orders")
            app.execute("CREATE TABLE orders (order_id bigint PRIMARY KEY, total float8, changed_at timestamptz)")
        with FeatureStore(store_dsn) as store:
            store.apply({"entities": [{"name": "order", "keys": {"order_id": "bigint"}}],
                         "feature_views": [{"name": "orders", "entity": "order",
                                            "features": [{"name": "total", "dtype": "float8", "rules": {"min": 0}}]}]})
        cdc.add(store_dsn, "bench", source_dsn, "public.orders", "orders", event_time="changed_at")
        stop = threading.Event()
        written = [0]

        def load() -> None:
            batch = CDC_RATE // 100
            with psycopg.connect(source_dsn, autocommit=True) as app:
                next_id, tick = 1, time.perf_counter()
                while not stop.is_set():
                    app.execute("INSERT INTO orders SELECT g, random(), clock_timestamp() FROM generate_series(%s::bigint, %s::bigint) g",
                                [next_id, next_id + batch - 1])
                    next_id += batch
                    written[0] += batch
                    tick += 0.01
                    time.sleep(max(0.0, tick - time.perf_counter()))

        latencies = []
        writer = threading.Thread(target=load)
        writer.start()
        started = time.perf_counter()
        with psycopg.connect(source_dsn, autocommit=True) as app, psycopg.connect(store_dsn, autocommit=True) as fs:
            probe = -1
            while time.perf_counter() - started < CDC_SECONDS:
                app.execute("INSERT INTO orders VALUES (%s, 1, clock_timestamp())", [probe])
                committed = time.perf_counter()
                while not fs.execute("SELECT 1 FROM fs_online.orders__v1 WHERE order_id = %s", [probe]).fetchone():
                    time.sleep(0.001)
                latencies.append(time.perf_counter() - committed)
                probe -= 1
                time.sleep(0.1)
        stop.set()
        writer.join()
        elapsed = time.perf_counter() - started
        stopped = time.perf_counter()
        with psycopg.connect(store_dsn, autocommit=True) as fs:
            target = written[0] + len(latencies)
            while fs.execute("SELECT count(*) FROM fs_online.orders__v1").fetchone()[0] < target:
                time.sleep(0.05)
        catch_up = time.perf_counter() - stopped
        cdc.remove(store_dsn, "bench")
    finally:
        source.destroy()
    ordered = sorted(latencies)
    return {"source_rows_per_s": round(written[0] / elapsed), "seconds": CDC_SECONDS, "probes": len(latencies),
            "p50_s": round(statistics.median(ordered), 3), "p99_s": round(ordered[int(0.99 * (len(ordered) - 1))], 3),
            "max_s": round(ordered[-1], 3), "catch_up_after_stop_s": round(catch_up, 2), "target_p99_s": 2.0}


def main() -> None:
    result: dict = {}
    with server() as admin:
        with fresh_database(admin) as dsn:
            result["materialize"] = materialize_speed(dsn)
            print(result["materialize"], flush=True)
        with fresh_database(admin) as dsn:
            result["cdc"] = cdc_latency(dsn)
            print(result["cdc"], flush=True)
    save("sources", result)


if __name__ == "__main__":
    main()
