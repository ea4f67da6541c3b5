"""Another PostgreSQL server as a source: tables imported through postgres_fdw feed a
SQL-defined view; a source that does not answer is a clear error."""
from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from click.testing import CliRunner

from fspg import errors
from fspg.cli import main
from fspg.server import EmbeddedServer

DAY0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def source_server(tmp_path_factory):
    server = EmbeddedServer(tmp_path_factory.mktemp("source"))
    server.up()
    yield server
    server.destroy()


@pytest.fixture
def source_dsn(source_server):
    """An application database on the second server, with an orders table."""
    dsn = source_server.status().dsn_for("postgres")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS orders")
        conn.execute("CREATE TABLE orders (order_id bigint PRIMARY KEY, merchant_id bigint, total numeric, ordered_at timestamptz)")
        conn.execute("INSERT INTO orders SELECT i, i %% 4, i * 1.5, %s::timestamptz + i * interval '1 hour' FROM generate_series(0, 95) i",
                     [DAY0])
    return dsn


def definitions() -> dict:
    return {
        "entities": [{"name": "merchant", "keys": {"merchant_id": "bigint"}}],
        "feature_views": [{
            "name": "merchant_orders", "entity": "merchant",
            "source": {"query": "SELECT merchant_id, date_trunc('day', ordered_at) AS event_ts, count(*) AS orders_1d,"
                                " sum(total) AS revenue_1d FROM src_shop.orders GROUP BY 1, 2",
                       "start": DAY0.isoformat()},
            "features": [{"name": "orders_1d", "dtype": "int"}, {"name": "revenue_1d", "dtype": "float8"}]}],
    }


def test_a_foreign_database_feeds_a_sql_defined_view(store, conn, source_dsn, dsn):
    added = store.add_source("shop", source_dsn, ["orders"])
    assert (added["local_schema"], added["tables"]) == ("src_shop", ["orders"])
    store.apply(definitions())
    runs = store.materialize("merchant_orders", end=DAY0 + dt.timedelta(days=4), chunk="2 days")
    assert sum(r["inserted"] for r in runs) == 16  # 4 merchants x 4 days
    with psycopg.connect(source_dsn) as source:
        truth = source.execute("SELECT merchant_id, date_trunc('day', ordered_at), count(*)::int, sum(total)::float8"
                               " FROM orders GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    assert conn.execute("SELECT merchant_id, event_ts, orders_1d, revenue_1d FROM fs_offline.merchant_orders"
                        " ORDER BY 1, 2").fetchall() == truth
    up = {(r["kind"], r["name"]) for r in store.lineage("merchant_orders", "up")}
    assert {("table", "src_shop.orders"), ("source_database", "shop")} <= up
    result = CliRunner().invoke(main, ["--dsn", dsn, "source", "ls"])
    assert result.exit_code == 0 and "src_shop" in result.output and "merchant_orders" in result.output
    with pytest.raises(errors.DefinitionError, match="exists already"):
        store.add_source("shop", source_dsn, ["orders"])
    store.remove_source("shop")
    assert conn.execute("SELECT to_regnamespace('src_shop')").fetchone()[0] is None


def test_bad_source_databases(store, conn, source_dsn, dsn):
    with pytest.raises(errors.ConnectionFailed, match="does not answer"):
        store.add_source("gone", "postgresql://postgres@127.0.0.1:1/nowhere", ["orders"])
    with pytest.raises(errors.NotFound, match="missing_table"):
        store.add_source("shop", source_dsn, ["orders", "missing_table"])
    assert store.sources() == []  # nothing half-made
    assert conn.execute("SELECT count(*) FROM pg_foreign_server").fetchone()[0] == 0
    result = CliRunner().invoke(main, ["--dsn", dsn, "source", "add", "gone", "--source-dsn", "postgresql://postgres@127.0.0.1:1/x",
                                       "--tables", "orders"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "does not answer" in result.stderr
    with pytest.raises(errors.NotFound):
        store.remove_source("never_added")


def test_a_source_that_stops_answering_fails_the_window_and_keeps_the_mark(store, conn, source_server, source_dsn):
    store.add_source("shop", source_dsn, ["orders"])
    store.apply(definitions())
    store.materialize("merchant_orders", end=DAY0 + dt.timedelta(days=1))
    source_server.down()
    try:
        with pytest.raises(errors.SourceFailed, match="merchant_orders"):
            store.materialize("merchant_orders", end=DAY0 + dt.timedelta(days=2))
    finally:
        source_server.up()
    status = conn.execute("SELECT high_water, last_error FROM fs.source_status").fetchone()
    assert status[0] == DAY0 + dt.timedelta(days=1) and status[1]
    assert store.materialize("merchant_orders", end=DAY0 + dt.timedelta(days=2))[0]["inserted"] == 4


def test_an_admin_sees_and_manages_sources_and_replicas(store, conn, source_dsn, dsn, logins):
    """fs_admin reads the source and replica registries and removes a source (a superuser
    added it here: the source server takes no password, which postgres_fdw lets only a
    superuser allow)."""
    store.add_source("shop", source_dsn, ["orders"])
    store.apply(definitions())
    runner = CliRunner()
    listed = runner.invoke(main, ["--dsn", logins["admin"], "source", "ls"])
    assert listed.exit_code == 0, listed.output
    assert "shop" in listed.output
    replicas_ = runner.invoke(main, ["--dsn", logins["admin"], "replica", "status"])
    assert replicas_.exit_code == 0, replicas_.output
    # Materialized by the admin: the query runs as fs_source, which the source's tables were granted to.
    done = runner.invoke(main, ["--dsn", logins["admin"], "materialize", "merchant_orders", "--end", "2026-11-03"])
    assert done.exit_code == 0, done.output
    removed = runner.invoke(main, ["--dsn", logins["admin"], "source", "remove", "shop"])
    assert removed.exit_code == 0, removed.output
    assert conn.execute("SELECT count(*) FROM fs.source_database").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM pg_foreign_server WHERE srvname = 'fs_src_shop'").fetchone()[0] == 0
    # A reader sees neither registry's connection details.
    with psycopg.connect(logins["reader"]) as reader:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("SELECT dsn FROM fs.source_database")
