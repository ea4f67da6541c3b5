"""``fspg demo`` / ``make demo``: the main job end to end, printing each step."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Callable

from fspg.errors import InUse, UserError

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


def example_repository(path: str | Path | None = None) -> Path:
    """The example feature repository: ``path`` if given, else ./examples (a checkout),
    else the copy shipped inside the installed package."""
    if path is not None:
        return Path(path)
    here = Path("examples")
    if (here / "features").is_dir():
        return here
    from importlib import resources

    return Path(str(resources.files("fspg") / "examples"))


def run(dsn: str | None, examples: str | Path | None = None, echo: Callable[[str], None] = print,
        docs: str | Path | None = "fspg-docs") -> None:
    """Start (or use) the database, migrate, apply the example repository, ingest, read, serve,
    build a training set, register a model, roll out a change, use sources, describe, and
    build the catalog site into ``docs`` (None: not built)."""
    from fspg import migrate
    from fspg.client import FeatureStore
    from fspg.connection import resolve_dsn

    examples = example_repository(examples)
    features = examples / "features"
    if not features.is_dir():
        raise UserError(f"no example repository at {features}", hint="run from the fspg checkout or pass --examples")
    step = _stepper(echo)

    t = step("1. database")
    dsn = resolve_dsn(dsn)
    echo(f"connected to {dsn} ({time.perf_counter() - t:.1f}s)")
    t = step("2. migrate")
    echo(f"schema at revision {migrate.upgrade(dsn)} ({time.perf_counter() - t:.1f}s)")

    with FeatureStore(dsn) as store:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        apply_and_ingest(store, examples, now, step, echo)
        read_and_serve(store, now, step, echo)
        training_and_models(store, now, step, echo)
        staged_change(store, dsn, features, now, step, echo)
        sources_and_cdc(store, dsn, now, step, echo)
        catalog(store, step, echo)
        if docs is not None:
            step(f"23. fspg docs build {docs}")
            built = store.build_docs(docs)
            echo(f"{built.pages} pages in {built.seconds:.1f}s: open {built.path}/index.html in a browser "
                 "(or run .venv/bin/fspg ui)")
    echo("\nDone. The server keeps running: try .venv/bin/fspg load user_stats --limit 3, "
         "or psql against the DSN above. .venv/bin/fspg down stops it.")


def _stepper(echo: Callable[[str], None]) -> Callable[[str], float]:
    def step(title: str) -> float:
        echo(f"\n== {title}")
        return time.perf_counter()

    return step


def _report(result, echo: Callable[[str], None]) -> None:
    echo(f"  batch {result.batch_id}: {result.rows_in:,} rows in, {result.inserted:,} inserted,"
         f" {result.quarantined:,} quarantined ({result.seconds:.2f}s, {result.path} path)")
    for reason, count in sorted(result.reasons.items()):
        echo(f"    {count:>6,} x {reason}")


def current_merchant_stats(path: Path, now: dt.datetime):
    """The example merchant file with its days moved so the newest is today: the file is
    fixed, merchant_stats' TTL is two days, and a demo run next month should still serve."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(path)
    event_ts = table.column("event_ts").cast(pa.timestamp("us", tz="UTC"))
    newest = pc.max(event_ts).as_py()
    shift = now.replace(hour=0, minute=0, second=0, microsecond=0) - newest.replace(hour=0, minute=0, second=0)
    moved = pc.add(event_ts, pa.scalar(shift, pa.duration("us")))
    return table.set_column(table.schema.get_field_index("event_ts"), "event_ts", moved)


