"""[F9] The feature server and the Python lookup path, against Feast on the same server.

1. HTTP lookups: ``fspg serve`` and Feast's ``feast serve`` (PostgreSQL online store, the
   same PostgreSQL, the same 100,000 entities x 20 float8 features), 1 and 100 entities
   per request, 1, 8 and 32 concurrent clients (wrk): requests/s, p50 and p99;
2. Python, one entity: ``get_online_features(as_dicts=True)`` and the Arrow table against
   the raw prepared statement on an autocommit connection, and Feast's
   ``get_online_features`` on its PostgreSQL online store;
3. ``/push`` of single events from 8 clients: events/s, p99.

Feast runs from its own virtual environment, never from ours: set FSPG_BENCH_FEAST to the
``python`` of an environment with ``feast[postgres]`` (``python3 -m venv /tmp/feast &&
/tmp/feast/bin/pip install 'feast[postgres]'``). Without it the Feast columns are left
out and the report says so. Load comes from wrk (Debian's ``wrk`` package).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import textwrap
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg

from bench.common import OUT, bench_definitions, feature_table, fresh_database, save, server

ENTITIES = 100_000
FEATURES = 20
SECONDS = 5
REPEATS = 3
CLIENTS = (1, 8, 32)
BATCHES = (1, 100)
PY_CALLS = 3_000
FSPG_PORT, FEAST_PORT = 18651, 18652
FEATURE_REFS = [f"users:f{i:02d}" for i in range(FEATURES)]


def main() -> None:
    if shutil.which("wrk") is None:
        print("serve: skipped, wrk is not installed (apt-get install wrk)")
        return
    feast_python = os.environ.get("FSPG_BENCH_FEAST")
    with server() as admin, fresh_database(admin) as dsn:
        populate(dsn)
        result: dict = {"entities": ENTITIES, "features": FEATURES, "seconds_per_run": SECONDS, "repeats": REPEATS,
                        "feast": "compared" if feast_python else "left out: FSPG_BENCH_FEAST is not set"}
        feast_repo = None
        if feast_python:
            feast_repo = prepare_feast(feast_python, admin, dsn)
            result["feast_version"] = subprocess.run([feast_python, "-c", "import feast; print(feast.__version__)"],
                                                     capture_output=True, text=True).stdout.strip()
        result["http"] = http_lookups(dsn, feast_python, feast_repo)
        result["python"] = python_lookups(dsn, feast_python, feast_repo)
        result["push"] = pushes(dsn)
        save("serve", result)


def populate(dsn: str) -> None:
    from fspg import FeatureStore

    with FeatureStore(dsn) as store:
        defs = bench_definitions("users", FEATURES, rules=False)
        defs["feature_views"][0]["ttl"] = "30 days"
        store.apply(defs)
        store.insert_batch("users", feature_table(ENTITIES, FEATURES, days=1))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# -- Feast --------------------------------------------------------------------------------
def prepare_feast(python: str, admin: str, dsn: str) -> Path:
    """A Feast repository whose PostgreSQL online store (a database of its own on the same
    server) holds the same values as fspg's online table."""
    repo = OUT / "feast_repo"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    params = psycopg.conninfo.conninfo_to_dict(admin)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS fspg_bench_feast WITH (FORCE)")
        conn.execute("CREATE DATABASE fspg_bench_feast")
    # The values fspg serves, as Feast's offline file: both serve the same numbers.
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT * FROM fs_online.users__v1").fetchall()
        names = [d.name for d in conn.execute("SELECT * FROM fs_online.users__v1 LIMIT 0").description]
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}).select(["user_id", "event_ts"] + [
        f"f{i:02d}" for i in range(FEATURES)])
    pq.write_table(table, repo / "users.parquet")
    (repo / "feature_store.yaml").write_text(textwrap.dedent(f"""\
        project: fspg_bench
        registry: registry.db
        provider: local
        online_store:
          type: postgres
          host: {params.get("host", "127.0.0.1")}
          port: {params.get("port", 5432)}
          database: fspg_bench_feast
          db_schema: public
          user: {params.get("user", "postgres")}
          password: "{params.get("password", "")}"
          sslmode: disable
        offline_store:
          type: file
        entity_key_serialization_version: 3
        """))
    (repo / "definitions.py").write_text(textwrap.dedent(f"""\
        from datetime import timedelta
        from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
        from feast.types import Float64
        user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
        users = FeatureView(name="users", entities=[user], ttl=timedelta(days=30), online=True,
                            schema=[Field(name=f"f{{i:02d}}", dtype=Float64) for i in range({FEATURES})],
                            source=FileSource(path="{repo / 'users.parquet'}", timestamp_field="event_ts"))
        one_view = FeatureService(name="one_view", features=[users])
        """))
    subprocess.run([feast_command(python), "apply"], cwd=repo, check=True, capture_output=True)
    subprocess.run([python, "-c", "import pyarrow.parquet as pq; from feast import FeatureStore; "
                    "FeatureStore('.').write_to_online_store('users', pq.read_table('users.parquet').to_pandas())"],
                   cwd=repo, check=True, capture_output=True)
    return repo


