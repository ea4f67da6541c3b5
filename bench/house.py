"""[F8] The house: the restructuring must cost users nothing.

Side by side in one run, on one fresh database:

1. a 1-row dict ``insert_batch`` against a prepared single-row INSERT into the same history
   table (as in [F7]; the write path now names its statements through the registry and holds
   the view through ``fs.parse_ref``);
2. ``get_online_features`` for one entity (the Python client, statement built by
   ``fs.service_statement``) against the service's generated function called as a raw
   prepared statement on an autocommit connection;
3. the cost of the one name reader in SQL: ``fs.parse_ref`` against the ``split_part`` it
   replaced, 100,000 calls in one statement;
4. the CLI's start-up: ``fspg --help`` and ``fspg ls --json`` (commands by group, rich)
   against ``python -c pass``.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench.common import fresh_database, save, server
from bench.small_writes import small_writes
from fspg import FeatureStore

LOOKUPS = 2_000
BLOCK = 100
NAME_CALLS = 100_000
CLI_RUNS = 7


def _p50_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 3)


def lookup(dsn: str) -> dict:
    """get_online_features (one entity, a service) against its function as a raw prepared call."""
    with FeatureStore(dsn) as store, psycopg.connect(dsn, autocommit=True) as conn:
        store.apply({"entities": [{"name": "user", "keys": {"user_id": "bigint"}}],
                     "feature_views": [{"name": "profile", "entity": "user", "ttl": "30 days",
                                        "features": [{"name": f"f{i}", "dtype": "float8"} for i in range(5)]}],
                     "feature_services": [{"name": "scoring", "features": ["profile.*"]}]})
        store.insert_batch("profile", {"user_id": list(range(1, 10_001)),
                                       **{f"f{i}": [float(i)] * 10_000 for i in range(5)}}, timestamp="now")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        raw_sql = "SELECT * FROM fs_serving.scoring(%s::bigint)"
        fspg_s, raw_s = [], []
        for block in range(LOOKUPS // BLOCK):
            keys = range(1 + block * BLOCK, 1 + (block + 1) * BLOCK)
            for key in keys:
                started = time.perf_counter()
                store.get_online_features(service="scoring", entities={"user_id": [key]})
                fspg_s.append(time.perf_counter() - started)
            for key in keys:
                started = time.perf_counter()
                conn.execute(raw_sql, [key], prepare=True).fetchall()
                raw_s.append(time.perf_counter() - started)
    return {"calls": LOOKUPS, "fspg_p50_ms": _p50_ms(fspg_s), "raw_p50_ms": _p50_ms(raw_s),
            "ratio_fspg_to_raw": round(statistics.median(fspg_s) / statistics.median(raw_s), 2)}


def name_reader(dsn: str) -> dict:
    """fs.parse_ref against split_part, NAME_CALLS calls each in one statement, 5 repeats."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        def run(expression: str) -> float:
            started = time.perf_counter()
            conn.execute(f"SELECT count({expression}) FROM generate_series(1, {NAME_CALLS}) i")
            return time.perf_counter() - started
        parse, split = [], []
        for _ in range(5):
            parse.append(run("(fs.parse_ref('user_stats@' || (i % 9 + 1))).name"))
            split.append(run("split_part('user_stats@' || (i % 9 + 1), '@', 1)"))
    per_call = lambda values: round(statistics.median(values) / NAME_CALLS * 1e6, 2)  # noqa: E731
    return {"calls": NAME_CALLS, "parse_ref_us": per_call(parse), "split_part_us": per_call(split)}


def cli_startup(dsn: str) -> dict:
    """Wall time of the CLI against a bare interpreter, medians of CLI_RUNS."""
    fspg = str(Path(sys.executable).with_name("fspg"))

    def wall(*args: str) -> float:
        times = []
        for _ in range(CLI_RUNS):
            started = time.perf_counter()
            subprocess.run(list(args), check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        return round(statistics.median(times), 3)

    return {"python_pass_s": wall(sys.executable, "-c", "pass"), "fspg_help_s": wall(fspg, "--help"),
            "fspg_ls_json_s": wall(fspg, "--dsn", dsn, "ls", "--json")}


def main() -> None:
    """Run the four measurements and save bench/out/house.json."""
    with server() as admin, fresh_database(admin) as dsn:
        result = {"small_writes": small_writes(dsn), "lookup": lookup(dsn), "name_reader": name_reader(dsn),
                  "cli_startup": cli_startup(dsn)}
    save("house", result)


if __name__ == "__main__":
    main()
