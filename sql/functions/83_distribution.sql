-- 83_distribution: the store on Citus. History and online tables of keyed views are
-- distributed by their entity's first key column and co-located (a shard of history and
-- the shard of online holding the same entities sit on the same worker); the catalog,
-- quarantine, the batch log and global views stay on the coordinator.
-- Owns: fs.citus_installed, fs.is_distributed, fs.distribution_column,
--       fs.prepare_workers, fs.distribute_version, fs.distribute, fs.placement,
--       fs.run_on_workers, fs.worker_nodes.
-- Everything Citus-specific is dynamic SQL or PL/pgSQL that runs only on a distributed
-- store, so this file installs (and the rest of fspg runs) on a server without Citus.

CREATE OR REPLACE FUNCTION fs.citus_installed()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') $$;
COMMENT ON FUNCTION fs.citus_installed() IS 'Whether the Citus extension is installed in this database.';

CREATE OR REPLACE FUNCTION fs.is_distributed()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT EXISTS (SELECT 1 FROM fs.distribution) $$;
COMMENT ON FUNCTION fs.is_distributed() IS 'Whether fspg distribute has made this store a distributed one (new versions are distributed as they are made).';

CREATE OR REPLACE FUNCTION fs.distribution_column(p_version_id integer)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT k.name FROM fs.key_columns(p_version_id) k LIMIT 1 $$;
COMMENT ON FUNCTION fs.distribution_column(integer) IS 'The column a version''s tables are distributed by: its entity''s first key column (NULL for a global view, which stays on the coordinator).';

