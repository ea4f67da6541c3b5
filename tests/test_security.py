"""The security suite: each finding of [F6] tried as an attacker would, with real logins.

Every test connects as LOGIN roles granted fs_serving, fs_reader, fs_writer or fs_admin
(conftest ``logins``), attacks, then checks that the attacker's role is unchanged (not a
superuser, no new memberships), that nothing of others was read or changed, and that the
legitimate path still works.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import time

import psycopg
import pytest
from psycopg import sql

from fspg import FeatureStore, errors
from tests.defs import base, view

UTC = dt.timezone.utc
# Names working tables of earlier releases had: still shadowed, in case one comes back.
HISTORIC_WORKING_TABLES = {
    "fs_serving_features", "fs_resolved_refs", "fs_apply_plan", "fs_training_features", "fs_drift_stats",
    "fs_spine_copy", "fs_replay", "fs_source_rows", "fs_lineage_start", "fs_spine_query", "fs_source_probe",
    "fs_signature_probe", "fs_serving_shape", "fs_spine_shape",
}
TEMP_NAME = re.compile(r"(?i)(?:temp\s+(?:table|view)\s+(?:if\s+not\s+exists\s+)?|pg_temp\.)([a-z_][a-z0-9_]*)")
# The payload reports itself by a notice: delivered at once, whatever is rolled back later.
PAYLOAD = """
CREATE FUNCTION pg_temp.fs_payload() RETURNS integer LANGUAGE plpgsql AS $p$
BEGIN
    RAISE WARNING 'fspg-payload ran as %', current_user;
    BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', session_user); EXCEPTION WHEN OTHERS THEN NULL; END;
    BEGIN EXECUTE format('GRANT fs_owner TO %I', session_user); EXCEPTION WHEN OTHERS THEN NULL; END;
    BEGIN EXECUTE format('GRANT fs_admin TO %I', session_user); EXCEPTION WHEN OTHERS THEN NULL; END;
    RETURN 1;