def apply_and_ingest(store, examples: Path, now: dt.datetime, step: Callable[[str], float],
                     echo: Callable[[str], None]) -> None:
    """Steps 3-8: plan and apply the repository, ingest Arrow, a file and a global value."""
    from fspg.output import table

    features = examples / "features"
    step(f"3. plan: fspg apply {features} --dry-run")
    for s in store.apply(features, dry_run=True):
        echo(f"  {s.action:<12} {s.kind} {s.name}" + (f"@{s.version}" if s.version else ""))
    t = step(f"4. apply: fspg apply {features}")
    for s in store.apply(features):
        echo(f"  {s.action:<12} {s.kind} {s.name}" + (f"@{s.version}" if s.version else ""))
    echo(f"  ({time.perf_counter() - t:.2f}s); applying again changes nothing: "
         + ", ".join(sorted({s.action for s in store.apply(features)})))

    step(f"5. ingest: insert_batch('user_stats', <{DEMO_USERS * 3:,} rows, Arrow>)")
    _report(store.insert_batch("user_stats", synthetic_user_stats(now)), echo)
    merchants = examples / "data" / "merchant_stats.csv"
    step(f"6. ingest a file: {merchants} (its days moved so the newest is today)")
    _report(store.insert_batch("merchant_stats", current_merchant_stats(merchants, now)), echo)
    step("7. the specification's call on a global view: insert_batch('fx_rates', timestamp=T, data={...})")
    _report(store.insert_batch("fx_rates", timestamp=now - dt.timedelta(hours=2), data={"eur_usd": [1.0842]}), echo)
    step("8. quarantine: fspg quarantine ls")
    echo(table(store.quarantine(), ["batch_id", "feature_view", "version", "rows", "waiting", "reasons"]))


def read_and_serve(store, now: dt.datetime, step: Callable[[str], float], echo: Callable[[str], None]) -> None:
    """Steps 9-11: values at a moment, an online lookup, and the model server's request body."""
    from fspg.output import table
    from fspg.payloads import dumps, tf_serving_request

    step("9. load_batch('user_stats', timestamp=now, limit=5): values in effect, one row per user")
    loaded = store.load_batch("user_stats", timestamp=now, limit=5)
    echo(table(loaded.to_pylist(), loaded.column_names))
    everyone = store.load_batch("user_stats", timestamp=now)
    echo(f"  all users: {everyone.num_rows:,} rows x {everyone.num_columns} columns"
         f" ({everyone.nbytes / 2**20:.1f} MiB of Arrow)")
    at = (now - dt.timedelta(days=1)).replace(hour=12, minute=0, second=0)
    merchants_then = store.load_batch("merchant_stats", timestamp=at, entities=[1001, 1002, 9999])
    echo(f"  merchant_stats at {at:%Y-%m-%d %H:%M}Z for merchants 1001, 1002, 9999 (unknown -> NULLs):")
    echo(table(merchants_then.to_pylist(), merchants_then.column_names))

    step("10. online: get_online_features(service='fraud_scoring', entities=...) -- one round trip")
    lookup = store.get_online_features(service="fraud_scoring",
                                       entities={"user_id": [1, 2, 424242], "merchant_id": [1001, 1002, 1003]})
    echo(table(lookup.to_pylist(), lookup.column_names))
    echo("  (user 424242 is unknown: its values read NULL)")
    with store.connection() as conn:
        sql_row = conn.execute("SELECT user_id, spend_7d, country FROM fs_online.user_stats WHERE user_id = %s",
                               [1]).fetchone()
    echo(f"  plain SQL: SELECT ... FROM fs_online.user_stats WHERE user_id = 1 -> {sql_row}")

    step("11. a TensorFlow Serving REST request body for the model, from that lookup")
    body = tf_serving_request(lookup.slice(0, 1), keys=["user_id", "merchant_id"])
    echo("  POST /v1/models/fraud:predict " + dumps(body))


def catalog(store, step: Callable[[str], float], echo: Callable[[str], None]) -> None:
    """Steps 21-22: what the catalog holds now."""
    from fspg.describe import render
    from fspg.output import table

    step("21. fspg ls")
    echo(table(store.list_feature_views(), ["name", "current_version", "entity", "owner", "features", "rows"]))
    step("22. fspg describe user_stats")
    echo(render(store.describe("user_stats")))


