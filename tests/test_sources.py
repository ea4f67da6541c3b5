"""SQL-defined feature views: windows materialized from a source query, idempotent re-runs,
resumable backfills, due refreshes, and every bad input the issue lists."""
from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from fspg import errors
from fspg.cli import main

UTC = dt.timezone.utc
DAY0 = dt.datetime(2026, 11, 1, tzinfo=UTC)
QUERY = """SELECT user_id, date_trunc('day', paid_at) AS event_ts, sum(amount) AS spend_1d, count(*) AS txn_1d
             FROM public.payments GROUP BY 1, 2"""


def definitions(query: str = QUERY, refresh: str | None = "1 day", start: str | None = "2026-11-01") -> dict:
    source = {"query": query, **({"refresh": refresh} if refresh else {}), **({"start": start} if start else {})}
    return {
        "entities": [{"name": "user", "keys": {"user_id": "bigint"}}],
        "feature_views": [{"name": "daily_spend", "entity": "user", "source": source,
                           "features": [{"name": "spend_1d", "dtype": "float8", "rules": {"min": 0}},
                                        {"name": "txn_1d", "dtype": "int"}]}],
    }


@pytest.fixture
def payments(conn):
    """Three users paying every 6 hours for 6 days from DAY0."""
    conn.execute("CREATE TABLE public.payments (payment_id bigserial PRIMARY KEY, user_id bigint, amount numeric, paid_at timestamptz)")
    conn.execute("""INSERT INTO public.payments (user_id, amount, paid_at)
                    SELECT u, u * 10 + h / 6, %s::timestamptz + h * interval '1 hour'
                      FROM generate_series(1, 3) u, generate_series(0, 143, 6) h""", [DAY0])
    # What a DBA does for every table a source query reads (README, "Security model").
    conn.execute("GRANT SELECT ON public.payments TO fs_source")
    conn.commit()
    return conn


def history(conn) -> list[tuple]:
    return conn.execute("SELECT user_id, event_ts, spend_1d, txn_1d FROM fs_offline.daily_spend__v1"
                        " ORDER BY user_id, event_ts, created_ts").fetchall()


def expected(conn, start: dt.datetime, end: dt.datetime) -> list[tuple]:
    return conn.execute(f"SELECT user_id, event_ts, spend_1d::float8, txn_1d::int FROM ({QUERY}) q"
                        " WHERE event_ts >= %s AND event_ts < %s ORDER BY 1, 2", [start, end]).fetchall()


def test_a_window_lands_through_the_validated_path_and_reruns_add_nothing(store, payments):
    conn = payments
    store.apply(definitions())
    end = DAY0 + dt.timedelta(days=2)
    [first] = store.materialize("daily_spend", DAY0, end)
    assert (first["rows_in"], first["unchanged"], first["inserted"], first["quarantined"]) == (6, 0, 6, 0)
    assert history(conn) == expected(conn, DAY0, end)
    assert store.get_online_features(["daily_spend.spend_1d"], entities=[1], as_dicts=True)[0]["spend_1d"] is not None
    [again] = store.materialize("daily_spend", DAY0, end)
    assert (again["rows_in"], again["unchanged"], again["inserted"]) == (6, 6, 0)
    assert len(history(conn)) == 6  # never duplicated
    # A late correction in the source: a re-run of the window appends only the changed row.
    conn.execute("UPDATE public.payments SET amount = amount + 100 WHERE user_id = 2 AND paid_at < %s", [DAY0 + dt.timedelta(days=1)])
    conn.commit()
    [fixed] = store.materialize("daily_spend", DAY0, end)
    assert (fixed["unchanged"], fixed["inserted"]) == (5, 1)
    loaded = store.load_batch("daily_spend", timestamp=DAY0 + dt.timedelta(hours=12), entities=[2])
    assert loaded.column("spend_1d").to_pylist() == [expected(conn, DAY0, end)[2][2]]
    batches = {b["batch_id"]: b for b in store.batches("daily_spend")}
    assert batches[fixed["batch_id"]]["source"].startswith("source window [")


