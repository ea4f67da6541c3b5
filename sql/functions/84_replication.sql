-- 84_replication: serving replicas by native logical replication. The primary
-- publishes every online table (publication fspg_online, FOR TABLES IN SCHEMA
-- fs_online, so tables made later are in it at once); a replica gets the same online
-- tables, views and serving functions, and a subscription.
-- Owns: fs.ensure_publication, fs.replica_ddl, fs.replica_slots.

CREATE OR REPLACE FUNCTION fs.ensure_publication()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tables text;
BEGIN
    -- On Citus the online rows of keyed views live on the workers: a publication of the
    -- whole schema here would copy them once through Citus and then never stream them.
    IF fs.is_distributed() THEN
        -- Only the online tables kept here (global views); a replica subscribes to every
        -- worker for the distributed ones (fspg.worker_replicas).
        v_tables := (SELECT string_agg(format('fs_online.%I', vv.online_table), ', ' ORDER BY vv.version_id)
                       FROM fs.feature_view_version vv WHERE NOT vv.distributed);
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'fspg_online') THEN
            EXECUTE 'CREATE PUBLICATION fspg_online' || coalesce(' FOR TABLE ' || v_tables, '');
        ELSIF v_tables IS NOT NULL THEN
            EXECUTE 'ALTER PUBLICATION fspg_online SET TABLE ' || v_tables;
        END IF;
        RETURN 'fspg_online';
    END IF;
    -- As the caller: a FOR TABLES IN SCHEMA publication is a superuser's to create (and
    -- to own), which the owner role never is. Adding a replica needs one anyway.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'fspg_online') THEN
        BEGIN
            CREATE PUBLICATION fspg_online FOR TABLES IN SCHEMA fs_online;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'the publication of online tables (fspg_online) does not exist and % may not create it', current_user
                USING ERRCODE = '42501', HINT = 'A superuser runs fspg replica add, or CREATE PUBLICATION fspg_online FOR TABLES IN SCHEMA fs_online once.';
        END;
    END IF;
    RETURN 'fspg_online';
END
$$;
COMMENT ON FUNCTION fs.ensure_publication() IS 'Creates the publication of all online tables (fspg_online) if it does not exist yet.';

CREATE OR REPLACE FUNCTION fs.replica_ddl()
RETURNS TABLE (ord integer, statement text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_i integer := 0;
    v_query text;
    v_definition text;
BEGIN
    -- Statements a replica runs to hold what the primary serves: idempotent, in order.
    ord := 0; statement := 'CREATE SCHEMA IF NOT EXISTS fs_online'; RETURN NEXT;
    ord := 1; statement := 'CREATE SCHEMA IF NOT EXISTS fs_serving'; RETURN NEXT;
    ord := 2; statement := $s$DO $r$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fs_serving') THEN CREATE ROLE fs_serving NOLOGIN; END IF; END $r$ $s$; RETURN NEXT;
    ord := 3; statement := 'GRANT USAGE ON SCHEMA fs_online, fs_serving TO fs_serving'; RETURN NEXT;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
        ord := 4; statement := format('CREATE EXTENSION IF NOT EXISTS vector SCHEMA %I',
                                      (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'));
        RETURN NEXT;
    END IF;
    v_i := 10;
    FOR v IN
        SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'fs_online' AND c.relkind = 'r' ORDER BY c.relname
    LOOP
        v_i := v_i + 1;
        ord := v_i;
        statement := format('CREATE TABLE IF NOT EXISTS fs_online.%I (%s, PRIMARY KEY (%s))', v.relname,
            (SELECT string_agg(format('%I %s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                                      CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END), ', ' ORDER BY a.attnum)
               FROM pg_attribute a WHERE a.attrelid = v.oid AND a.attnum > 0 AND NOT a.attisdropped),
            (SELECT string_agg(format('%I', a.attname), ', ' ORDER BY array_position(i.indkey::int2[], a.attnum))
               FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = v.oid AND i.indisprimary));
        RETURN NEXT;
        v_i := v_i + 1; ord := v_i;
        statement := format('GRANT SELECT ON fs_online.%I TO fs_serving', v.relname);
        RETURN NEXT;
    END LOOP;
    FOR v IN
        SELECT c.relname, pg_get_viewdef(c.oid) AS def FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'fs_online' AND c.relkind = 'v' ORDER BY c.relname
    LOOP
        v_i := v_i + 1; ord := v_i;
        statement := format('DROP VIEW IF EXISTS fs_online.%1$I; CREATE VIEW fs_online.%1$I AS %2$s GRANT SELECT ON fs_online.%1$I TO fs_serving',
                            v.relname, rtrim(v.def, ';') || ';');
        RETURN NEXT;
    END LOOP;
    FOR v IN
        SELECT p.oid, p.proname, pg_get_function_identity_arguments(p.oid) AS args,
               -- The Citus form (fs.lookup_function_body) plans each call for the
               -- coordinator's routing; a replica is one server and gets the SQL form of
               -- the same query back, planned once.
               substring(p.prosrc FROM '^BEGIN RETURN QUERY EXECUTE (''(?:[^'']|'''')*'')(?: USING [^;]*)?; END$') AS citus_query
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'fs_serving' ORDER BY p.proname
    LOOP
        v_i := v_i + 1; ord := v_i;
        IF v.citus_query IS NOT NULL THEN
            -- The query is the one quoted literal of the body: unquoted here, never run.
            v_query := replace(substr(v.citus_query, 2, length(v.citus_query) - 2), '''''', '''');
            v_definition := format('CREATE FUNCTION fs_serving.%I(%s) RETURNS %s %s', v.proname, pg_get_function_arguments(v.oid),
                                   pg_get_function_result(v.oid), fs.lookup_function_body(v_query, '{}', false));
        ELSE
            v_definition := pg_get_functiondef(v.oid);
        END IF;
        statement := format('DROP FUNCTION IF EXISTS fs_serving.%1$I(%2$s); %3$s; GRANT EXECUTE ON FUNCTION fs_serving.%1$I(%2$s) TO fs_serving',
                            v.proname, v.args, v_definition);
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION fs.replica_ddl() IS 'The statements that give a replica the primary''s online tables, views and serving functions (idempotent).';

CREATE OR REPLACE FUNCTION fs.replica_slots()
RETURNS TABLE (name text, slot_name text, active boolean, lag_bytes numeric, replay_lag interval, state text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.name, r.slot_name, s.active,
           pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn),
           a.replay_lag, a.state
      FROM fs.replica r
      LEFT JOIN pg_replication_slots s ON s.slot_name = r.slot_name
      LEFT JOIN pg_stat_replication a ON a.pid = s.active_pid
     ORDER BY r.name
$$;
COMMENT ON FUNCTION fs.replica_slots() IS 'Each registered replica''s replication slot on the primary: active, bytes behind, replay lag.';
