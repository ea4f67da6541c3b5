"""[F2] Ingest and load_batch, fspg against the raw-SQL limit on the same server.

1. insert_batch of 1,000,000 rows x (1 bigint key + 20 float8 features, rules min/max on
   each) from an Arrow table, vs raw binary COPY of the same Arrow data into an
   unconstrained, unpartitioned table (the same pgpq encoder and psycopg COPY writer).
2. The client's peak memory during insert_batch against the Arrow table's size.
3. load_batch of 100,000 entities at a timestamp (1,000,000 history rows) vs the
   hand-written DISTINCT ON query, both read to Arrow through the same ADBC driver.
"""
from __future__ import annotations

import datetime as dt

import psycopg
from pgpq import ArrowToPostgresBinaryEncoder

from bench.common import bench_definitions, feature_table, fresh_database, median, run_probe, save, server, timed
from fspg import FeatureStore
from fspg.arrow_pool import ArrowPool
from fspg.offline import read_arrow

ROWS = 1_000_000
FEATURES = 20
REPEATS = 3
LOAD_ENTITIES = 100_000
LOAD_REPEATS = 5


def raw_copy(dsn: str, table, name: str) -> None:
    """Binary COPY of the Arrow table into a fresh unconstrained, unpartitioned table."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        encoder = ArrowToPostgresBinaryEncoder(table.schema)
        ddl = ", ".join(f'"{c.name}" {c.data_type.ddl()}' for c in encoder.schema().columns)
        conn.execute(f"CREATE TABLE {name} ({ddl})")
        with conn.cursor().copy(f"COPY {name} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(encoder.write_header())
            for batch in table.to_batches(max_chunksize=65_536):
                copy.write(encoder.write_batch(batch))
            copy.write(encoder.finish())


def ingest_throughput(dsn: str) -> dict:
    table = feature_table(ROWS, FEATURES)
    fspg_s, raw_s, paths = [], [], []
    with FeatureStore(dsn) as store:
        for i in range(REPEATS):
            store.apply(bench_definitions(f"ingest_{i}", FEATURES))
            raw_s.append(timed(lambda: raw_copy(dsn, table, f"raw_{i}")))
            result = store.insert_batch(f"ingest_{i}", table)
            assert result.inserted == ROWS and result.quarantined == 0, result
            fspg_s.append(result.seconds)
            paths.append(result.path)
    return {
        "rows": ROWS, "features": FEATURES, "repeats": REPEATS, "fspg_path": paths[0],
        "fspg_seconds_median": round(median(fspg_s), 3), "raw_copy_seconds_median": round(median(raw_s), 3),
        "fspg_rows_per_s": round(ROWS / median(fspg_s)), "raw_copy_rows_per_s": round(ROWS / median(raw_s)),
        "ratio_fspg_to_raw": round(median(raw_s) / median(fspg_s), 3), "target_ratio": 0.5,
        "fspg_seconds": [round(x, 3) for x in fspg_s], "raw_seconds": [round(x, 3) for x in raw_s],
    }


MEMORY_PROBE = """
import gc, json, sys
from bench.common import bench_definitions, feature_table, peak_rss_during
from fspg import FeatureStore

table = feature_table(%(rows)d, %(features)d, seed=11)
gc.collect()
with FeatureStore(sys.argv[1]) as store:
    store.apply(bench_definitions("memory_probe", %(features)d))
    store.list_feature_views()  # connect and import everything before the baseline
    before, peak, _ = peak_rss_during(lambda: store.insert_batch("memory_probe", table))
print(json.dumps({"table_bytes": table.nbytes, "rss_before": before, "peak_rss": peak}))
"""


def client_memory(dsn: str) -> dict:
    """Peak RSS of a fresh process while insert_batch runs, against the Arrow table's size."""
    m = run_probe(MEMORY_PROBE % {"rows": ROWS, "features": FEATURES}, dsn)
    return {
        "arrow_table_mb": round(m["table_bytes"] / 2**20, 1),
        "rss_before_ingest_mb": round(m["rss_before"] / 2**20, 1),
        "peak_rss_during_ingest_mb": round(m["peak_rss"] / 2**20, 1),
        "ingest_extra_mb": round((m["peak_rss"] - m["rss_before"]) / 2**20, 1),
        "peak_over_table": round(m["peak_rss"] / m["table_bytes"], 2),
        "target_peak_over_table": 2.0,
    }


def load_batch_speed(dsn: str) -> dict:
    history = feature_table(ROWS, FEATURES, entities=LOAD_ENTITIES, seed=3)
    with FeatureStore(dsn) as store:
        store.apply(bench_definitions("load_view", FEATURES))
        store.insert_batch("load_view", history)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE fs_offline.load_view__v1")
        at = dt.datetime.now(dt.timezone.utc)
        columns = ", ".join(f"f{i:02d}" for i in range(FEATURES))
        hand_written = (f"SELECT DISTINCT ON (user_id) user_id, event_ts, {columns} FROM fs_offline.load_view__v1"
                        f" WHERE event_ts <= '{at.isoformat()}' AND event_ts > '{at.isoformat()}'::timestamptz - interval '90 days'"
                        " ORDER BY user_id, event_ts DESC, created_ts DESC")
        fspg_s, raw_s = [], []
        for _ in range(LOAD_REPEATS):
            raw_s.append(timed(lambda: read_arrow(ArrowPool(), dsn, hand_written)))
            fspg_s.append(timed(lambda: store.load_batch("load_view", timestamp=at)))
        rows = store.load_batch("load_view", timestamp=at).num_rows
    assert rows == LOAD_ENTITIES, rows
    return {
        "history_rows": ROWS, "entities": LOAD_ENTITIES, "features": FEATURES, "repeats": LOAD_REPEATS,
        "fspg_seconds_median": round(median(fspg_s), 3), "distinct_on_seconds_median": round(median(raw_s), 3),
        "ratio_fspg_to_raw": round(median(raw_s) / median(fspg_s), 3), "target_ratio": 0.9,
    }


def main() -> None:
    """Run the three measurements on one server and save bench/out/ingest.json."""
    with server() as admin, fresh_database(admin) as dsn:
        with psycopg.connect(dsn) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        result = {"server": f"PostgreSQL {version}", "ingest": ingest_throughput(dsn)}
        result["memory"] = client_memory(dsn)
        result["load_batch"] = load_batch_speed(dsn)
    save("ingest", result)


if __name__ == "__main__":
    main()
