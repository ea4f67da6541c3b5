"""``fspg demo`` / ``make demo``: the main job end to end, printing each step."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Callable

from fspg.errors import UserError

DEMO_USERS = 10_000


def synthetic_user_stats(now: dt.datetime, users: int = DEMO_USERS, seed: int = 42):
    """Three daily snapshots of user_stats for `users` users, with a few rows a real feed gets wrong."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    rows = users * 3
    user_id = np.tile(np.arange(1, users + 1, dtype=np.int64), 3)
    day = np.repeat(np.arange(3), users)
    event_ts = [now - dt.timedelta(days=int(2 - d), hours=1) for d in range(3)]
    spend_7d = np.round(rng.gamma(2.0, 80.0, rows), 2)
    spend_7d[:3] = [-12.5, np.nan, 2_500_000.0]  # refunds netted wrongly, a NaN, a fat finger
    countries = np.array(["DE", "FR", "US", "GB", "NL", "ES", "IT"])
    country = countries[rng.integers(0, len(countries), rows)].astype(object)
    country[3] = "XX"
    return pa.table({
        "user_id": user_id,
        "event_ts": pa.array([event_ts[d] for d in day], pa.timestamp("us", tz="UTC")),
        "spend_7d": spend_7d,
        "spend_30d": np.round(spend_7d * rng.uniform(3.0, 5.0, rows), 2).clip(0),
        "txn_count_7d": rng.poisson(6, rows).astype(np.int32),
        "country": pa.array(country, pa.string()),
    })


def run(dsn: str | None, examples: str | Path, echo: Callable[[str], None] = print) -> None:
    """Start (or use) the database, migrate, apply the example repository, ingest, load, and describe."""
    from fspg import migrate
    from fspg.client import FeatureStore
    from fspg.connection import resolve_dsn
    from fspg.describe import render
    from fspg.files import open_source
    from fspg.output import table

    examples = Path(examples)
    features = examples / "features"
    if not features.is_dir():
        raise UserError(f"no example repository at {features}", hint="run from the fspg checkout or pass --examples")

    def step(title: str) -> float:
        echo(f"\n== {title}")
        return time.perf_counter()

    def report(result) -> None:
        echo(f"  batch {result.batch_id}: {result.rows_in:,} rows in, {result.inserted:,} inserted,"
             f" {result.quarantined:,} quarantined ({result.seconds:.2f}s, {result.path} path)")
        for reason, count in sorted(result.reasons.items()):
            echo(f"    {count:>6,} x {reason}")

    t = step("1. database")
    dsn = resolve_dsn(dsn)
    echo(f"connected to {dsn} ({time.perf_counter() - t:.1f}s)")

    t = step("2. migrate")
    echo(f"schema at revision {migrate.upgrade(dsn)} ({time.perf_counter() - t:.1f}s)")

    with FeatureStore(dsn) as store:
        step(f"3. plan: fspg apply {features} --dry-run")
        for s in store.apply(features, dry_run=True):
            echo(f"  {s.action:<12} {s.kind} {s.name}" + (f"@{s.version}" if s.version else ""))

        t = step(f"4. apply: fspg apply {features}")
        for s in store.apply(features):
            echo(f"  {s.action:<12} {s.kind} {s.name}" + (f"@{s.version}" if s.version else ""))
        echo(f"  ({time.perf_counter() - t:.2f}s); applying again changes nothing: "
             + ", ".join(sorted({s.action for s in store.apply(features)})))

        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        step(f"5. ingest: insert_batch('user_stats', <{DEMO_USERS * 3:,} rows, Arrow>)")
        report(store.insert_batch("user_stats", synthetic_user_stats(now)))

        merchants = examples / "data" / "merchant_stats.csv"
        step(f"6. ingest a file: fspg ingest merchant_stats {merchants}")
        source, _ = open_source(merchants)
        report(store.insert_batch("merchant_stats", source))

        step("7. the specification's call on a global view: insert_batch('fx_rates', timestamp=T, data={...})")
        report(store.insert_batch("fx_rates", timestamp=now - dt.timedelta(hours=2), data={"eur_usd": [1.0842]}))

        step("8. quarantine: fspg quarantine ls")
        echo(table(store.quarantine(), ["batch_id", "feature_view", "version", "rows", "waiting", "reasons"]))

        step("9. load_batch('user_stats', timestamp=now, limit=5): values in effect, one row per user")
        loaded = store.load_batch("user_stats", timestamp=now, limit=5)
        echo(table(loaded.to_pylist(), loaded.column_names))
        everyone = store.load_batch("user_stats", timestamp=now)
        echo(f"  all users: {everyone.num_rows:,} rows x {everyone.num_columns} columns"
             f" ({everyone.nbytes / 2**20:.1f} MiB of Arrow)")
        at = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)
        merchants_then = store.load_batch("merchant_stats", timestamp=at, entities=[1001, 1002, 9999])
        echo(f"  merchant_stats at {at:%Y-%m-%d %H:%M}Z for merchants 1001, 1002, 9999 (unknown -> NULLs):")
        echo(table(merchants_then.to_pylist(), merchants_then.column_names))

        step("10. online: get_online_features(service='fraud_scoring', entities=...) -- one round trip")
        lookup = store.get_online_features(service="fraud_scoring",
                                           entities={"user_id": [1, 2, 424242], "merchant_id": [1001, 1002, 1003]})
        echo(table(lookup.to_pylist(), lookup.column_names))
        echo("  (merchant values are older than merchant_stats' 2-day TTL, so they read NULL; user 424242 is unknown)")
        with store.connection() as conn:
            sql_row = conn.execute("SELECT user_id, spend_7d, country FROM fs_online.user_stats WHERE user_id = %s",
                                   [1]).fetchone()
        echo(f"  plain SQL: SELECT ... FROM fs_online.user_stats WHERE user_id = 1 -> {sql_row}")

        step("11. a TensorFlow Serving REST request body for the model, from that lookup")
        from fspg.payloads import dumps, tf_serving_request

        body = tf_serving_request(lookup.slice(0, 1), keys=["user_id", "merchant_id"])
        echo("  POST /v1/models/fraud:predict " + dumps(body))

        step("12. fspg ls")
        echo(table(store.list_feature_views(), ["name", "current_version", "entity", "owner", "features", "rows"]))

        step("13. fspg describe user_stats")
        echo(render(store.describe("user_stats")))

    echo("\nDone. The server keeps running: try .venv/bin/fspg load user_stats --limit 3, "
         "or psql against the DSN above. .venv/bin/fspg down stops it.")