def test_incremental_runs_and_a_resumable_chunked_backfill(store, payments):
    conn = payments
    store.apply(definitions())
    [run] = store.materialize("daily_spend", end=DAY0 + dt.timedelta(days=1))  # from source.start
    assert run["window_start"] == DAY0
    # A backfill in 1-day chunks whose third day breaks the query (division by zero).
    conn.execute("UPDATE public.payments SET amount = -1 WHERE user_id = 3 AND paid_at >= %s AND paid_at < %s",
                 [DAY0 + dt.timedelta(days=3), DAY0 + dt.timedelta(days=4)])
    conn.commit()
    store.apply(definitions(QUERY.replace("sum(amount)", "sum(amount) / (sign(min(amount)) + 1) * 2")))  # a new version
    assert conn.execute("SELECT max(version) FROM fs.feature_view_version").fetchone()[0] == 2
    done = []
    with pytest.raises(errors.SourceFailed, match="division by zero"):
        # the staged version's own query, over the range (what fspg backfill runs for it)
        store.materialize("daily_spend@2", DAY0, DAY0 + dt.timedelta(days=6), chunk="1 day", on_window=done.append)
    assert [w["window_end"] for w in done] == [DAY0 + dt.timedelta(days=d) for d in (1, 2, 3)]
    status = conn.execute("SELECT high_water, last_error FROM fs.source_status WHERE version = 2").fetchone()
    assert status[0] == DAY0 + dt.timedelta(days=3) and "division by zero" in status[1]
    assert conn.execute("SELECT max(event_ts) FROM fs_offline.daily_spend__v2").fetchone()[0] == DAY0 + dt.timedelta(days=2)
    # Fix the data; the same command without --start resumes at the high-water mark.
    conn.execute("UPDATE public.payments SET amount = 5 WHERE amount = -1")
    conn.commit()
    resumed = store.materialize("daily_spend@2", end=DAY0 + dt.timedelta(days=6), chunk="1 day")
    assert [w["window_start"] for w in resumed] == [DAY0 + dt.timedelta(days=d) for d in (3, 4, 5)]
    assert conn.execute("SELECT count(*) FROM fs_offline.daily_spend__v2").fetchone()[0] == 18
    assert conn.execute("SELECT last_error FROM fs.source_status WHERE version = 2").fetchone()[0] is None


def test_bad_sources(store, payments):
    conn = payments
    store.apply(definitions())
    end = DAY0 + dt.timedelta(days=2)
    store.materialize("daily_spend", DAY0, end)
    with pytest.raises(errors.InvalidArgument, match="overlaps the materialized window"):
        store.materialize("daily_spend", DAY0 + dt.timedelta(days=1), DAY0 + dt.timedelta(days=3))
    with pytest.raises(errors.InvalidArgument, match="empty or reversed"):
        store.materialize("daily_spend", end, DAY0)
    with pytest.raises(errors.InvalidArgument, match="chunk must be a duration"):
        store.materialize("daily_spend", end, chunk="fortnightly")
    before = history(conn)
    bad_queries = {
        "SELECT date_trunc('day', paid_at) AS event_ts, sum(amount) AS spend_1d FROM public.payments GROUP BY 1":
            (errors.SchemaMismatch, "yields no column.*user_id"),
        "SELECT user_id, sum(amount) AS spend_1d FROM public.payments GROUP BY 1":
            (errors.SchemaMismatch, "yields no column.*event_ts"),
        "SELECT user_id, paid_at AS event_ts, point(amount, 1) AS spend_1d FROM public.payments":
            (errors.SchemaMismatch, "spend_1d has type point, which cannot become"),
        "SELECT user_id, paid_at AS event_ts, jsonb_build_object('a', amount) AS spend_1d FROM public.payments":
            (errors.SourceFailed, "cannot hold: cannot cast jsonb object"),
        "SELECT user_id, paid_at AS event_ts, amount / 0 AS spend_1d FROM public.payments":
            (errors.SourceFailed, "division by zero"),
        "SELECT user_id, paid_at AS event_ts FROM public.no_such_table":
            (errors.SourceFailed, "no_such_table"),
    }
    for i, (query, (error, message)) in enumerate(bad_queries.items()):
        doc = definitions(query)
        doc["feature_views"][0]["name"] = f"bad_{i}"
        store.apply(doc)
        with pytest.raises(error, match=message):
            store.materialize(f"bad_{i}", DAY0, end)
        assert conn.execute("SELECT high_water FROM fs.source_status WHERE feature_view = %s", [f"bad_{i}"]).fetchone()[0] is None
    assert history(conn) == before  # nothing landed anywhere
    with pytest.raises(errors.DefinitionError, match="unknown field.*schedule"):
        store.apply(definitions() | {"feature_views": [definitions()["feature_views"][0] | {"source": {"query": QUERY, "schedule": "x"}}]})
    with pytest.raises(errors.DefinitionError, match="refresh must be an interval"):
        store.apply(definitions(refresh="often"))
    store.apply({"feature_views": [{"name": "plain", "features": [{"name": "x", "dtype": "int"}]}]})
    with pytest.raises(errors.InvalidArgument, match="has no source query"), store.connection() as c:
        c.execute("SELECT * FROM fs.materialize_source('plain')")