def feast_command(python: str) -> str:
    """The ``feast`` command of the environment whose ``python`` is given."""
    return str(Path(python).parent / "feast")


# -- HTTP -----------------------------------------------------------------------------------
@contextmanager
def running(command: list[str], port: int, cwd: Path | None = None) -> Iterator[None]:
    """A server process, ready when its port answers; stopped with SIGTERM."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
    try:
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def lua_script(entities: int) -> Path:
    """A wrk script posting Feast's request for `entities` random users, all 20 features."""
    path = OUT / f"lookup_{entities}.lua"
    path.write_text(textwrap.dedent(f"""\
        wrk.method = "POST"
        wrk.headers["Content-Type"] = "application/json"
        local features = '{json.dumps(FEATURE_REFS)}'
        request = function()
          local keys = {{}}
          for i = 1, {entities} do keys[i] = math.random(0, {ENTITIES - 1}) end
          local body = '{{"features": ' .. features .. ', "entities": {{"user_id": [' .. table.concat(keys, ",") .. ']}}}}'
          return wrk.format(nil, "/get-online-features", nil, body)
        end
        """))
    return path


def wrk(port: int, script: Path, clients: int, seconds: int = SECONDS) -> dict:
    """One wrk run: requests/s, p50 and p99 in ms, and the count of non-2xx answers."""
    out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
            "p99_ms": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
            "errors": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def http_lookups(dsn: str, feast_python: str | None, feast_repo: Path | None) -> dict:
    fspg_cmd = [sys.executable, "-m", "fspg.cli", "--dsn", dsn, "serve", "--port", str(FSPG_PORT)]
    feast_cmd = [feast_command(feast_python), "serve", "-p", str(FEAST_PORT), "--no-access-log"] if feast_python else None
    runs: dict[str, list[dict]] = {}
    for repeat in range(REPEATS):
        # one tool at a time (2 cores), alternating so drift on a shared machine hits both
        for tool, cmd, port, cwd in (("fspg", fspg_cmd, FSPG_PORT, None), ("feast", feast_cmd, FEAST_PORT, feast_repo)):
            if cmd is None:
                continue
            with running(cmd, port, cwd):
                wrk(port, lua_script(1), 8, 2)  # warm: statements prepared, pools full
                for batch in BATCHES:
                    for clients in CLIENTS:
                        runs.setdefault(f"{tool} {batch} entities {clients} clients", []).append(
                            wrk(port, lua_script(batch), clients))
    report = {}
    for key, values in runs.items():
        report[key] = {m: round(statistics.median(v[m] for v in values), 2) for m in ("rps", "p50_ms", "p99_ms")}
        report[key]["errors"] = sum(v["errors"] for v in values)
    if feast_python:
        for batch in BATCHES:
            for clients in CLIENTS:
                f, e = report[f"fspg {batch} entities {clients} clients"], report[f"feast {batch} entities {clients} clients"]
                report[f"ratio {batch} entities {clients} clients"] = {
                    "throughput_x": round(f["rps"] / e["rps"], 2), "p99_fspg_over_feast": round(f["p99_ms"] / e["p99_ms"], 2)}
    return report