def label_spine(now: dt.datetime, rows: int = 2_000, seed: int = 7):
    """Labelled payments (user, merchant, moment, fraud?) over the last two days: a spine."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    minutes = rng.integers(0, 48 * 60, rows)
    return pa.table({
        "user_id": pa.array(rng.integers(1, DEMO_USERS + 1, rows), pa.int64()),
        "merchant_id": pa.array(rng.choice([1001, 1002, 1003, 1004], rows), pa.int64()),
        "event_ts": pa.array([now - dt.timedelta(minutes=int(m)) for m in minutes], pa.timestamp("us", tz="UTC")),
        "is_fraud": pa.array(rng.random(rows) < 0.03),
    })


def training_and_models(store, now: dt.datetime, step: Callable[[str], float], echo: Callable[[str], None]) -> None:
    """Steps 12-16: a reproducible training set, a model bound to it, serving it, drift, lineage."""
    from fspg.output import table

    spine = label_spine(now)
    step("12. training set: create_training_set('fraud_train', <2,000 labelled payments>, service='fraud_scoring')")
    made = store.create_training_set("fraud_train", spine, service="fraud_scoring",
                                     description="Card-fraud labels with the fraud_scoring features.")
    echo(f"  {made.action} fraud_train@{made.version}: {made.row_count:,} rows as of {made.as_of:%Y-%m-%d %H:%M:%S}Z,"
         f" content hash {made.content_hash}")
    first = store.get_training_set("fraud_train", version=made.version)
    echo(table(first.slice(0, 3).to_pylist(), first.column_names))
    user, at = spine.column("user_id")[0].as_py(), spine.column("event_ts")[0].as_py()
    correction = store.get_training_set(spine.slice(0, 1), ["user_stats.spend_7d"]).column("spend_7d")[0].as_py()
    store.insert_batch("user_stats", {"user_id": [user], "event_ts": [at - dt.timedelta(minutes=1)],
                                      "spend_7d": [round((correction or 0) + 100, 2)], "txn_count_7d": [9]})
    fresh = store.get_training_set(spine.slice(0, 1), ["user_stats.spend_7d"]).column("spend_7d")[0].as_py()
    again = store.get_training_set("fraud_train", version=made.version)
    verified = store.verify_training_set("fraud_train", made.version)
    echo(f"  a late value for user {user} arrives (spend_7d {correction} -> {fresh} in a fresh join);"
         f" fraud_train@{made.version} rebuilt: same rows {again.equals(first)},"
         f" same hash {verified.identical} ({verified.content_hash})")
    echo(f"  in SQL: SELECT * FROM {made.relation}")

    step("13. models: register_model('fraud', training_set='fraud_train', experiment='exp-42', metrics=...)")
    model = store.register_model("fraud", training_set=f"fraud_train@{made.version}", experiment="exp-42",
                                 params={"max_depth": 6, "trees": 300}, metrics={"auc": 0.912, "recall_at_1pct": 0.61})
    echo(f"  {model.action} fraud@{model.version}: {len(model.features)} pinned features,"
         f" {', '.join(model.features[:3])}, ...")
    served = store.get_online_features(model="fraud", entities={"user_id": [1, 2], "merchant_id": [1001, 1002]})
    echo("  get_online_features(model='fraud', entities=...) serves exactly those versions:")
    echo(table(served.to_pylist(), served.column_names))
    try:
        store.deprecate("user_stats@1")
    except InUse as err:
        echo(f"  fspg deprecate user_stats@1 -> refused: {err}")

    step("14. training/serving skew: history vs what fs_online serves (fspg skew user_stats)")
    skew = store.training_serving_skew("user_stats")
    echo(table(skew, ["feature", "psi", "mean_base", "mean_new", "null_rate_delta", "drifted"]))

    step("15. statistics stored per version: fspg stats user_stats")
    stats = store.compute_stats("user_stats")
    echo(table(stats, ["feature", "row_count", "nulls", "mean", "median", "distinct_count"]))

    step(f"16. lineage: fspg lineage model:fraud@{model.version} --up")
    echo(table(store.lineage(f"model:fraud@{model.version}", "up"), ["direction", "depth", "kind", "name"]))


def staged_change(store, dsn: str, features: Path, now: dt.datetime, step: Callable[[str], float],
                  echo: Callable[[str], None]) -> None:
    """Steps 17-18: a rule change (a new market, CH) staged, backfilled and promoted while an
    app keeps looking users up: no lookup returns NULL in between."""
    import threading

    from fspg import definitions
    from fspg.client import FeatureStore
    from fspg.output import table

    doc = definitions.load(features)
    country = next(f for v in doc["feature_views"] if v["name"] == "user_stats"
                   for f in v["features"] if f["name"] == "country")
    served_allowed = next(f["rules"].get("allowed", []) for f in store.describe("user_stats")["features"]
                          if f["name"] == "country")
    # Re-runs of the demo flip the change back, so each run stages something.
    adding = "CH" not in served_allowed
    country["rules"]["allowed"] = [c for c in served_allowed if c != "CH"] + (["CH"] if adding else [])
    change = "allow country CH" if adding else "withdraw country CH"

    step(f"17. a definition change ({change}): fspg apply --dry-run, apply, backfill, promote")
    [plan] = [s for s in store.apply(doc, dry_run=True) if s.name == "user_stats"]
    echo(f"  dry run: user_stats: {plan.message}")
    users = list(range(10, 110))
    lookups, nulls, stop = [0], [0], threading.Event()

    def app() -> None:
        with FeatureStore(dsn) as serving:
            while not stop.is_set():
                rows = serving.get_online_features(["user_stats.spend_7d"], entities=users, as_dicts=True)
                lookups[0] += 1
                nulls[0] += sum(r["spend_7d"] is None for r in rows)

    thread = threading.Thread(target=app, daemon=True)
    thread.start()
    [applied] = [s for s in store.apply(doc) if s.name == "user_stats"]
    ref = f"user_stats@{applied.version}"
    echo(f"  applied: {applied.message}")
    report = store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [55.0, 66.0], "txn_count_7d": [3, 4],
                                               "country": ["DE", "CH"]}, timestamp=now - dt.timedelta(minutes=30))
    echo(f"  a batch while {ref} is staged (user 2 in CH): the served version took {report.inserted},"
         f" quarantined {report.quarantined}; the staged one took each row by its own rules")
    done = store.backfill(ref, on_step=lambda s: echo(f"    backfill {ref}: {s.periods_done}/{s.periods} periods,"
                                                      f" {s.rows_read:,} rows read") if not s.finished else None)
    echo(f"  fspg backfill {ref}: {done.inserted:,} rows copied, {done.quarantined:,} quarantined by its rules")
    switch = store.promote(ref)
    echo(f"  fspg promote {ref}: serving {switch.to_version} (was {switch.from_version});"
         f" services that follow it: {', '.join(switch.services) or 'none'}")
    stop.wait(1.5)   # a running app notices a promote within a second
    stop.set()
    thread.join()
    echo(f"  an app looked up {len(users)} users {lookups[0]:,} times during the change: {nulls[0]} NULL values served")
    after = store.get_online_features(["user_stats.country"], entities=[1, 2], as_dicts=True)
    echo(f"  now served: {after}")

    step("18. fspg rollout user_stats (fspg rollback user_stats would serve the previous version again)")
    echo(table(store.rollout_status("user_stats"), ["feature_view", "version", "stage", "backfill_progress",
                                                    "backfill_inserted", "promoted_at"]))


def sources_and_cdc(store, dsn: str, now: dt.datetime, step: Callable[[str], float],
                    echo: Callable[[str], None]) -> None:
    """Steps 19-20: a SQL-defined view materialized from a ledger table, and a CDC source
    (another database on the same server) feeding an online value."""
    from fspg.connection import connect
    from fspg.output import table

    step("19. a SQL-defined view: fspg materialize daily_spend (source: a query over public.payments)")
    with connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.payments (payment_id bigserial PRIMARY KEY, user_id bigint,"
                     " amount numeric, paid_at timestamptz)")
        if not conn.execute("SELECT EXISTS (SELECT 1 FROM public.payments)").fetchone()[0]:
            conn.execute("INSERT INTO public.payments (user_id, amount, paid_at)"
                         " SELECT 1 + (i * 7919) %% 2000, round((random() * 200)::numeric, 2),"
                         "        %s::timestamptz - (i %% 2880) * interval '1 minute' FROM generate_series(1, 20000) i",
                         [now.replace(hour=0, minute=0, second=0)])
        # Source queries run as fs_source, which reads only what it is granted.
        conn.execute("GRANT SELECT ON public.payments TO fs_source")
    windows = store.materialize("daily_spend")  # from its high-water mark (first: source.start) to now
    for window in windows:
        echo(f"  window [{window.window_start:%Y-%m-%d %H:%M}, {window.window_end:%Y-%m-%d %H:%M}): {window.rows_in:,} rows"
             f" from the query, {window.unchanged:,} unchanged, {window.inserted:,} inserted,"
             f" {window.quarantined:,} quarantined")
    if windows:
        again = store.materialize("daily_spend", windows[-1].window_start, windows[-1].window_end)[0]
        echo(f"  the same window again: {again.unchanged:,} unchanged, {again.inserted:,} inserted (idempotent)")
    spend = store.get_online_features(["daily_spend.spend_1d", "daily_spend.payments_1d"], entities=[1, 2, 3])
    echo(table(spend.to_pylist(), spend.column_names))

    step("20. CDC: fspg source add-cdc shop --source-dsn <shop database> --table public.orders --view order_events")
    shop_dsn = _shop_database(dsn)
    if any(s["name"] == "shop" for s in store.sources()):
        store.remove_source("shop")
    with connect(shop_dsn, autocommit=True) as app:
        app.execute("DROP TABLE IF EXISTS public.orders")
        app.execute("CREATE TABLE public.orders (order_id bigint PRIMARY KEY, user_id bigint, total numeric,"
                    " status text, ordered_at timestamptz NOT NULL DEFAULT clock_timestamp())")
        app.execute("INSERT INTO public.orders (order_id, user_id, total, status) VALUES (1, 1, 25.0, 'new'), (2, 2, 99.5, 'new')")
    subscription = store.add_cdc_source("shop", shop_dsn, "public.orders", "order_events", event_time="ordered_at")
    echo(f"  subscribed ({subscription}); the initial copy brought the 2 existing orders")
    with connect(shop_dsn, autocommit=True) as app:
        app.execute("UPDATE public.orders SET status = 'paid', ordered_at = clock_timestamp() WHERE order_id = 1")
        app.execute("INSERT INTO public.orders (order_id, user_id, total, status) VALUES (3, 3, -5, 'new'), (4, 3, 12, 'new')")
        app.execute("DELETE FROM public.orders WHERE order_id = 2")
        committed = time.perf_counter()
    served = _wait_for_order(store, 4)
    echo(f"  the shop updated order 1, inserted 3 (total -5: breaks min 0) and 4, deleted 2;"
         f" order 4 served {served - committed:.3f}s after its commit:")
    online = store.get_online_features(["order_events.*"], entities=[1, 2, 3, 4])
    echo(table(online.to_pylist(), online.column_names))
    echo("  (order 2 is a tombstone: nothing served; order 3 is in quarantine, the stream went on)")
    status = store.cdc_status()[0]
    echo(f"  fspg source status: enabled {status['enabled']}, apply errors {status['apply_errors']},"
         f" lag {status['lag_bytes']} bytes")


def _shop_database(dsn: str) -> str:
    """A second database on the demo's server, standing in for an application's."""
    import psycopg

    params = psycopg.conninfo.conninfo_to_dict(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'shop_app'").fetchone():
            conn.execute("CREATE DATABASE shop_app")
    params["dbname"] = "shop_app"
    return psycopg.conninfo.make_conninfo(**params)


def _wait_for_order(store, order_id: int, timeout: float = 30.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        row = store.get_online_features(["order_events.total"], entities=[order_id], as_dicts=True)[0]
        if row["total"] is not None:
            return time.perf_counter()
        time.sleep(0.005)
    raise UserError(f"order {order_id} did not arrive within {timeout:.0f}s", hint="fspg source status shows why")