def test_schedule_and_due_refreshes(store, payments, dsn):
    conn = payments
    store.apply(definitions(start=(DAY0).isoformat()))
    assert [r["feature_view"] for r in store.run_due_sources()] == ["daily_spend"]  # never run, start long ago
    assert conn.execute("SELECT count(*) FROM fs_offline.daily_spend__v1").fetchone()[0] == 18
    assert store.run_due_sources() == []  # just ran: due again in a day
    # Changing the refresh is an update in place; changing the query is a new version.
    assert [s.action for s in store.apply(definitions(refresh="2 hours", start=DAY0.isoformat()))][-1] == "update"
    assert conn.execute("SELECT refresh FROM fs.source_status").fetchone()[0] == dt.timedelta(hours=2)
    result = CliRunner().invoke(main, ["--dsn", dsn, "maintain"])
    assert result.exit_code == 0, result.output
    with pytest.raises(errors.ExtensionMissing, match="pg_cron is not installed"):
        store.schedule("*/5 * * * *")
    result = CliRunner().invoke(main, ["--dsn", dsn, "maintain", "--schedule", "*/5 * * * *"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    lineage = {(r["kind"], r["name"]) for r in store.lineage("daily_spend", "up")}
    assert ("table", "public.payments") in lineage


def test_materialize_command(store, payments, dsn):
    store.apply(definitions())
    result = CliRunner().invoke(main, ["--dsn", dsn, "materialize", "daily_spend", "--end", "2026-11-03", "--chunk", "1 day"])
    assert result.exit_code == 0, (result.output, result.stderr)
    lines = result.output.splitlines()
    assert len(lines) == 2 and "3 rows from the source, 0 unchanged, 3 inserted, 0 quarantined" in lines[0]
    result = CliRunner().invoke(main, ["--dsn", dsn, "materialize", "daily_spend", "--start", "2026-11-02", "--end", "2026-11-04"])
    assert result.exit_code == 2 and "overlaps" in result.stderr and result.stderr.count("\n") == 1
    result = CliRunner().invoke(main, ["--dsn", dsn, "materialize", "daily_spend", "--online"])
    assert result.exit_code == 0 and "online rows written" in result.output
    # The loop for deployments without cron: one round runs the due refresh (from 11-03 to now).
    result = CliRunner().invoke(main, ["--dsn", dsn, "materialize", "--loop", "--rounds", "1", "--every", "0"])
    assert result.exit_code == 0 and result.output.startswith("daily_spend@1 [2026-11-03") and "12 inserted" in result.output


def test_a_changed_query_is_staged_runs_its_own_windows_and_is_backfilled_by_its_query(store, payments):
    conn = payments
    store.apply(definitions(refresh="1 hour"))
    store.materialize("daily_spend", DAY0, DAY0 + dt.timedelta(days=3))
    doubled = QUERY.replace("sum(amount)", "2 * sum(amount)")
    [step] = [s for s in store.apply(definitions(doubled, refresh="1 hour")) if s.name == "daily_spend"]
    assert step.message == "new version 2 staged; serving stays on 1"
    # The backfill of a SQL-defined version is its own query over the range.
    store.backfill("daily_spend@2", start=DAY0, end=DAY0 + dt.timedelta(days=3))
    v2 = conn.execute("SELECT user_id, event_ts, spend_1d FROM fs_offline.daily_spend__v2 ORDER BY 1, 2").fetchall()
    assert [r[2] for r in v2] == [2 * r[2] for r in expected(conn, DAY0, DAY0 + dt.timedelta(days=3))]
    # Due refreshes run every written version, each its own query.
    ran = {(r["feature_view"], r["version"]) for r in store.run_due_sources()}
    assert ran == {("daily_spend", 1), ("daily_spend", 2)}
    served = lambda: store.get_online_features(["daily_spend.spend_1d"], entities=[1], as_dicts=True)[0]["spend_1d"]  # noqa: E731
    before = served()
    store.promote("daily_spend@2")
    assert served() == 2 * before