CREATE OR REPLACE FUNCTION fs.run_on_workers(p_command text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_failed text;
BEGIN
    -- run_command_on_workers reports a failure per node instead of raising: raise it.
    -- The command stays on the worker: with metadata synced, a worker would propagate
    -- DDL on to the other nodes, the coordinator included, and wait for this transaction.
    SELECT string_agg(format('%s:%s: %s', r.nodename, r.nodeport, r.result), '; ') INTO v_failed
      FROM run_command_on_workers('SET LOCAL citus.enable_ddl_propagation = off; ' || p_command) r WHERE NOT r.success;
    IF v_failed IS NOT NULL THEN
        RAISE EXCEPTION 'a command failed on a worker: %', v_failed USING ERRCODE = 'YF023';
    END IF;
END
$$;
COMMENT ON FUNCTION fs.run_on_workers(text) IS 'Runs one command on every Citus worker, as the current user; a failure on any worker is an error (YF023).';

CREATE OR REPLACE FUNCTION fs.prepare_workers()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_role text;
    v_roles text[] := ARRAY['fs_owner', 'fs_admin', 'fs_writer', 'fs_reader', 'fs_serving'];
BEGIN
    -- The coordinator opens its connections to the workers as the current user, so each
    -- fs_* role that reaches distributed tables (fs_owner for fspg's own work, the others
    -- through SET ROLE) must be able to log in there. Citus copies a role's attributes
    -- from the coordinator whenever it propagates the role, so the roles can log in on
    -- every node; they have no password, and docs/scale-out.md has the pg_hba lines
    -- that keep everyone but the coordinator from using them.
    FOREACH v_role IN ARRAY v_roles LOOP
        -- A role Citus has not copied yet (fs_admin, usually) is made on the workers first.
        PERFORM fs.run_on_workers(format(
            'DO $do$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %1$L) THEN CREATE ROLE %1$I LOGIN;'
            ' ELSE ALTER ROLE %1$I LOGIN; END IF; END $do$', v_role));
    END LOOP;
    PERFORM set_config('citus.enable_ddl_propagation', 'on', true);
    FOREACH v_role IN ARRAY v_roles LOOP
        EXECUTE format('ALTER ROLE %I LOGIN', v_role);
    END LOOP;
    PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    -- The role ladder, as on the coordinator (fs_admin > fs_writer > fs_reader > fs_serving).
    PERFORM fs.run_on_workers(string_agg(format('GRANT %I TO %I', m.roleid::regrole, m.member::regrole), '; '))
       FROM pg_auth_members m
      WHERE m.roleid::regrole::text = ANY (v_roles) AND m.member::regrole::text = ANY (v_roles)
     HAVING count(*) > 0;
END
$$;
COMMENT ON FUNCTION fs.prepare_workers() IS 'Lets fspg''s roles log in (the coordinator connects to the workers as them) and makes them on every Citus worker with the coordinator''s role ladder; needs a superuser.';

CREATE OR REPLACE FUNCTION fs.distribute_version(p_version_id integer)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version fs.feature_view_version;
    v_column  text := fs.distribution_column(p_version_id);
    v_shards  integer := (SELECT shard_count FROM fs.distribution);
BEGIN
    SELECT * INTO v_version FROM fs.feature_view_version WHERE version_id = p_version_id;
    IF v_version.distributed OR v_column IS NULL THEN
        RETURN false;  -- done already, or a global view: its one online row stays on the coordinator
    END IF;
    -- The history table's statement trigger (the online upkeep) is what Citus calls
    -- unsafe. Its function is made over first in the form that writes the co-located
    -- shard on a worker, so Citus copies that one to the workers with the table.
    UPDATE fs.feature_view_version SET distributed = true WHERE version_id = p_version_id;
    PERFORM fs.install_online_sync(p_version_id);
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    -- 'default' co-locates every table of one key type and shard count: the history and
    -- online tables of one entity, and entities that share a key type (so training
    -- joins of two views of one entity are local to each worker).
    PERFORM create_distributed_table(format('fs_offline.%I', v_version.offline_table)::regclass, v_column,
                                     shard_count := v_shards, colocate_with := 'default');
    PERFORM create_distributed_table(format('fs_online.%I', v_version.online_table)::regclass, v_column,
                                     colocate_with := format('fs_offline.%I', v_version.offline_table));
    -- Dual writes and backfill read a batch back from history by its id (fs.dual_write,
    -- fs.backfill_chunk): on the workers, without a scan of every shard.
    EXECUTE format('CREATE INDEX %I ON fs_offline.%I (batch_id)', v_version.offline_table || '__batch', v_version.offline_table);
    -- The shards are checked against their own privileges on the workers: the grants
    -- (writers insert every column but created_ts, readers and serving read) go there too.
    -- created_ts stays the store's clock: the coordinator refuses a writer's value (the
    -- table's own grant), then computes the default itself and sends it to the shard,
    -- so on the shards the writers may insert that column too. Workers take no
    -- connections but the coordinator's (docs/scale-out.md).
    PERFORM set_config('citus.enable_ddl_propagation', 'on', true);
    PERFORM fs.install_history_triggers(p_version_id);
    EXECUTE format('GRANT SELECT ON fs_offline.%I TO fs_reader', v_version.offline_table);
    EXECUTE format('GRANT SELECT ON fs_online.%I TO fs_serving', v_version.online_table);
    EXECUTE format('GRANT INSERT (created_ts) ON fs_offline.%I TO fs_writer', v_version.offline_table);
    PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    EXECUTE format('REVOKE INSERT (created_ts) ON fs_offline.%I FROM fs_writer', v_version.offline_table);
    RETURN true;
END
$$;
COMMENT ON FUNCTION fs.distribute_version(integer) IS 'Distributes one keyed version''s history and online tables by its entity''s first key (co-located) and reinstalls its online upkeep in the form that runs on the workers.';

CREATE OR REPLACE FUNCTION fs.distribute(p_views text[] DEFAULT NULL, p_shard_count integer DEFAULT NULL)
RETURNS TABLE (feature_view text, version integer, distributed_by text, shard_count integer, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_unknown text;
    v_version record;
    v_shards  integer;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'fspg distribute runs as a superuser: it creates fspg''s roles on the workers'
            USING ERRCODE = '42501';
    END IF;
    IF NOT fs.citus_installed() THEN
        RAISE EXCEPTION 'Citus is not installed in this database'
            USING ERRCODE = 'YF022', HINT = 'CREATE EXTENSION citus on the coordinator and every worker, and add the workers (citus_add_node)';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM fs.worker_nodes()) THEN
        RAISE EXCEPTION 'the Citus cluster has no worker nodes'
            USING ERRCODE = 'YF022', HINT = 'add workers with SELECT citus_add_node(host, port) on the coordinator';
    END IF;
    IF p_shard_count IS NOT NULL AND (p_shard_count < 1 OR p_shard_count > 64000) THEN
        RAISE EXCEPTION 'shard count must be between 1 and 64000, got %', p_shard_count USING ERRCODE = 'YF015';
    END IF;
    SELECT string_agg(n, ', ') INTO v_unknown
      FROM unnest(p_views) n WHERE NOT EXISTS (SELECT 1 FROM fs.feature_view fv WHERE fv.name = n);
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'feature view % does not exist', v_unknown USING ERRCODE = 'YF006';
    END IF;
    v_shards := coalesce((SELECT d.shard_count FROM fs.distribution d), p_shard_count,
                         current_setting('citus.shard_count')::integer);
    IF p_shard_count IS NOT NULL AND p_shard_count <> v_shards THEN
        RAISE EXCEPTION 'the store is distributed with % shards already; one shard count keeps every table co-located', v_shards
            USING ERRCODE = 'YF015', HINT = 'change it for all tables at once with Citus''s alter_distributed_table';
    END IF;
    INSERT INTO fs.distribution (shard_count) VALUES (v_shards) ON CONFLICT DO NOTHING;
    PERFORM fs.prepare_workers();
    -- fspg's functions that Citus pushes down to the workers inside queries on history
    -- (partition upkeep groups rows by period) must exist there too.
    PERFORM create_distributed_function(f::regprocedure)
       FROM unnest(ARRAY['fs.period_start(text, timestamptz)']) f;

    FOR v_version IN
        SELECT fv.name, vv.version_id, vv.version, fs.distribution_column(vv.version_id) AS key_column
          FROM fs.feature_view fv JOIN fs.feature_view_version vv USING (view_id)
         WHERE (p_views IS NULL OR fv.name = ANY (p_views)) AND vv.status = 'active'
         ORDER BY fv.name, vv.version
    LOOP
        RETURN QUERY SELECT v_version.name, v_version.version, v_version.key_column, v_shards,
            CASE WHEN v_version.key_column IS NULL THEN 'kept on the coordinator (global view)'
                 WHEN fs.distribute_version(v_version.version_id) THEN 'distributed'
                 ELSE 'distributed already' END;
    END LOOP;
    -- Services over distributed views get their lookup functions in the distributed shape.
    PERFORM fs.create_service_functions(sv.service_version_id)
       FROM fs.feature_service_version sv;
END
$$;
COMMENT ON FUNCTION fs.distribute(text[], integer) IS 'Makes the store distributed over its Citus workers: distributes every active version of the given views (all when NULL) by entity, co-located, and records it so new versions follow. Run by a superuser on the coordinator.';

CREATE OR REPLACE FUNCTION fs.placement(p_view text DEFAULT NULL)
RETURNS TABLE (feature_view text, version integer, kind text, table_name text, placement text, shards integer, nodes text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    FOR v IN
        SELECT fv.name, vv.version, t.kind, t.schema_name, t.table_name, vv.distributed, fs.distribution_column(vv.version_id) AS col
          FROM fs.feature_view fv JOIN fs.feature_view_version vv USING (view_id),
               LATERAL (VALUES ('history', 'fs_offline', vv.offline_table), ('online', 'fs_online', vv.online_table)) t(kind, schema_name, table_name)
         WHERE p_view IS NULL OR fv.name = p_view
         ORDER BY fv.name, vv.version, t.kind
    LOOP
        feature_view := v.name;
        version := v.version;
        kind := v.kind;
        table_name := format('%I.%I', v.schema_name, v.table_name);
        IF v.distributed THEN
            placement := format('distributed by %s', v.col);
            EXECUTE 'SELECT count(DISTINCT s.shardid)::integer, array_agg(DISTINCT format(''%s:%s'', p.nodename, p.nodeport))'
                    ' FROM pg_dist_shard s JOIN pg_dist_shard_placement p USING (shardid) WHERE s.logicalrelid = $1::regclass'
               INTO shards, nodes USING table_name;
        ELSE
            placement := 'coordinator';
            shards := NULL;
            nodes := NULL;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION fs.placement(text) IS 'Where each version''s history and online tables live: on the coordinator, or distributed by a key column over shards on worker nodes.';

CREATE OR REPLACE FUNCTION fs.worker_nodes()
RETURNS TABLE (host text, port integer, group_id integer)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT fs.citus_installed() THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE 'SELECT nodename::text, nodeport, groupid FROM pg_dist_node'
                         ' WHERE noderole = ''primary'' AND isactive AND groupid <> 0 ORDER BY groupid';
END
$$;
COMMENT ON FUNCTION fs.worker_nodes() IS 'The Citus workers (host, port, group id); none without Citus.';
