"""A server that asks for passwords (scram-sha-256), as managed PostgreSQL does: fspg's own
side connections (ADBC reads, a second training-set session) keep the credentials of the
connection or pool they were given."""
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
    hba = server.data_dir / "pg_hba.conf"
    hba.write_text("host all app_user 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
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
