"""The security suite: each finding of [F6] tried as an attacker would, with real logins.

Every test connects as LOGIN roles granted fs_serving, fs_reader, fs_writer or fs_admin
(conftest ``logins``), attacks, then checks that the attacker's role is unchanged (not a
superuser, no new memberships), that nothing of others was read or changed, and that the
legitimate path still works.
"""
from __future__ import annotations

import contextlib
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
        store.apply(doc2, promote=True)   # v2 serves; v1 stays written (the rollback target)
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
            "SELECT * FROM fs.rollback('user_stats')",
            "SELECT * FROM fs.backfill_chunk('user_stats@2', 1, '2026-11-01')",
            "SELECT * FROM fs.backfill_chunk('user_stats@2', 1, '2026-11-01')",
            "SELECT * FROM fs.promote('user_stats@2', true)",
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
    # Bookkeeping and catalog tables: no role writes them but through fspg's functions;
    # history takes INSERTs (without created_ts) and nothing else; online, nothing.
    writes = conn.execute("""
        SELECT r, c.oid::regclass::text, p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
               unnest(ARRAY['fs_admin', 'fs_writer', 'fs_reader', 'fs_serving', 'fs_source']) r,
               unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
         WHERE n.nspname IN ('fs', 'fs_online', 'fs_training') AND c.relkind IN ('r', 'p')
           AND has_table_privilege(r, c.oid, p)""").fetchall()
    assert writes == []


