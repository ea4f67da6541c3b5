"""A server that asks for passwords (scram-sha-256), as managed PostgreSQL does: fspg's own
side connections (ADBC reads, a second training-set session) keep the credentials of the
connection or pool they were given, and a master user without superuser (CREATEROLE,
CREATEDB) runs the whole journey; what needs more is refused naming the grant."""
from __future__ import annotations

import psycopg
import pytest

from fspg import FeatureStore, errors, migrate
from fspg.server import EmbeddedServer
from tests.defs import base

PASSWORD = "s3cr3t pass'word"


@pytest.fixture(scope="module")
def scram_server(tmp_path_factory):
    """An embedded server whose login app_user must authenticate with a password over TCP."""
    server = EmbeddedServer(tmp_path_factory.mktemp("scram"))
    info = server.up()
    superuser = info.dsn_for("postgres")
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute("CREATE DATABASE managed")
    migrate.upgrade(info.dsn_for("managed"))
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(psycopg.sql.SQL("CREATE ROLE app_user LOGIN PASSWORD {}").format(psycopg.sql.Literal(PASSWORD)))
        conn.execute("GRANT fs_admin TO app_user")
        # A managed service's master user: no superuser, CREATEROLE and CREATEDB.
        conn.execute(psycopg.sql.SQL("CREATE ROLE master LOGIN CREATEROLE CREATEDB PASSWORD {}").format(
            psycopg.sql.Literal(PASSWORD)))
    hba = server.data_dir / "pg_hba.conf"
    hba.write_text("host all app_user 127.0.0.1/32 scram-sha-256\n"
                   "host all master 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    yield info
    server.destroy()


def _dsn(info, password: str | None) -> str:
    params = {**psycopg.conninfo.conninfo_to_dict(info.dsn_for("managed")), "user": "app_user"}
    if password is not None:
        params["password"] = password
    return psycopg.conninfo.make_conninfo(**params)


def test_side_connections_keep_the_password_of_a_given_connection(scram_server):
    with pytest.raises(errors.ConnectionFailed):
        FeatureStore(_dsn(scram_server, "wrong")).list_feature_views()
    with psycopg.connect(_dsn(scram_server, PASSWORD)) as conn:
        store = FeatureStore(connection=conn)
        store.apply(base())
        store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [1.0, 2.0]}, timestamp="2026-11-01")
        conn.commit()
        # ADBC opens its own connection: with the password of the one given.
        assert store.load_batch("user_stats", timestamp="2026-11-02").num_rows == 2
        spine = {"user_id": [1, 2] * 50, "event_ts": ["2026-11-02"] * 100}
        table = store.get_training_set(spine, features=["user_stats.spend_7d"], sessions=2)
        assert table.num_rows == 100
    with FeatureStore(_dsn(scram_server, PASSWORD)) as pooled:
        assert pooled.load_history("user_stats").num_rows == 2


def test_roles_made_by_another_admin_are_named_when_migrate_may_not_grant_them(scram_server):
    """PostgreSQL 16 on: a CREATEROLE user grants only roles it has ADMIN OPTION on, so a
    second admin cannot migrate where a first made the fs_* roles; before 16 it can."""
    master = {**psycopg.conninfo.conninfo_to_dict(scram_server.dsn_for("postgres")), "user": "master",
              "password": PASSWORD}
    with psycopg.connect(psycopg.conninfo.make_conninfo(**master), autocommit=True) as conn:
        conn.execute("CREATE DATABASE second")
        sixteen = conn.info.server_version >= 160000
    second = psycopg.conninfo.make_conninfo(**{**master, "dbname": "second"})
    if not sixteen:
        assert migrate.upgrade(second) == migrate.head_revision()
        return
    with pytest.raises(errors.PermissionDenied, match="made by another role") as caught:
        migrate.upgrade(second)
    assert "WITH ADMIN OPTION" in caught.value.hint


@pytest.fixture
def master_server(tmp_path):
    """A fresh server whose first admin is a password-authenticated master user without
    superuser (CREATEROLE, CREATEDB): the fs_* roles are its to make."""
    server = EmbeddedServer(tmp_path / "master")
    info = server.up()
    superuser = info.dsn_for("postgres")
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(psycopg.sql.SQL("CREATE ROLE master LOGIN CREATEROLE CREATEDB PASSWORD {}").format(
            psycopg.sql.Literal(PASSWORD)))
    hba = server.data_dir / "pg_hba.conf"
    hba.write_text("host all master 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    yield {**psycopg.conninfo.conninfo_to_dict(superuser), "user": "master", "password": PASSWORD}
    server.destroy()


def test_a_master_user_with_a_password_runs_the_whole_journey(master_server):
    import datetime as dt

    from click.testing import CliRunner

    from fspg.cli import main

    master = master_server
    with psycopg.connect(psycopg.conninfo.make_conninfo(**master), autocommit=True) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)
        conn.execute("CREATE DATABASE journey")
    dsn = psycopg.conninfo.make_conninfo(**{**master, "dbname": "journey"})
    run = lambda *args: CliRunner().invoke(main, ["--dsn", dsn, *args])  # noqa: E731
    migrated = run("migrate")
    assert migrated.exit_code == 0, migrated.output
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.payments (user_id bigint, amount numeric, paid_at timestamptz)")
        conn.execute("INSERT INTO public.payments SELECT u, u, %s FROM generate_series(1, 5) u", [now])
        conn.execute("GRANT SELECT ON public.payments TO fs_source")
    doc = base()
    doc["feature_views"].append({"name": "paid", "entity": "user", "partition": "day",
                                 "source": {"query": "SELECT user_id, paid_at AS event_ts, amount::float8 AS amount"
                                                     " FROM public.payments", "start": "2026-01-01"},
                                 "features": [{"name": "amount", "dtype": "float8"}]})
    with FeatureStore(dsn) as store:
        store.apply(doc)
        assert store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [1.0, 2.0]}, timestamp=now).inserted == 2
        assert store.materialize("paid")[0]["inserted"] == 5
        assert store.load_batch("user_stats").num_rows == 2                          # ADBC, with the password
        spine = {"user_id": [1, 2] * 100, "event_ts": [now + dt.timedelta(minutes=1)] * 200}
        assert store.get_training_set(spine, ["user_stats.spend_7d", "paid.amount"], sessions=2).num_rows == 200
        made = store.create_training_set("journey", spine, ["user_stats.spend_7d", "paid.amount"])
        assert store.verify_training_set("journey", made.version)["identical"] is True
        changed = base()
        changed["feature_views"][0]["features"][0]["rules"]["max"] = 50
        store.apply(changed, promote=True)
        assert store.get_online_features(["user_stats.spend_7d"], entities=[2], as_dicts=True)[0]["spend_7d"] == 2.0
        assert store.forget("user_stats", {"user_id": 1}) >= 1
        # What a master user may not do is refused first, naming what to grant.
        with pytest.raises(errors.PermissionDenied, match="pg_create_subscription|superuser"):
            store.add_cdc_source("shop", dsn, "public.payments", "user_stats")
        with pytest.raises(errors.FspgError, match="postgres_fdw"):
            store.add_source("ledger", dsn, ["payments"])
