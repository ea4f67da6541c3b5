-- 0006_security: a dedicated owner that is never a superuser, a role for source
-- queries, bookkeeping only fspg's functions write, created_ts only the store sets.
-- Forward-only. Runs as whoever migrates: a superuser, or a managed service's admin
-- user with CREATEROLE (then the optional grants below are skipped with a notice).
--
-- After this file every fspg object belongs to fs_owner (NOLOGIN, NOSUPERUSER), and
-- fspg migrate re-applies sql/functions as fs_owner: a mistake in a SECURITY DEFINER
-- function can reach fspg's own objects and nothing more.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'fs_owner') THEN
        CREATE ROLE fs_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
    -- Source queries of SQL-defined views run as fs_source, whoever triggers the run; a
    -- DBA grants it SELECT on the tables sources may read (README, "Security model").
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'fs_source') THEN
        CREATE ROLE fs_source NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = 'fs_owner') THEN
        RAISE EXCEPTION 'role fs_owner is a superuser' USING ERRCODE = 'YF007',
            HINT = 'ALTER ROLE fs_owner NOSUPERUSER: fspg''s objects must belong to a role that is not one.';
    END IF;
    -- Whoever migrates must be able to act as the owner (a superuser already can).
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT fs_owner TO %I', current_user);
    END IF;
END
$roles$;
-- The owner replaces the function that runs source queries, which fs_source owns.
GRANT fs_source TO fs_owner;

-- What the owner needs of the database: schemas for source databases (CREATE), working
-- tables of its functions (TEMPORARY).
DO $database$
BEGIN
    EXECUTE format('GRANT CREATE, TEMPORARY ON DATABASE %I TO fs_owner', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO fs_source', current_database());
END
$database$;

-- postgres_fdw is not a trusted extension: it is created here, where the migrating role
-- may, and the owner gets to use it for source databases.
DO $fdw$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'postgres_fdw') THEN
        CREATE EXTENSION IF NOT EXISTS postgres_fdw;
        GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO fs_owner;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'postgres_fdw could not be created by this role; source databases stay unavailable until a superuser runs CREATE EXTENSION postgres_fdw and GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO fs_owner';
END
$fdw$;

-- settle_as_of (76_reads.sql) must see when other roles' transactions began; the CDC
-- trigger notes the source's WAL position of a quarantined change.
DO $stats$
BEGIN
    GRANT pg_read_all_stats TO fs_owner;
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_replication_origin_session_progress(boolean) TO fs_owner;
EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
    RAISE NOTICE 'could not grant pg_read_all_stats to fs_owner: as_of settling only sees fspg''s own sessions';
END
$stats$;

-- Hand every existing fspg object to the owner: schemas, tables and views (partitions
-- included; indexes and owned sequences follow their table), free sequences, functions,
-- standalone types, foreign servers of source databases. (The publication of online
-- tables stays with the superuser who made it: only a superuser may own one FOR TABLES
-- IN SCHEMA.)
DO $owner$
DECLARE
    v_schemas text[] := ARRAY['fs', 'fs_offline', 'fs_online', 'fs_serving', 'fs_training']
                        || ARRAY(SELECT local_schema FROM fs.source_database WHERE kind = 'fdw');
    v record;
BEGIN
    FOR v IN SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY (v_schemas) LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO fs_owner', v.nspname);
    END LOOP;
    FOR v IN
        SELECT c.oid::regclass AS rel, c.relkind
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY (v_schemas) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
           AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                                 WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                                                   AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO fs_owner',
                       CASE v.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                                      WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, v.rel);
    END LOOP;
    -- (CDC mirror tables stay with the subscription's owner: logical replication applies
    -- changes as the table's owner, see docs/decisions.md.)
    FOR v IN SELECT p.oid::regprocedure AS fn
               FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = ANY (v_schemas) LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO fs_owner', v.fn);
    END LOOP;
    FOR v IN SELECT t.oid::regtype AS typ
               FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
              WHERE n.nspname = ANY (v_schemas) AND t.typelem = 0
                AND (t.typtype IN ('d', 'e', 'r', 'm')
                     OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')) LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO fs_owner', v.typ);
    END LOOP;
    FOR v IN SELECT srvname FROM pg_catalog.pg_foreign_server WHERE srvname LIKE 'fs\_src\_%' LOOP
        EXECUTE format('ALTER SERVER %I OWNER TO fs_owner', v.srvname);
    END LOOP;
END
$owner$;

-- Bookkeeping is written by fspg's functions only (they run as the owner); roles read it.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON fs.ingest_batch, fs.quarantine, fs.history_stats FROM fs_writer;
REVOKE UPDATE (replayed_batch_id) ON fs.quarantine FROM fs_writer;
-- fs.history_stats deltas carry the batch they count, so a batch's log row is computed
-- from what really reached history, not from what a caller says.
ALTER TABLE fs.history_stats ADD COLUMN batch_id bigint;
CREATE INDEX history_stats_batch_idx ON fs.history_stats (batch_id) WHERE batch_id IS NOT NULL;

-- A source database's DSN never holds a password any more (the user mapping does, which
-- only the owner reads); old rows are cleaned here.
UPDATE fs.source_database
   SET dsn = regexp_replace(dsn, '(^|\s)password\s*=\s*(''([^''\\]|\\.)*''|\S+)', '\1', 'g')
 WHERE dsn ~ 'password\s*=';
UPDATE fs.replica
   SET dsn = regexp_replace(dsn, '(^|\s)password\s*=\s*(''([^''\\]|\\.)*''|\S+)', '\1', 'g')
 WHERE dsn ~ 'password\s*=';

-- Signatures that changed (sql/functions re-creates them): partitions are asked for by
-- period, batches are logged from what reached history, training spines are opened by
-- the store; the plain-SQL row-count trigger gives way to the statement trigger's counts.
DROP FUNCTION IF EXISTS fs.ensure_partitions(integer, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS fs.record_batch(bigint, integer, text, text, bigint, bigint, bigint, jsonb, jsonb, timestamptz, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS fs.log_direct_batch(bigint, text, text, text, bigint, jsonb, timestamptz, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS fs.store_training_set(text, text, text[], timestamptz, text, text);
DROP FUNCTION IF EXISTS fs.record_sql_write() CASCADE;

-- Working sets of SECURITY DEFINER functions are arrays of these, never temp tables a
-- caller could have made first.
CREATE TYPE fs.work_feature AS (ord integer, feature_id integer, version_id integer, view_name text,
                                view_version integer, feature text, dtype text);
COMMENT ON TYPE fs.work_feature IS 'One requested feature, in request order: what serving and training queries are written from.';
ALTER TYPE fs.work_feature OWNER TO fs_owner;
