"""[F4] Point-in-time training sets: fspg against DuckDB's ASOF JOIN, same run.

3 feature views (5 float8 features each) of 100,000 entities with 10,000,000 history rows
in all (5M + 3M + 2M); a spine of 1,000,000 rows (entity, timestamp, label). fspg:
``get_training_set`` to Arrow (spine upload, the join in PostgreSQL, the result streamed
back). DuckDB: the same three tables and spine already loaded in an in-process DuckDB,
``ASOF LEFT JOIN`` per view, result in spine order, to Arrow. Both results are checked
equal. Also: client peak memory against the result's Arrow size, and how fspg's time
grows with spine size (100k, 1M) and history size (1M, 10M).
"""
from __future__ import annotations

import sys

import numpy as np
import psycopg
import pyarrow as pa

from bench.common import fresh_database, median, run_probe, save, server, timed
from fspg import FeatureStore

ENTITIES = 100_000
VIEW_SHARES = {"clicks": 0.5, "orders": 0.3, "profile": 0.2}
FEATURES = 5
HISTORY_DAYS = 60
REPEATS = 3


def definitions() -> dict:
    # No TTL: DuckDB's ASOF JOIN has none, and the two results must be equal.
    return {
        "entities": [{"name": "user", "keys": {"user_id": "bigint"}}],
        "feature_views": [{"name": view, "entity": "user", "partition": "month",
                           "features": [{"name": f"{view}_f{i}", "dtype": "float8"} for i in range(FEATURES)]}
                          for view in VIEW_SHARES],
    }


