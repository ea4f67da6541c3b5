"""fspg migrate: alembic over sql/, idempotent, concurrent-safe, and a committed schema snapshot."""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import psycopg
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from fspg import migrate, sqlfiles
from fspg.cli import main
from tests.snapshot import catalog_snapshot

SNAPSHOT = Path(__file__).parent / "snapshots" / "catalog.txt"


def _snapshot(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return catalog_snapshot(conn)


def test_migrate_twice_is_a_no_op(empty_dsn):
    result = CliRunner().invoke(main, ["--dsn", empty_dsn, "migrate"])
    assert result.exit_code == 0 and f"schema at revision {migrate.head_revision()}" in result.output
    first = _snapshot(empty_dsn)
    result = CliRunner().invoke(main, ["--dsn", empty_dsn, "migrate"])
    assert result.exit_code == 0
    assert _snapshot(empty_dsn) == first
    assert migrate.current_revision(empty_dsn) == migrate.head_revision()


def test_users_own_alembic_table_is_untouched(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO public.alembic_version VALUES ('users_own_rev')")
    migrate.upgrade(empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT version_num FROM public.alembic_version").fetchall() == [("users_own_rev",)]
        assert conn.execute("SELECT version_num FROM fs.alembic_version").fetchall() == [(migrate.head_revision(),)]


def test_two_migrates_at_once(empty_dsn):
    errors = []

    def run():
        try:
            migrate.upgrade(empty_dsn)
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert migrate.current_revision(empty_dsn) == migrate.head_revision()


def test_migrate_sql_prints_ddl_for_a_dba():
    result = CliRunner().invoke(main, ["migrate", "--sql"])
    assert result.exit_code == 0
    sql = result.output
    assert "CREATE TABLE fs.entity" in sql
    assert "CREATE OR REPLACE FUNCTION fs.apply(" in sql
    assert "fs.alembic_version" in sql
    assert sql.index("CREATE TABLE fs.entity") < sql.index("CREATE OR REPLACE FUNCTION fs.apply(")


def test_every_sql_migration_has_one_revision_and_back():
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = {rev.module.sql_file: rev.revision for rev in script.walk_revisions()}
    assert sorted(revisions) == sqlfiles.migration_files()
    for sql_file, revision in revisions.items():
        assert sql_file.startswith(revision + "_")


def test_function_files_only_create_or_replace():
    for name in sqlfiles.function_files():
        text = sqlfiles.read_function_file(name)
        assert text.startswith(f"-- {name.removesuffix('.sql')}:"), f"{name} needs a header comment saying what it owns"
        creates = re.findall(r"^CREATE\s+(?!OR REPLACE)(\w+)", text, flags=re.M | re.I)
        assert creates == [], f"{name} creates without OR REPLACE: {creates}"


def test_schema_matches_committed_snapshot(dsn, server_version):
    """The catalog after migrate equals tests/snapshots/catalog.txt.

    After an intended SQL change: FSPG_UPDATE_SNAPSHOT=1 make test, then review the diff.
    """
    actual = _snapshot(dsn)
    path = SNAPSHOT if server_version >= 18 else SNAPSHOT.with_name(f"catalog.pg{server_version}.txt")
    if os.environ.get("FSPG_UPDATE_SNAPSHOT") == "1":
        path.write_text(actual)
    assert path.exists(), f"no snapshot for PostgreSQL {server_version}; run with FSPG_UPDATE_SNAPSHOT=1"
    assert actual == path.read_text()


def test_stepwise_upgrade_equals_fresh_install(empty_dsn, dsn):
    script = ScriptDirectory.from_config(migrate.alembic_config())
    for rev in reversed(list(script.walk_revisions())):
        migrate.upgrade(empty_dsn, rev.revision)
    assert _snapshot(empty_dsn) == _snapshot(dsn)


def test_a_createrole_admin_migrates_a_fresh_server(tmp_path):
    """A managed service's admin user (CREATEROLE, CREATEDB, no superuser) migrates: every
    object still belongs to fs_owner, what needs a superuser is skipped with a notice, and
    the store works. A fresh server of its own: roles are cluster-wide."""
    from fspg import FeatureStore
    from fspg.server import EmbeddedServer
    from tests.defs import base

    server = EmbeddedServer(tmp_path / "managed")
    info = server.up()
    try:
        with psycopg.connect(info.dsn_for("postgres"), autocommit=True) as conn:
            conn.execute("CREATE ROLE cloud_admin LOGIN CREATEROLE CREATEDB")
        params = {**psycopg.conninfo.conninfo_to_dict(info.dsn_for("postgres")), "user": "cloud_admin"}
        with psycopg.connect(psycopg.conninfo.make_conninfo(**params), autocommit=True) as conn:
            conn.execute("CREATE DATABASE managed")
        dsn = psycopg.conninfo.make_conninfo(**{**params, "dbname": "managed"})
        assert migrate.upgrade(dsn) == migrate.head_revision()
        assert migrate.upgrade(dsn) == migrate.head_revision()  # and again: a no-op
        with FeatureStore(dsn) as store:
            store.apply(base())
            result = store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [1.0, -1.0]}, timestamp="2026-11-01")
        assert (result.inserted, result.quarantined) == (1, 1)
        with psycopg.connect(dsn) as conn:
            owners = conn.execute("SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n"
                                  " ON n.oid = c.relnamespace WHERE n.nspname LIKE 'fs%'").fetchall()
            assert owners == [("fs_owner",)]
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0] is False
    finally:
        server.destroy()