# -- Python ----------------------------------------------------------------------------------
FEAST_TIMING = """
import json, random, statistics, sys, time
from feast import FeatureStore
fs = FeatureStore(".")
refs = [f"users:f{i:02d}" for i in range(%(features)d)]
rng = random.Random(1)
for _ in range(200):
    fs.get_online_features(features=refs, entity_rows=[{"user_id": rng.randrange(%(entities)d)}])
times = []
for _ in range(%(calls)d):
    key = rng.randrange(%(entities)d)
    t = time.perf_counter(); fs.get_online_features(features=refs, entity_rows=[{"user_id": key}]).to_dict()
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def python_lookups(dsn: str, feast_python: str | None, feast_repo: Path | None) -> dict:
    import random

    from fspg import FeatureStore

    rng = random.Random(1)
    keys = [rng.randrange(ENTITIES) for _ in range(PY_CALLS)]
    refs = [f"users.f{i:02d}" for i in range(FEATURES)]
    times: dict[str, list[float]] = {"raw": [], "fspg_dicts": [], "fspg_arrow": []}
    with FeatureStore(dsn) as store, psycopg.connect(dsn, autocommit=True) as raw:
        raw.execute("SET plan_cache_mode = force_generic_plan")
        query = "SELECT * FROM fs_serving.bench_view(%s::bigint[])"
        store.apply({"feature_services": [{"name": "bench_view", "features": refs}]})
        calls = {"raw": lambda k: raw.execute(query, [[k]], prepare=True).fetchall(),
                 "fspg_dicts": lambda k: store.get_online_features(service="bench_view", entities=[k], as_dicts=True),
                 "fspg_arrow": lambda k: store.get_online_features(service="bench_view", entities=[k])}
        for name, call in calls.items():
            for k in keys[:300]:
                call(k)
        for block in range(0, PY_CALLS, 500):  # alternate blocks: drift hits all three alike
            for name, call in calls.items():
                for k in keys[block:block + 500]:
                    start = time.perf_counter()
                    call(k)
                    times[name].append(time.perf_counter() - start)
    if feast_python:
        out = subprocess.run([feast_python, "-c", FEAST_TIMING % {"features": FEATURES, "entities": ENTITIES,
                                                                  "calls": PY_CALLS // 3}],
                             cwd=feast_repo, capture_output=True, text=True, check=True).stdout
        times["feast"] = json.loads(out.strip().splitlines()[-1])
    p50 = {name: statistics.median(t) * 1000 for name, t in times.items()}
    report = {f"{name}_p50_ms": round(v, 3) for name, v in p50.items()}
    report["dicts_over_raw"] = round(p50["fspg_dicts"] / p50["raw"], 2)
    report["arrow_over_raw"] = round(p50["fspg_arrow"] / p50["raw"], 2)
    if "feast" in p50:
        report["feast_over_fspg_dicts"] = round(p50["feast"] / p50["fspg_dicts"], 1)
    return report


# -- push --------------------------------------------------------------------------------------
def pushes(dsn: str) -> dict:
    """Events through /push from 8 clients: one event per request, and 100."""
    report = {}
    for events in (1, 100):
        script = OUT / f"push_{events}.lua"
        script.write_text(textwrap.dedent(f"""\
            wrk.method = "POST"
            wrk.headers["Content-Type"] = "application/json"
            request = function()
              local events = {{}}
              for i = 1, {events} do
                events[i] = '{{"user_id": ' .. math.random(0, {ENTITIES - 1}) .. ', "f00": 0.5, "f01": 0.25}}'
              end
              local body = '{{"feature_view": "users", "timestamp": "now", "events": [' .. table.concat(events, ",") .. ']}}'
              return wrk.format(nil, "/push", nil, body)
            end
            """))
        runs = []
        with running([sys.executable, "-m", "fspg.cli", "--dsn", dsn, "serve", "--port", str(FSPG_PORT)], FSPG_PORT):
            wrk(FSPG_PORT, script, 8, 2)
            for _ in range(REPEATS):
                runs.append(wrk(FSPG_PORT, script, 8))
        rps = statistics.median(r["rps"] for r in runs)
        report[f"{events} events per push"] = {
            "clients": 8, "pushes_per_s": round(rps, 1), "events_per_s": round(rps * events),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2), "errors": sum(r["errors"] for r in runs)}
    with psycopg.connect(dsn) as conn:
        logged = conn.execute("SELECT count(*), sum(rows_in), sum(inserted) FROM fs.ingest_batch WHERE source = 'push'").fetchone()
    report["logged"] = {"batches": logged[0], "events_in": int(logged[1]), "inserted": int(logged[2])}
    return report


if __name__ == "__main__":
    main()
