"""The role matrix: each fs_* role tries each kind of access; allowed works, the rest is denied."""
from __future__ import annotations

import json

import psycopg
import pytest

from fspg import FeatureStore, errors
from tests.defs import base

NEW_VIEW = json.dumps({"feature_views": [{"name": "extra", "features": [{"name": "x", "dtype": "int"}]}]})

ACTIONS = {
    "read catalog": "SELECT count(*) FROM fs.feature_views",
    "describe": "SELECT fs.describe_feature_view('user_stats')",
    "define features": f"SELECT * FROM fs.apply('{NEW_VIEW}'::jsonb)",
    "insert history": "INSERT INTO fs_offline.user_stats__v1 (user_id, event_ts, spend_7d) VALUES (9, now(), 1)",
    "read history": "SELECT count(*) FROM fs_offline.user_stats",
    "update history": "UPDATE fs_offline.user_stats__v1 SET spend_7d = 2",
    "delete history": "DELETE FROM fs_offline.user_stats__v1",
    "read online": "SELECT count(*) FROM fs_online.user_stats",
    "write online": "INSERT INTO fs_online.user_stats__v1 (user_id, event_ts, created_ts) VALUES (9, now(), now())",
    "write catalog tables": "INSERT INTO fs.entity (name) VALUES ('sneaky')",
    "create table in fs_offline": "CREATE TABLE fs_offline.sneaky (x int)",
    "create training set": ("SELECT * FROM fs.create_training_set('probe', 'SELECT 1::bigint AS user_id, now() AS event_ts',"
                            " ARRAY['user_stats.spend_7d'])"),
    "register model": "SELECT * FROM fs.register_model('probe', NULL, NULL, ARRAY['user_stats.spend_7d'])",
    "read models": "SELECT count(*) FROM fs.models",
    "deprecate version": "SELECT fs.deprecate_feature_view('user_stats@1')",
}

ALLOWED = {
    "admin": {"read catalog", "describe", "define features", "insert history", "read history", "read online",
              "create training set", "register model", "read models", "deprecate version"},
    "writer": {"read catalog", "describe", "insert history", "read history", "read online",
               "create training set", "register model", "read models"},
    "reader": {"read catalog", "describe", "read history", "read online", "read models"},
    "serving": {"read online"},
    "nobody": set(),
}


@pytest.fixture
def applied(dsn, conn, logins):
    with FeatureStore(dsn) as store:
        store.apply(base())
    conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fspg_login_nobody')"
                 " THEN CREATE ROLE fspg_login_nobody LOGIN; END IF; END $$")
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    return {**logins, "nobody": psycopg.conninfo.make_conninfo(**{**params, "user": "fspg_login_nobody"})}


@pytest.mark.parametrize("role", list(ALLOWED))
def test_role_matrix(applied, role):
    """Each action tried by a login of the role (a real connection, not SET ROLE)."""
    outcomes = {}
    with psycopg.connect(applied[role]) as conn:
        assert conn.execute("SELECT current_user = session_user").fetchone()[0]
        for action, statement in ACTIONS.items():
            try:
                conn.execute(statement)
                outcomes[action] = "allowed"
            except psycopg.errors.InsufficientPrivilege:
                outcomes[action] = "denied"
            conn.rollback()
    expected = {a: ("allowed" if a in ALLOWED[role] else "denied") for a in ACTIONS}
    assert outcomes == expected


def test_permission_denied_is_an_fspg_error(applied):
    with FeatureStore(applied["reader"]) as store:
        with pytest.raises(errors.PermissionDenied):
            store.apply({"feature_views": [{"name": "extra", "features": [{"name": "x", "dtype": "int"}]}]})
        assert {v["name"] for v in store.list_feature_views()} == {"user_stats", "fx_rates"}


def test_security_definer_functions_pin_search_path(conn):
    unpinned = conn.execute("""
        SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'fs' AND p.prosecdef
           AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
           -- source queries (run as fs_source) also resolve names in public, after pg_catalog
           AND NOT (pg_get_userbyid(p.proowner) = 'fs_source'
                    AND coalesce('search_path=pg_catalog, public, pg_temp' = ANY (p.proconfig), false))""").fetchall()
    assert unpinned == []
    public_exec = conn.execute("""
        SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'fs' AND has_function_privilege('public', p.oid, 'EXECUTE')""").fetchall()
    assert public_exec == []


def test_a_writer_ingests_on_both_paths_and_a_reader_cannot(applied):
    import pyarrow as pa

    with FeatureStore(applied["writer"]) as store:
        clean = store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [1.0]}, timestamp="2026-11-01")
        staged = store.insert_batch("user_stats", pa.RecordBatchReader.from_batches(
            pa.schema([("user_id", pa.int64()), ("spend_7d", pa.float64())]),
            [pa.record_batch([pa.array([2, 3]), pa.array([2.0, -1.0])], names=["user_id", "spend_7d"])]),
            timestamp="2026-11-01")
    assert (clean.path, clean.inserted) == ("direct", 1)
    assert (staged.path, staged.inserted, staged.quarantined) == ("staging", 1, 1)
    with FeatureStore(applied["reader"]) as store:
        with pytest.raises(errors.PermissionDenied):
            store.insert_batch("user_stats", {"user_id": [4], "spend_7d": [1.0]}, timestamp="2026-11-01")
        assert store.load_batch("user_stats", timestamp="2026-11-02").num_rows == 2


def test_a_side_connection_keeps_the_role_a_caller_set(applied, dsn):
    """A caller's connection that switched role: fspg's own side connections (ADBC reads)
    act in that role too, never with the login's wider rights."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET ROLE fs_serving")
        store = FeatureStore(connection=conn)
        with pytest.raises(errors.PermissionDenied):
            store.load_batch("user_stats", timestamp="2026-11-02")