def _as(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


@contextlib.contextmanager
def sqlstate(code: str):
    """Expect a database error with fspg's SQLSTATE ``code`` (psycopg has no class for ours)."""
    with pytest.raises(psycopg.Error) as caught:
        yield caught
    assert caught.value.sqlstate == code, f"{caught.value.sqlstate}: {caught.value}"


def test_stored_types_are_never_pasted(world, logins, login_names):
    conn = world
    injection = "int, x int); ALTER ROLE " + login_names["writer"] + " SUPERUSER; CREATE TEMP TABLE y (z"
    with _as(logins["writer"]) as writer:
        # A writer cannot plant a batch log row at all ...
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            writer.execute("INSERT INTO fs.ingest_batch (batch_id, version_id, mode, rows_in, inserted, quarantined, columns,"
                           " started_at, finished_at) VALUES (999, 1, 'quarantine', 0, 0, 0, %s, now(), now())",
                           [json.dumps([{"name": "user_id", "type": injection}])])
        # ... nor have the logging function store a type that is not one.
        batch = writer.execute("SELECT nextval('fs.ingest_batch_id_seq')").fetchone()[0]
        with sqlstate("YF010"):
            writer.execute("SELECT fs.record_batch(%s, 1, 'quarantine', NULL, %s, now())",
                           [batch, json.dumps([{"name": "user_id", "type": injection}])])
    # A row written by an earlier release (or by hand) carrying the injection: replaying
    # it as a superuser resolves the type through the catalog and refuses it.
    bad = conn.execute("SELECT batch_id FROM fs.quarantine ORDER BY batch_id LIMIT 1").fetchone()[0]
    columns = conn.execute("SELECT columns FROM fs.ingest_batch WHERE batch_id = %s", [bad]).fetchone()[0]
    planted = [{**c, "type": injection} if c["name"] == "user_id" else c for c in columns]
    conn.execute("UPDATE fs.ingest_batch SET columns = %s WHERE batch_id = %s", [json.dumps(planted), bad])
    with sqlstate("YF010"):
        conn.execute("SELECT * FROM fs.replay_quarantine(%s)", [bad])
    # A CDC source column whose type is a statement: refused for an admin.
    with _as(logins["admin"]) as admin:
        with sqlstate("YF010"):
            admin.execute("SELECT fs.cdc_prepare('evil', 'public.orders', 'daily_spend', NULL, %s, ARRAY['user_id'], 'host=x')",
                          [json.dumps({"user_id": "bigint", "spend_1d": "float8); ALTER ROLE " + login_names["admin"]
                                       + " SUPERUSER; CREATE TABLE z (a int"})])
    assert _role_state(conn, login_names["writer"])[0] is False
    assert _role_state(conn, login_names["admin"])[0] is False
    assert conn.execute("SELECT to_regclass('public.orders')").fetchone()[0] is None
    # The legitimate replay still works once the row is the store's own again.
    conn.execute("UPDATE fs.ingest_batch SET columns = %s WHERE batch_id = %s", [json.dumps(columns), bad])
    with _as(logins["writer"]) as writer:
        replayed = writer.execute("SELECT rows_in, quarantined FROM fs.replay_quarantine(%s)", [bad]).fetchone()
    assert replayed == (1, 1)  # -5 is still below min 0: quarantined again, not lost


def test_bookkeeping_is_written_by_the_store_only(world, logins, login_names):
    conn = world
    logged = conn.execute("SELECT max(batch_id) FROM fs.ingest_batch").fetchone()[0]
    stats_before = conn.execute("SELECT fs.row_count('user_stats', 1)").fetchone()[0]
    with _as(logins["writer"]) as writer:
        plants = [
            ("INSERT INTO fs.ingest_batch (batch_id, version_id, mode, rows_in, inserted, quarantined, columns, started_at,"
             " finished_at, created_by) VALUES (998, 1, 'quarantine', 5, 5, 0, '[]', now(), now(), 'someone_else')"),
            "INSERT INTO fs.quarantine (batch_id, row_number, version_id, data, reasons) VALUES (1, 99, 1, '{}', '{x}')",
            "INSERT INTO fs.history_stats (version_id, rows) VALUES (1, 1000000)",
            "UPDATE fs.quarantine SET replayed_batch_id = 1",
            "DELETE FROM fs.quarantine",
            "SELECT fs.record_source_run(1, now(), '9999-01-01', NULL, 0, 0, 0, 0, now(), ARRAY['public.fake'])",
            "UPDATE fs.view_source SET high_water = '9999-01-01'",
            "INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)"
            " VALUES ('table', 'public.fake', 'feature_view', 'user_stats@1')",
        ]
        for statement in plants:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                writer.execute(statement)
        # Through the functions: a logged batch is final, a batch id not yet issued is refused.
        for statement, args in [
            ("SELECT fs.record_quarantine(%s, 1, '[{\"row_number\": 1, \"data\": {}, \"reasons\": [\"x\"]}]')", [logged]),
            ("SELECT fs.record_batch(%s, 1, 'quarantine', NULL, '[]', now())", [logged]),
            ("SELECT fs.record_batch(%s, 1, 'quarantine', NULL, '[]', now())", [logged + 10_000]),
        ]:
            with sqlstate("YF015"):
                writer.execute(statement, args)
        # What a writer may log is what really happened: an empty batch, logged as empty.
        batch = writer.execute("SELECT nextval('fs.ingest_batch_id_seq')").fetchone()[0]
        row = writer.execute("SELECT rows_in, inserted, created_by FROM fs.record_batch(%s, 1, 'quarantine', 'me', '[]', now())",
                             [batch]).fetchone()
        assert row == (0, 0, login_names["writer"])
        # The legitimate path: rows in = inserted + quarantined, counted by the store.
        store = FeatureStore(logins["writer"])
        result = store.insert_batch("user_stats", {"user_id": [7, 8], "spend_7d": [1.0, -1.0]}, timestamp="2026-11-03")
        store.close()
    assert (result.rows_in, result.inserted, result.quarantined) == (2, 1, 1)
    assert conn.execute("SELECT created_by FROM fs.ingest_batch WHERE batch_id = %s", [result.batch_id]).fetchone()[0] \
        == login_names["writer"]
    assert conn.execute("SELECT count(*) FROM fs.ingest_batch WHERE created_by = 'someone_else'").fetchone()[0] == 0
    assert conn.execute("SELECT high_water < '3000-01-01' OR high_water IS NULL FROM fs.view_source").fetchone()[0]
    # the good row reached v1 as well: the previous version is kept written
    assert conn.execute("SELECT fs.row_count('user_stats', 1)").fetchone()[0] == stats_before + 1


def test_source_queries_run_as_fs_source_whoever_runs_them(world, logins, dsn):
    conn = world
    doc = {"feature_views": [
        {"name": "secrets", "entity": "user", "partition": "day",
         "source": {"query": "SELECT 1::bigint AS user_id, now() - interval '1 hour' AS event_ts,"
                             " (SELECT string_agg(rolname || ':' || coalesce(rolpassword, ''), ',') FROM pg_authid) AS leak",
                    "start": "2026-11-01", "refresh": "1 minute"},
         "features": [{"name": "leak", "dtype": "text"}]},
        {"name": "files", "entity": "user", "partition": "day",
         "source": {"query": "SELECT 1::bigint AS user_id, now() - interval '1 hour' AS event_ts,"
                             " pg_read_file('postgresql.conf') AS leak", "start": "2026-11-01", "refresh": "1 minute"},
         "features": [{"name": "leak", "dtype": "text"}]}]}
    with _as(logins["admin"]) as admin:
        FeatureStore(connection=admin).apply(doc)
    # A superuser runs the upkeep: the admin's queries still run with fs_source's rights.
    from click.testing import CliRunner

    from fspg.cli import main
    assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    upkeep = CliRunner().invoke(main, ["--dsn", dsn, "maintain"])
    assert upkeep.exit_code == 0, upkeep.output
    assert upkeep.output.count("permission denied") == 2, upkeep.output
    assert "postgres:" not in upkeep.output and "data_directory" not in upkeep.output
    with FeatureStore(dsn) as superuser_store:
        for name in ("secrets", "files"):
            with pytest.raises(errors.SourceFailed, match="permission denied"):
                superuser_store.materialize(name)
    for table in ("secrets__v1", "files__v1"):
        assert conn.execute(f"SELECT count(*) FROM fs_offline.{table}").fetchone()[0] == 0
        assert conn.execute(f"SELECT count(*) FROM fs_online.{table}").fetchone()[0] == 0
    # The granted table still feeds its view, for a writer as for a superuser.
    with _as(logins["writer"]) as writer:
        rows = writer.execute("SELECT inserted FROM fs.materialize_source('daily_spend', '2026-11-01', '2026-11-03')").fetchone()
    assert rows[0] == 6


def test_created_ts_is_the_stores_clock_on_every_path(world, logins):
    conn = world
    before = conn.execute("SELECT content_hash FROM fs.verify_training_set('victim')").fetchone()[0]
    with _as(logins["writer"]) as writer:
        for stamp in ("2000-01-01", "9999-01-01"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                writer.execute("INSERT INTO fs_offline.user_stats__v2 (user_id, event_ts, created_ts, spend_7d)"
                               " VALUES (1, '2026-11-02', %s, 999)", [stamp])
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with writer.cursor().copy("COPY fs_offline.user_stats__v2 (user_id, event_ts, created_ts, spend_7d) FROM STDIN") as copy:
                    copy.write_row((1, "2026-11-02", stamp, 999))
        store = FeatureStore(connection=writer)
        import pyarrow as pa
        for data in ({"user_id": [1], "spend_7d": [999.0], "created_ts": [dt.datetime(2000, 1, 1, tzinfo=UTC)]},
                     pa.table({"user_id": [1], "spend_7d": [999.0], "created_ts": [dt.datetime(9999, 1, 1, tzinfo=UTC)]})):
            with pytest.raises(errors.FspgError):
                store.insert_batch("user_stats", data, timestamp="2026-11-02")
        # Plain SQL without it: the store stamps the row.
        writer.execute("INSERT INTO fs_offline.user_stats__v2 (user_id, event_ts, spend_7d) VALUES (9, '2026-11-02', 9)")
    stamped = conn.execute("SELECT created_ts FROM fs_offline.user_stats__v2 WHERE user_id = 9").fetchone()[0]
    assert abs((stamped - dt.datetime.now(UTC)).total_seconds()) < 60
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats__v2 WHERE created_ts < '2026-01-01'"
                        " OR created_ts > now()").fetchone()[0] == 0
    after = conn.execute("SELECT content_hash, identical FROM fs.verify_training_set('victim')").fetchone()
    assert after == (before, True)


def test_an_old_row_makes_one_partition_and_the_bound_holds(dsn, conn, logins):
    doc = {"entities": [{"name": "user", "keys": {"user_id": "bigint"}}],
           "feature_views": [{"name": "daily", "entity": "user", "partition": "day",
                              "features": [{"name": "x", "dtype": "float8"}]}]}
    with FeatureStore(dsn) as store:
        store.apply(doc)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    with _as(logins["writer"]) as writer:
        store = FeatureStore(connection=writer)
        started = time.monotonic()
        result = store.insert_batch("daily", {
            "user_id": list(range(1, 1001)), "x": [1.0] * 1000,
            "event_ts": [dt.datetime(1971, 3, 1, tzinfo=UTC)] + [now - dt.timedelta(hours=i % 48) for i in range(999)]})
        took = time.monotonic() - started
        assert (result.inserted, result.quarantined) == (1000, 0)
        assert took < 5, f"{took:.1f} s"
        # The same through the staging path (a one-shot stream).
        import pyarrow as pa
        stream = pa.RecordBatchReader.from_batches(
            pa.schema([("user_id", pa.int64()), ("x", pa.float64()), ("event_ts", pa.timestamp("us", tz="UTC"))]),
            [pa.record_batch([pa.array([5001, 5002]), pa.array([1.0, 2.0]),
                              pa.array([dt.datetime(1972, 5, 5, tzinfo=UTC), now], pa.timestamp("us", tz="UTC"))],
                             names=["user_id", "x", "event_ts"])])
        staged = store.insert_batch("daily", stream)
        assert (staged.path, staged.inserted) == ("staging", 2)
        partitions = writer.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'fs_offline.daily__v1'::regclass"
                                    ).fetchone()[0]
        assert partitions <= 6  # 1971, 1972, today, yesterday, the day before, and default
        # A writer asking for many periods gets at most the database's bound, whatever it SETs.
        conn.execute(f'ALTER DATABASE "{conn.info.dbname}" SET fspg.max_new_partitions = 5')
        writer.execute("SET fspg.max_new_partitions = 100000")
        created = writer.execute(
            "SELECT fs.ensure_partitions((fs.resolve_version('daily')).version_id,"
            " ARRAY(SELECT generate_series('1980-01-01'::timestamptz, '1980-12-31', '1 day')))").fetchone()[0]
        assert created == 5
    assert conn.execute("SELECT count(*) FROM fs_offline.daily").fetchone()[0] == 1002


