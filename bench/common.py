"""Shared pieces of the benchmarks: a server, fresh databases, timing, reporting."""
from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np
import psycopg
import pyarrow as pa

OUT = Path(__file__).parent / "out"


@contextmanager
def server():
    """An admin DSN: $FSPG_BENCH_DSN, else an embedded server in bench/out/home (kept between runs)."""
    if os.environ.get("FSPG_BENCH_DSN"):
        yield os.environ["FSPG_BENCH_DSN"]
        return
    from fspg.server import EmbeddedServer

    OUT.mkdir(exist_ok=True)
    srv = EmbeddedServer(OUT / "home")
    info = srv.up()
    # Sized for the benchmarks' data (10M online rows stay in memory, as a serving
    # database's would), not the embedded server's laptop defaults.
    with psycopg.connect(info.dsn_for("postgres"), autocommit=True) as conn:
        if conn.execute("SHOW shared_buffers").fetchone()[0] != "2GB":
            conn.execute("ALTER SYSTEM SET shared_buffers = '2GB'")
            conn.execute("ALTER SYSTEM SET max_wal_size = '8GB'")
            restart = True
        else:
            restart = False
    if restart:
        srv.down()
        info = srv.up()
    try:
        yield info.dsn_for("postgres")
    finally:
        srv.down()


def with_db(dsn: str, dbname: str) -> str:
    """The same DSN pointing at another database."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**params)


@contextmanager
def fresh_database(admin_dsn: str):
    """A new, migrated database, dropped afterwards."""
    from fspg import migrate

    name = f"fspg_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = with_db(admin_dsn, name)
    migrate.upgrade(dsn)
    try:
        yield dsn
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    """The median, for reports."""
    return statistics.median(values)


def feature_table(rows: int, features: int, *, entities: int | None = None, seed: int = 7,
                  days: int = 20, key: str = "user_id") -> pa.Table:
    """rows x (key bigint + event_ts + `features` float8 in [0, 1)), events over the last `days` days."""
    rng = np.random.default_rng(seed)
    now = np.datetime64("now", "us")
    keys = np.arange(rows, dtype=np.int64) % (entities or rows)
    columns = {key: pa.array(keys),
               "event_ts": pa.array(now - rng.integers(60, days * 86400, rows).astype("timedelta64[s]"),
                                    pa.timestamp("us", tz="UTC"))}
    for i in range(features):
        columns[f"f{i:02d}"] = pa.array(rng.random(rows))
    return pa.table(columns)


def bench_definitions(name: str, features: int, key: str = "user_id", rules: bool = True) -> dict:
    """An entity and a view with `features` float8 features (rules min 0, max 1 when asked)."""
    return {
        "entities": [{"name": "bench_entity", "keys": {key: "bigint"}}],
        "feature_views": [{
            "name": name, "entity": "bench_entity", "ttl": "90 days",
            "features": [{"name": f"f{i:02d}", "dtype": "float8", **({"rules": {"min": 0, "max": 1}} if rules else {})}
                         for i in range(features)],
        }],
    }


def save(name: str, result: dict) -> None:
    """Write one benchmark's figures to bench/out/<name>.json and print them."""
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


def rss() -> int:
    """This process's resident set size, in bytes."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))


def peak_rss_during(fn: Callable[[], object]) -> tuple[int, int, object]:
    """RSS before a call, the peak while it runs (sampled every 5 ms), and its result."""
    import threading

    before = rss()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = fn()
    finally:
        done.set()
        sampler.join()
    return before, peak[0], result


def run_probe(script: str, *args: str) -> dict:
    """Run a Python snippet in a fresh process (the repository importable) and parse the JSON
    it prints last: memory is measured where nothing else has been allocated."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])
