"""[F6] What least privilege costs, each boundary against the path without it, in one run.

1. The batch counts the history trigger now writes (fs.history_stats per batch id, from
   the transition table, so a batch's log is what reached history): COPY of 1,000,000
   rows x 20 float8 into a history table whose trigger writes them, vs the same table
   with the trigger doing the online upsert only (the F5 trigger), interleaved.
2. Source rows read as fs_source (fs.source_query_rows: RETURN QUERY EXECUTE in a
   function fs_source owns, the query's rows through a tuplestore) vs the query inlined
   into CREATE TEMP TABLE … AS (how F5 ran it, with the caller's rights): 1,000,000 rows x
   (key, event_ts, 5 float8).
3. An ad hoc online lookup's statement (fs.online_query): the working set as an array
   (F6) — its median call time, to show the price of the change is nil.
"""
from __future__ import annotations

import datetime as dt

import psycopg
from pgpq import ArrowToPostgresBinaryEncoder

from bench.common import bench_definitions, feature_table, fresh_database, median, save, server, timed
from fspg import FeatureStore

ROWS = 1_000_000
FEATURES = 20
SOURCE_FEATURES = 5
REPEATS = 3
LOOKUP_CALLS = 500
T0 = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)


def _copy_into(dsn: str, table, target: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET work_mem = '256MB'")
        encoder = ArrowToPostgresBinaryEncoder(table.schema)
        columns = ", ".join(f'"{name}"' for name in table.schema.names)
        with conn.cursor().copy(f"COPY fs_offline.{target} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(encoder.write_header())
            for batch in table.to_batches(max_chunksize=65_536):
                copy.write(encoder.write_batch(batch))
            copy.write(encoder.finish())
        conn.commit()


def trigger_counts(dsn: str) -> dict:
    table = feature_table(ROWS, FEATURES)
    counted_s, plain_s = [], []
    with FeatureStore(dsn) as store, psycopg.connect(dsn, autocommit=True) as conn:
        for run in range(REPEATS):
            for kind in ("counted", "plain"):
                name = f"{kind}_{run}"
                store.apply(bench_definitions(name, FEATURES))
                version_id = conn.execute("SELECT (fs.resolve_version(%s)).version_id", [name]).fetchone()[0]
                now = dt.datetime.now(dt.timezone.utc)  # feature_table's events: the last 20 days
                conn.execute("SELECT fs.ensure_partitions(%s, %s::timestamptz[])",
                             [version_id, [now - dt.timedelta(days=d) for d in range(0, 22)]])
                if kind == "plain":  # the trigger as F5 had it: the online upsert, no counts
                    conn.execute(f"""CREATE OR REPLACE FUNCTION fs.sync_online_v{version_id}() RETURNS trigger
                        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $b$
                        BEGIN {conn.execute("SELECT fs.online_upsert_sql(%s, 'new_rows')", [version_id]).fetchone()[0]};
                        RETURN NULL; END $b$""")
                seconds = timed(lambda: _copy_into(dsn, table, f"{name}__v1"))
                (counted_s if kind == "counted" else plain_s).append(seconds)
    return {"rows": ROWS, "features": FEATURES, "repeats": REPEATS,
            "with_counts_seconds_median": round(median(counted_s), 2), "without_seconds_median": round(median(plain_s), 2),
            "ratio_without_to_with": round(median(plain_s) / median(counted_s), 3),
            "with_counts_seconds": [round(x, 2) for x in counted_s], "without_seconds": [round(x, 2) for x in plain_s]}


def source_boundary(dsn: str) -> dict:
    features = ", ".join(f"random() AS f{i}" for i in range(SOURCE_FEATURES))
    query = "SELECT * FROM public.bench_source"
    end = T0 + dt.timedelta(seconds=2 * ROWS + 1)
    columns = "user_id bigint, event_ts timestamptz, " + ", ".join(f"f{i} double precision" for i in range(SOURCE_FEATURES))
    as_source, inline = [], []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE public.bench_source AS SELECT (i %% 100000)::bigint AS user_id,"
                     f" %s::timestamptz + i * interval '2 seconds' AS event_ts, {features} FROM generate_series(1, {ROWS}) i",
                     [T0])
        conn.execute("ANALYZE public.bench_source")
        conn.execute("GRANT SELECT ON public.bench_source TO fs_source")
        for run in range(REPEATS):
            as_source.append(timed(lambda: conn.execute(
                f"CREATE TEMP TABLE s_{run} AS SELECT q.*, row_number() OVER () AS fs_row"
                f" FROM fs.source_query_rows(%s, %s, %s) AS q({columns})", [query, T0, end])))
            inline.append(timed(lambda: conn.execute(
                f"CREATE TEMP TABLE i_{run} AS SELECT q.*, row_number() OVER () AS fs_row FROM ({query}) q"
                " WHERE q.event_ts >= %s AND q.event_ts < %s", [T0, end])))
    return {"rows": ROWS, "features": SOURCE_FEATURES, "repeats": REPEATS,
            "as_fs_source_seconds_median": round(median(as_source), 2), "inline_seconds_median": round(median(inline), 2),
            "ratio_inline_to_fs_source": round(median(inline) / median(as_source), 3),
            "as_fs_source_seconds": [round(x, 2) for x in as_source], "inline_seconds": [round(x, 2) for x in inline]}


def online_query_cost(dsn: str) -> dict:
    with FeatureStore(dsn) as store, psycopg.connect(dsn, autocommit=True) as conn:
        for name in ("a", "b", "c"):
            store.apply(bench_definitions(f"lookup_{name}", 5))
        refs = [f"lookup_{name}.*" for name in ("a", "b", "c")]
        calls = [timed(lambda: conn.execute("SELECT * FROM fs.online_query(%s)", [refs]).fetchall())
                 for _ in range(LOOKUP_CALLS)]
    return {"views": 3, "features": 15, "calls": LOOKUP_CALLS, "online_query_ms_median": round(median(calls) * 1000, 3)}


def main() -> None:
    result: dict = {}
    with server() as admin:
        with fresh_database(admin) as dsn:
            result["trigger_counts"] = trigger_counts(dsn)
            print(result["trigger_counts"], flush=True)
        with fresh_database(admin) as dsn:
            result["source_boundary"] = source_boundary(dsn)
            print(result["source_boundary"], flush=True)
        with fresh_database(admin) as dsn:
            result["online_query"] = online_query_cost(dsn)
            print(result["online_query"], flush=True)
    save("security", result)


if __name__ == "__main__":
    main()