END $p$;
CREATE FUNCTION pg_temp.fs_payload_trigger() RETURNS trigger LANGUAGE plpgsql AS $p$
BEGIN PERFORM pg_temp.fs_payload(); RETURN NEW; END $p$;
"""


def _role_state(admin_conn, login: str) -> tuple:
    """What an escalation would change: superuser, CREATEROLE, and the roles it is in."""
    return admin_conn.execute(
        "SELECT r.rolsuper, r.rolcreaterole, (SELECT array_agg(g.rolname ORDER BY g.rolname) FROM pg_auth_members m"
        " JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) FROM pg_roles r WHERE r.rolname = %s",
        [login]).fetchone()


def _fs_functions(conn) -> dict[str, tuple[bool, str]]:
    rows = conn.execute("""
        SELECT p.oid::regprocedure::text, p.proname, p.prosecdef, p.prosrc
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'fs'""").fetchall()
    return {sig: (name, definer, src) for sig, name, definer, src in rows}


def working_table_definers(conn) -> set[str]:
    """SECURITY DEFINER functions that use a working table themselves or through an fs
    function they call (enumerated from pg_proc, not picked by hand)."""
    functions = _fs_functions(conn)
    uses = {name for name, _, src in functions.values() if TEMP_NAME.search(src)}
    changed = True
    while changed:  # the closure over calls by name: fs.<name>(
        changed = False
        for name, _, src in functions.values():
            if name not in uses and any(re.search(rf"\bfs\.{re.escape(u)}\s*\(", src) for u in uses):
                uses.add(name)
                changed = True
    return {sig for sig, (name, definer, _) in functions.items() if definer and name in uses}


def shadow_names(conn) -> set[str]:
    """Every name an fs function creates or reads in pg_temp, and the historic ones."""
    found = {m.group(1).lower() for _, _, src in _fs_functions(conn).values() for m in TEMP_NAME.finditer(src)}
    return found | HISTORIC_WORKING_TABLES


def _plant(conn, names: set[str], kind: str) -> None:
    for name in sorted(names):
        ident = sql.Identifier(name)
        if kind == "table":
            # Every column a working table ever had, each defaulting to the payload, and
            # triggers on every write: whoever writes this table runs the payload.
            conn.execute(sql.SQL(
                "CREATE TEMP TABLE {} (ord integer DEFAULT pg_temp.fs_payload(), feature_id integer, version_id integer,"
                " view_name text, view_version integer, feature text, feature_name text, dtype text, kind text, name text,"
                " version integer, action text, side text, stats text, fs_row bigint DEFAULT pg_temp.fs_payload(),"
                " fs_ord bigint DEFAULT pg_temp.fs_payload(), user_id bigint, event_ts timestamptz)").format(ident))
            conn.execute(sql.SQL("CREATE TRIGGER payload BEFORE INSERT OR UPDATE OR DELETE ON {}"
                                 " FOR EACH ROW EXECUTE FUNCTION pg_temp.fs_payload_trigger()").format(ident))
            conn.execute(sql.SQL("CREATE TRIGGER payload_truncate BEFORE TRUNCATE ON {}"
                                 " FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.fs_payload_trigger()").format(ident))
            conn.execute(sql.SQL("GRANT ALL ON {} TO PUBLIC").format(ident))
        else:
            conn.execute(sql.SQL("CREATE TEMP VIEW {} AS SELECT pg_temp.fs_payload() AS ord, 1::bigint AS user_id,"
                                 " now() AS event_ts, 1::bigint AS fs_ord").format(ident))
            conn.execute(sql.SQL("GRANT ALL ON {} TO PUBLIC").format(ident))


@pytest.fixture
def world(dsn, conn, logins):
    """A store with views, a second version, a service, quarantined rows, a SQL-defined
    view, a training set and a model; the payments table granted to fs_source."""
    doc = base()
    doc["feature_views"].append({
        "name": "daily_spend", "entity": "user", "partition": "day",
        "source": {"query": "SELECT user_id, date_trunc('day', paid_at) AS event_ts, sum(amount)::float8 AS spend_1d"
                            " FROM public.payments GROUP BY 1, 2", "start": "2026-11-01"},
        "features": [{"name": "spend_1d", "dtype": "float8"}]})
    conn.execute("CREATE TABLE public.payments (user_id bigint, amount numeric, paid_at timestamptz)")
    conn.execute("INSERT INTO public.payments SELECT u, u * 10, '2026-11-01'::timestamptz + h * interval '6 hours'"
                 " FROM generate_series(1, 3) u, generate_series(0, 7) h")
    conn.execute("GRANT SELECT ON public.payments TO fs_source")
    with FeatureStore(dsn) as store:
        store.apply(doc)
        store.insert_batch("user_stats", {"user_id": [1, 2, 3], "spend_7d": [1.0, -5.0, 3.0]}, timestamp="2026-11-01")
        doc2 = base()
        view(doc2, "user_stats")["features"][0]["rules"]["max"] = 2000
        store.apply(doc2)
        store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [4.0, 5.0]}, timestamp="2026-11-02")
        store.create_training_set("victim", {"user_id": [1, 2], "event_ts": ["2026-11-03", "2026-11-03"]},
                                  features=["user_stats.spend_7d"])
        store.register_model("fraud", features=["user_stats.spend_7d"])
    return conn


def _workflow(kind: str, conn, ids: dict) -> list[tuple[str, str | None]]:
    """What a login of this kind calls: every SECURITY DEFINER entry point it may use.
    Returns (step, error or None) so a shadowed name making a step fail is visible."""
    steps = {
        "serving": [
            "SELECT * FROM fs.online_query(ARRAY['user_stats.spend_7d', 'fx_rates.eur_usd'])",
            f"SELECT * FROM fs.serving_query(ARRAY[{ids['feature']}])",
            "SELECT * FROM fs.model_refs('fraud', NULL)",
            "SELECT * FROM fs_serving.scoring(ARRAY[1::bigint])",
        ],
        "writer": [
            "SELECT * FROM fs.create_training_set('attack', 'SELECT 1::bigint AS user_id, now() AS event_ts',"
            " ARRAY['user_stats.spend_7d'])",
            "SELECT * FROM fs.compare_versions('user_stats', 1, 2)",
            "SELECT * FROM fs.training_serving_skew('user_stats')",
            "SELECT * FROM fs.drift_report('user_stats@1', 'history', 'user_stats@2', 'online')",
            f"SELECT * FROM fs.replay_quarantine({ids['bad_batch']}, 'user_stats@2')",
            "SELECT * FROM fs.materialize_source('daily_spend', '2026-11-01', '2026-11-02')",
            "SELECT * FROM fs.run_due_sources()",
            "SELECT * FROM fs.register_model('attack', NULL, NULL, ARRAY['user_stats.spend_7d'])",
            "SELECT * FROM fs.verify_training_set('victim')",
            "SELECT * FROM fs.lineage('user_stats', 'both')",
        ],
        "admin": [
            "SELECT * FROM fs.apply('" + json.dumps({
                "feature_views": [{"name": "extra", "entity": "user", "features": [{"name": "x", "dtype": "int"}]}],
                "feature_services": [{"name": "extra_svc", "features": ["extra.x", "user_stats.spend_7d"]}]}) + "'::jsonb, true)",
            "SELECT * FROM fs.apply('" + json.dumps({
                "feature_views": [{"name": "extra", "entity": "user", "features": [{"name": "x", "dtype": "int"}]}],
                "feature_services": [{"name": "extra_svc", "features": ["extra.x", "user_stats.spend_7d"]}]}) + "'::jsonb)",
            "SELECT * FROM fs.maintain()",
            "SELECT fs.forget('user_stats', '{\"user_id\": 3}'::jsonb, 'attack test')",
        ],
    }[kind]
    outcome = []
    for statement in steps:
        try:
            with conn.transaction():
                conn.execute(statement).fetchall()
            outcome.append((statement, None))
        except psycopg.Error as err:
            outcome.append((statement, f"{err.sqlstate}: {err}"))
    return outcome


def _ids(conn) -> dict:
    return {
        "feature": conn.execute("SELECT feature_id FROM fs.feature ORDER BY feature_id LIMIT 1").fetchone()[0],
        "bad_batch": conn.execute("SELECT batch_id FROM fs.quarantine ORDER BY batch_id LIMIT 1").fetchone()[0],
    }


def test_temp_shadowing_reaches_nobody_from_any_role(world, logins, login_names, dsn, admin_dsn):
    conn = world
    conn.execute(f'ALTER DATABASE "{conn.info.dbname}" SET track_functions = \'all\'')
    names = shadow_names(conn)
    ids = _ids(conn)
    before = {kind: _role_state(conn, login_names[kind]) for kind in ("serving", "writer", "admin")}
    for kind in ("serving", "writer", "admin"):
        for plant in ("table", "view"):
            with psycopg.connect(logins[kind], autocommit=True) as attacker:
                notices = []
                attacker.add_notice_handler(lambda n: notices.append(n.message_primary or ""))
                attacker.execute(PAYLOAD)
                _plant(attacker, names, plant)
                attacker.execute("SELECT pg_temp.fs_payload()")  # the probe works: it reports the attacker
                _workflow(kind, attacker, ids)
            ran_as = {m.removeprefix("fspg-payload ran as ") for m in notices if m.startswith("fspg-payload ran as ")}
            assert login_names[kind] in ran_as
            # The payload may run as the attacker itself (its own table); never as anyone else.
            assert ran_as <= {login_names[kind]}, f"{kind}/{plant}: the payload ran as {ran_as}"
            assert _role_state(conn, login_names[kind]) == before[kind]
        # Without planted objects the same calls succeed: the fix did not break the path.
        with psycopg.connect(logins[kind], autocommit=True) as clean:
            failed = [(step, error) for step, error in _workflow(kind, clean, ids) if error and "apply" not in step]
        assert failed == [], failed

    # Every SECURITY DEFINER function that uses a working table was attacked.
    conn.execute("SELECT pg_stat_clear_snapshot()")
    called = {r[0] for r in conn.execute(
        "SELECT (p.oid::regprocedure)::text FROM pg_stat_user_functions s JOIN pg_proc p ON p.oid = s.funcid WHERE s.calls > 0")}
    missed = working_table_definers(conn) - called
    assert working_table_definers(conn), "no SECURITY DEFINER function uses a working table: the enumeration is broken"
    assert missed == set(), f"SECURITY DEFINER functions with working tables the attack never reached: {missed}"


def test_no_superuser_owns_fspg_and_every_definer_pins_its_path(conn):
    owners = conn.execute("""
        SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('fs', 'fs_offline', 'fs_online', 'fs_serving', 'fs_training')
        UNION SELECT DISTINCT pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname IN ('fs', 'fs_offline', 'fs_online', 'fs_serving', 'fs_training')
        UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname LIKE 'fs%'""").fetchall()
    assert {o[0] for o in owners} <= {"fs_owner", "fs_source"}
    assert conn.execute("SELECT bool_or(rolsuper OR rolbypassrls OR rolcreaterole OR rolcanlogin) FROM pg_roles"
                        " WHERE rolname IN ('fs_owner', 'fs_source')").fetchone()[0] is False
    bad = conn.execute("""
        SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner), p.proconfig
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          JOIN pg_roles r ON r.oid = p.proowner
         WHERE n.nspname LIKE 'fs%' AND p.prosecdef
           AND (r.rolsuper OR NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                                           WHERE c ~ '^search_path=pg_catalog(, [a-z_]+)*, pg_temp$'))""").fetchall()
    assert bad == []