def test_a_training_set_name_cannot_reach_another_sets_tables(world, logins):
    conn = world
    before = conn.execute("SELECT pg_get_viewdef('fs_training.victim__v1'::regclass)").fetchone()[0]
    with _as(logins["writer"]) as writer:
        for name in ("victim__v1", "victim__v1__spine", "x;drop", "Victim"):
            with sqlstate("YF001"):
                writer.execute("SELECT * FROM fs.create_training_set(%s, 'SELECT 1::bigint AS user_id, now() AS event_ts',"
                               " ARRAY['user_stats.spend_7d'])", [name])
            with sqlstate("YF001"):
                writer.execute("SELECT * FROM fs.store_training_set(%s, 1, 'event_ts', ARRAY['user_stats@1.spend_7d'],"
                               " now(), 'x', NULL)", [name])
        # The stored version's tables are sealed: storing it again, or writing into them, is refused.
        with sqlstate("YF015"):
            writer.execute("SELECT * FROM fs.store_training_set('victim', 1, 'event_ts', ARRAY['user_stats@1.spend_7d'],"
                           " now(), 'x', NULL)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            writer.execute("INSERT INTO fs_training.victim__v1__spine (user_id, event_ts, fs_ord) VALUES (9, now(), 99)")
        # A spine column of a type the caller made (a domain with a check) is refused.
        writer.execute("CREATE DOMAIN pg_temp.sneaky AS bigint CHECK (VALUE > 0)")
        with sqlstate("YF010"):
            writer.execute("SELECT * FROM fs.open_training_spine('other', ARRAY['user_id', 'fs_ord'],"
                           " ARRAY['pg_temp.sneaky'::regtype::oid, 'bigint'::regtype::oid], ARRAY[-1, -1])")
    assert conn.execute("SELECT pg_get_viewdef('fs_training.victim__v1'::regclass)").fetchone()[0] == before
    assert conn.execute("SELECT identical FROM fs.verify_training_set('victim', 1)").fetchone()[0] is True


def test_readers_read_training_sets_models_statistics_and_lineage(world, logins):
    conn = world
    conn.execute("SELECT * FROM fs.compute_stats('user_stats')")
    with FeatureStore(logins["reader"]) as reader:
        table = reader.get_training_set("victim")
        assert table.num_rows == 2 and table.column("spend_7d").to_pylist() == [4.0, 5.0]
        assert reader.verify_training_set("victim")["identical"] is True
        assert any(m["model"] == "fraud" for m in reader.models())
        assert reader.lineage("user_stats")
        assert reader.load_batch("user_stats", timestamp="2026-11-05").num_rows == 3  # user 3 came by the backfill
    with _as(logins["reader"]) as reader:
        assert reader.execute("SELECT count(*) FROM fs.feature_stats").fetchone()[0] > 0
        assert reader.execute("SELECT current_user").fetchone()[0].startswith("fspg_login_reader")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("SELECT * FROM fs.create_training_set('r', 'SELECT 1::bigint AS user_id, now() AS event_ts',"
                           " ARRAY['user_stats.spend_7d'])")


def _with_password(dsn: str, password: str) -> str:
    return psycopg.conninfo.make_conninfo(**{**psycopg.conninfo.conninfo_to_dict(dsn), "password": password})


def test_no_password_reaches_a_statement_a_log_or_a_readable_row(server_pair):
    from click.testing import CliRunner

    from fspg import cdc, migrate, replicas
    from fspg.cli import main
    from tests.conftest import database_on_each

    secret = f"s3cret-{time.monotonic_ns()}"
    source_server, store_server = server_pair
    with database_on_each(server_pair) as (source_dsn, store_dsn):
        with _as(source_dsn) as app:
            app.execute("CREATE TABLE public.orders (order_id bigint PRIMARY KEY, total numeric, status text)")
        migrate.upgrade(store_dsn)
        with FeatureStore(store_dsn) as store:
            store.apply({"entities": [{"name": "order", "keys": {"order_id": "bigint"}}],
                         "feature_views": [{"name": "order_events", "entity": "order",
                                            "features": [{"name": "total", "dtype": "float8"}]}]})
        # (trust authentication on these servers ignores the password; what matters is where it is written)
        source_with_password = _with_password(source_dsn, secret)

        # A CDC add whose CREATE SUBSCRIPTION fails (a subscription of that name exists, not fspg's).
        with _as(store_dsn) as store:
            store.execute("CREATE SUBSCRIPTION fspg_cdc_shop CONNECTION 'dbname=elsewhere' PUBLICATION p"
                          " WITH (connect = false, slot_name = NONE)")
        with pytest.raises(psycopg.Error):
            cdc.add(store_dsn, "shop", source_with_password, "public.orders", "order_events")
        with _as(source_dsn) as app:
            assert app.execute("SELECT count(*) FROM pg_publication WHERE pubname = 'fspg_cdc_shop'").fetchone()[0] == 0
            assert app.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'fspg_cdc_shop'").fetchone()[0] == 0
        with _as(store_dsn) as store:
            assert store.execute("SELECT count(*) FROM fs.source_database").fetchone()[0] == 0
            assert store.execute("SELECT to_regclass('public.orders')").fetchone()[0] is None
            store.execute("DROP SUBSCRIPTION fspg_cdc_shop")  # the decoy was left alone

        # The same add, now succeeding: nothing readable holds the password.
        cdc.add(store_dsn, "shop", source_with_password, "public.orders", "order_events")
        with _as(store_dsn) as store:
            assert secret not in json.dumps(store.execute("SELECT * FROM fs.source_database").fetchall(), default=str)
        status = CliRunner().invoke(main, ["--dsn", store_dsn, "source", "status"])
        assert status.exit_code == 0 and secret not in status.output

        # A replica of the feature store (on the source's server), its add failing first, then working.
        replica_dsn = source_dsn
        store_with_password = _with_password(store_dsn, secret)
        with _as(replica_dsn) as replica:
            replica.execute("CREATE SUBSCRIPTION fspg_rep CONNECTION 'dbname=elsewhere' PUBLICATION p"
                            " WITH (connect = false, slot_name = NONE)")
        with pytest.raises(psycopg.Error):
            replicas.add(store_with_password, replica_dsn, name="rep")
        with _as(store_dsn) as store:
            assert store.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'fspg_rep'").fetchone()[0] == 0
        with _as(replica_dsn) as replica:
            replica.execute("DROP SUBSCRIPTION fspg_rep")
        replicas.add(store_with_password, replica_dsn, name="rep")
        with _as(store_dsn) as store:
            assert secret not in json.dumps(store.execute("SELECT * FROM fs.replica").fetchall(), default=str)
        with _as(replica_dsn) as replica:  # the subscription itself has it: only a superuser reads that
            assert secret in replica.execute("SELECT subconninfo FROM pg_subscription WHERE subname = 'fspg_rep'").fetchone()[0]
        replicas.remove(store_dsn, "rep")
        cdc.remove(store_dsn, "shop")

    for server in server_pair:
        log = server.log_file.read_text(errors="replace")
        assert secret not in log, f"the password is in {server.log_file}"
    # The failed statements were logged (so the check above could have found it).
    assert "CREATE SUBSCRIPTION" in store_server.log_file.read_text(errors="replace")