def history(view: str, rows: int, seed: int) -> pa.Table:
    """`rows` events of ENTITIES users over HISTORY_DAYS, at most one per user and second."""
    rng = np.random.default_rng(seed)
    per_entity = rows // ENTITIES
    start = np.datetime64("2026-08-01T00:00:00", "us")
    slot = np.int64(HISTORY_DAYS * 86_400 // per_entity)  # seconds per event slot: distinct times per entity
    keys = np.repeat(np.arange(ENTITIES, dtype=np.int64), per_entity)
    k = np.tile(np.arange(per_entity, dtype=np.int64), ENTITIES)
    seconds = k * slot + rng.integers(0, slot, keys.size)
    columns = {"user_id": pa.array(keys),
               "event_ts": pa.array(start + seconds.astype("timedelta64[s]"), pa.timestamp("us", tz="UTC"))}
    for i in range(FEATURES):
        columns[f"{view}_f{i}"] = pa.array(rng.random(keys.size))
    return pa.table(columns)


def spine(rows: int, seed: int = 5) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-08-01T00:00:00", "us")
    seconds = rng.integers(0, (HISTORY_DAYS + 5) * 86_400, rows)
    return pa.table({"user_id": pa.array(rng.integers(0, ENTITIES, rows, dtype=np.int64)),
                     "event_ts": pa.array(start + seconds.astype("timedelta64[s]"), pa.timestamp("us", tz="UTC")),
                     "label": pa.array(rng.integers(0, 2, rows, dtype=np.int64))})


def load(dsn: str, total_rows: int) -> dict[str, pa.Table]:
    """Create the views and ingest their history through insert_batch; returns the tables."""
    tables = {view: history(view, int(total_rows * share), seed=i) for i, (view, share) in enumerate(VIEW_SHARES.items())}
    with FeatureStore(dsn) as store:
        store.apply(definitions())
        for view, table in tables.items():
            store.insert_batch(view, table)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return tables


def refs() -> list[str]:
    return [f"{view}.*" for view in VIEW_SHARES]


def duckdb_join(tables: dict[str, pa.Table], spine_table: pa.Table):
    """A DuckDB connection with the tables loaded, and the function running the ASOF join."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for view, table in tables.items():
        con.register("src", table)
        con.execute(f"CREATE TABLE {view} AS SELECT * FROM src")
        con.unregister("src")
    ordered = spine_table.append_column("ord", pa.array(np.arange(spine_table.num_rows, dtype=np.int64)))
    con.register("src", ordered)
    con.execute("CREATE TABLE spine AS SELECT * FROM src")
    con.unregister("src")
    select = ", ".join(f"{view}.{view}_f{i}" for view in VIEW_SHARES for i in range(FEATURES))
    joins = " ".join(f"ASOF LEFT JOIN {view} ON s.user_id = {view}.user_id AND s.event_ts >= {view}.event_ts"
                     for view in VIEW_SHARES)
    query = f"SELECT s.user_id, s.event_ts, s.label, {select} FROM spine s {joins} ORDER BY s.ord"
    return con, lambda: con.sql(query).to_arrow_table()


MEMORY_PROBE = """
import json, sys
from bench.common import peak_rss_during
from bench.training import spine, refs
from fspg import FeatureStore

spine_table = spine(%(rows)d)
with FeatureStore(sys.argv[1]) as store:
    store.list_feature_views()  # connect and import everything before the baseline
    before, peak, result = peak_rss_during(lambda: store.get_training_set(spine_table, refs()))
print(json.dumps({"result_bytes": result.nbytes, "spine_bytes": spine_table.nbytes, "rss_before": before, "peak_rss": peak}))
"""


def client_memory(dsn: str, rows: int) -> dict:
    """Peak RSS of a fresh process building a training set, against the result's Arrow size."""
    m = run_probe(MEMORY_PROBE % {"rows": rows}, dsn)
    return {
        "result_arrow_mb": round(m["result_bytes"] / 2**20, 1),
        "spine_arrow_mb": round(m["spine_bytes"] / 2**20, 1),
        "rss_before_mb": round(m["rss_before"] / 2**20, 1),
        "peak_rss_mb": round(m["peak_rss"] / 2**20, 1),
        "extra_over_result": round((m["peak_rss"] - m["rss_before"]) / m["result_bytes"], 2),
        "target_extra_over_result": 2.0,
    }


def compare(store: FeatureStore, tables: dict[str, pa.Table], spine_table: pa.Table) -> dict:
    """fspg and DuckDB side by side on one spine: medians of REPEATS, results checked equal."""
    con, run_duckdb = duckdb_join(tables, spine_table)
    fspg_s, duck_s = [], []
    for _ in range(REPEATS):
        duck_s.append(timed(run_duckdb))
        fspg_s.append(timed(lambda: store.get_training_set(spine_table, refs())))
    ours = store.get_training_set(spine_table, refs())
    theirs = run_duckdb()
    con.close()
    for name in theirs.column_names:
        assert ours.column(name).to_pylist() == theirs.column(name).to_pylist(), name
    return {"fspg_seconds_median": round(median(fspg_s), 2), "duckdb_seconds_median": round(median(duck_s), 2),
            "fspg_over_duckdb": round(median(fspg_s) / median(duck_s), 2),
            "fspg_seconds": [round(x, 2) for x in fspg_s], "duckdb_seconds": [round(x, 2) for x in duck_s]}


def main(history_rows: int = 10_000_000, spine_rows: int = 1_000_000, small_history: int = 1_000_000,
         small_spine: int = 100_000) -> None:
    result: dict = {"entities": ENTITIES, "views": len(VIEW_SHARES), "features_per_view": FEATURES,
                    "repeats": REPEATS, "target_fspg_over_duckdb": 2.0}
    with server() as admin:
        for label, rows in (("history_10m", history_rows), ("history_1m", small_history)):
            with fresh_database(admin) as dsn:
                tables = load(dsn, rows)
                with FeatureStore(dsn) as store:
                    for spine_label, n in (("spine_1m", spine_rows), ("spine_100k", small_spine)):
                        if label == "history_1m" and spine_label == "spine_100k":
                            continue
                        figures = compare(store, tables, spine(n))
                        result[f"{label}__{spine_label}"] = {"history_rows": sum(t.num_rows for t in tables.values()),
                                                             "spine_rows": n, **figures}
                        print(label, spine_label, figures, flush=True)
                if label == "history_10m":
                    result["memory"] = client_memory(dsn, spine_rows)
    save("training", result)


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:]])
