-- 80_online: the online store. Each version's fs_online.<view>__v<N> holds the newest
-- value per entity, kept current by a statement trigger on its history table that
-- upserts set-wise from the transition table, in the writer's transaction.
-- Owns: fs.online_upsert_sql, fs.install_online_sync (the generated trigger function
--       fs.sync_online_v<version_id>), fs.online_columns_sql, fs.materialize,
--       fs.online_drift, fs.nearest_query, fs.nearest (vector search).
-- The rule, everywhere: the newest (event_ts, created_ts) wins; an older event that
-- arrives late never overwrites a newer value. Rows are upserted in key order, so
-- concurrent writers of overlapping entities lock them in the same order and never
-- deadlock; ON CONFLICT re-checks the rule against the row another writer committed.

CREATE OR REPLACE FUNCTION fs.online_upsert_sql(p_version_id integer, p_source text, p_target text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_online   text := (SELECT online_table FROM fs.feature_view_version WHERE version_id = p_version_id);
    v_keys     text := (SELECT string_agg(format('%I', k.name), ', ') FROM fs.key_columns(p_version_id) k);
    v_features text := (SELECT string_agg(format('%I', f.name), ', ' ORDER BY f.position)
                          FROM fs.feature f WHERE f.version_id = p_version_id);
    v_set      text := (SELECT string_agg(format('%1$I = EXCLUDED.%1$I', f.name), ', ' ORDER BY f.position)
                          FROM fs.feature f WHERE f.version_id = p_version_id);
BEGIN
    IF v_keys IS NULL THEN
        -- A global view: one row, the newest of the batch.
        RETURN format(
            'INSERT INTO %1$s AS o (global_key, event_ts, created_ts, %2$s)'
            ' SELECT true, s.event_ts, s.created_ts, %3$s FROM %4$s s ORDER BY s.event_ts DESC, s.created_ts DESC LIMIT 1'
            ' ON CONFLICT (global_key) DO UPDATE SET event_ts = EXCLUDED.event_ts, created_ts = EXCLUDED.created_ts, %5$s'
            ' WHERE (o.event_ts, o.created_ts) < (EXCLUDED.event_ts, EXCLUDED.created_ts)',
            coalesce(p_target, format('fs_online.%I', v_online)), v_features, (SELECT string_agg(format('s.%I', f.name), ', ' ORDER BY f.position)
                                     FROM fs.feature f WHERE f.version_id = p_version_id), p_source, v_set);
    END IF;
    RETURN format(
        'INSERT INTO %1$s AS o (%2$s, event_ts, created_ts, %3$s)'
        ' SELECT DISTINCT ON (%2$s) %2$s, event_ts, created_ts, %3$s FROM %4$s'
        ' ORDER BY %2$s, event_ts DESC, created_ts DESC'
        ' ON CONFLICT (%2$s) DO UPDATE SET event_ts = EXCLUDED.event_ts, created_ts = EXCLUDED.created_ts, %5$s'
        ' WHERE (o.event_ts, o.created_ts) < (EXCLUDED.event_ts, EXCLUDED.created_ts)',
        coalesce(p_target, format('fs_online.%I', v_online)), v_keys, v_features, p_source, v_set);
END
$$;
COMMENT ON FUNCTION fs.online_upsert_sql(integer, text, text) IS 'The upsert of the newest row per entity from relation p_source into a version''s online table, or the relation p_target names (newer wins).';

CREATE OR REPLACE FUNCTION fs.install_online_sync(p_version_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version  fs.feature_view_version;
    v_function text := format('sync_online_v%s', p_version_id);
    v_body     text;
    v_create   text;
    v_citus_table boolean := false;
BEGIN
    SELECT * INTO v_version FROM fs.feature_view_version WHERE version_id = p_version_id;
    IF v_version.distributed THEN
        -- On Citus the trigger fires on a worker, on one shard of history (TG_TABLE_NAME
        -- ends in its shard id). A plain INSERT INTO fs_online... there would be planned
        -- as a distributed query that cannot see the transition table; the rows' online
        -- values live in the co-located shard of the online table (same hash range, same
        -- worker), so the upsert goes there. Batch counts are taken by the coordinator
        -- (fs.record_batch), which the catalog lives on.
        v_body := format($b$
        DECLARE
            v_online text;
        BEGIN
            SELECT shard_name(o.logicalrelid, o.shardid) INTO v_online
              FROM pg_dist_shard h JOIN pg_dist_shard o ON o.shardminvalue = h.shardminvalue
             WHERE h.shardid = substring(TG_TABLE_NAME FROM '_(\d+)$')::bigint
               AND o.logicalrelid = %L::regclass;
            EXECUTE replace(%L, ':online:', coalesce(v_online, %L));
            RETURN NULL;
        END $b$, format('fs_online.%I', v_version.online_table),
                 fs.online_upsert_sql(p_version_id, 'new_rows', ':online:'), format('fs_online.%I', v_version.online_table));
    ELSE
        v_body := format($b$
        BEGIN
            %s;
            -- Row counts per batch (NULL: plain SQL), written here so they are what
            -- really reached history: fs.record_batch logs a batch from them.
            INSERT INTO fs.history_stats (version_id, batch_id, rows, min_event_ts, max_event_ts)
            SELECT %s, n.batch_id, count(*), min(n.event_ts), max(n.event_ts) FROM new_rows n GROUP BY n.batch_id;
            RETURN NULL;
        END $b$, fs.online_upsert_sql(p_version_id, 'new_rows'), p_version_id);
    END IF;
    -- One generated function per version: static SQL, so each session plans it once.
    -- SECURITY DEFINER: online tables are written by this trigger only, never by users.
    v_create := format('CREATE OR REPLACE FUNCTION fs.%I() RETURNS trigger'
                       ' LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %L',
                       v_function, v_body);
    IF v_version.distributed THEN
        v_citus_table := to_regclass(format('fs_offline.%I', v_version.offline_table)) IN (SELECT logicalrelid FROM pg_dist_partition);
    END IF;
    IF v_citus_table THEN
        -- A replacement reaches the workers' copy (Citus made it with the table) in this
        -- transaction; fspg's DDL is otherwise kept on the coordinator (fspg.migrate).
        PERFORM set_config('citus.enable_ddl_propagation', 'on', true);
        EXECUTE v_create;
        PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    ELSE
        -- Before fs.distribute_version distributes the table: Citus copies the function
        -- to the workers with it.
        EXECUTE v_create;
    END IF;
    EXECUTE format('REVOKE ALL ON FUNCTION fs.%I() FROM PUBLIC', v_function);
    EXECUTE format('COMMENT ON FUNCTION fs.%I() IS %L', v_function,
                   format('Keeps fs_online.%s current from inserts into fs_offline.%s (generated).',
                          v_version.online_table, v_version.offline_table));
    EXECUTE format('CREATE OR REPLACE TRIGGER sync_online AFTER INSERT ON fs_offline.%I'
                   ' REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fs.%I()', v_version.offline_table, v_function);
    -- ALWAYS: history written by a logical replication apply worker (CDC) reaches online too.
    EXECUTE format('ALTER TABLE fs_offline.%I ENABLE ALWAYS TRIGGER sync_online', v_version.offline_table);
END
$$;
COMMENT ON FUNCTION fs.install_online_sync(integer) IS 'Generates the trigger function and trigger that keep a version''s online table current.';

CREATE OR REPLACE FUNCTION fs.online_columns_sql(p_version_id integer, p_alias text, p_names text DEFAULT '%s')
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- The feature columns of an online read: NULL where the value has outlived the TTL,
    -- by the same predicate offline reads and training sets use. p_names formats the
    -- output names (e.g. 'user_stats__%s' where two views share a feature name).
    SELECT string_agg(
             CASE WHEN v.ttl IS NULL AND fs.vector_dimension(f.dtype) IS NULL
                  THEN format('%s.%I AS %I', p_alias, f.name, format(p_names, f.name))
                  ELSE format('CASE WHEN %s THEN %s.%I END AS %I',
                              fs.ttl_condition(v.ttl, p_alias || '.event_ts', 'now()'), p_alias, f.name, format(p_names, f.name))
             END, ', ' ORDER BY f.position)
      FROM fs.feature_view_version v JOIN fs.feature f USING (version_id)
     WHERE v.version_id = p_version_id
$$;
COMMENT ON FUNCTION fs.online_columns_sql(integer, text, text) IS 'SELECT-list text of a version''s features read online, with the TTL applied.';

CREATE OR REPLACE FUNCTION fs.materialize(p_view text)
RETURNS TABLE (feature_view text, version integer, entities bigint, removed bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_version fs.feature_view_version := fs.resolve_version(p_view);
    v_keys    text := (SELECT string_agg(format('%I', k.name), ', ') FROM fs.key_columns(v_version.version_id) k);
BEGIN
    -- Safe while writes continue: the upsert only ever replaces older values, like the
    -- trigger does, so both converge on the newest row of history.
    EXECUTE fs.online_upsert_sql(v_version.version_id, format('fs_offline.%I', v_version.offline_table));
    GET DIAGNOSTICS entities = ROW_COUNT;
    IF v_keys IS NULL THEN
        EXECUTE format('DELETE FROM fs_online.%I WHERE NOT EXISTS (SELECT 1 FROM fs_offline.%I)',
                       v_version.online_table, v_version.offline_table);
    ELSE
        EXECUTE format('DELETE FROM fs_online.%1$I o WHERE NOT EXISTS (SELECT 1 FROM fs_offline.%2$I h WHERE %3$s)',
                       v_version.online_table, v_version.offline_table,
                       (SELECT string_agg(format('h.%1$I = o.%1$I', k.name), ' AND ') FROM fs.key_columns(v_version.version_id) k));
    END IF;
    GET DIAGNOSTICS removed = ROW_COUNT;
    feature_view := (SELECT fv.name FROM fs.feature_view fv WHERE fv.view_id = v_version.view_id);
    version := v_version.version;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION fs.materialize(text) IS 'Rebuilds a version''s online table from its history (newest row per entity); idempotent, safe during writes.';

CREATE OR REPLACE FUNCTION fs.online_drift(p_view text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version fs.feature_view_version := fs.resolve_version(p_view);
    v_keys    text := (SELECT string_agg(format('%I', k.name), ', ') FROM fs.key_columns(v_version.version_id) k);
    v_cols    text := (SELECT string_agg(format('%I', f.name), ', ' ORDER BY f.position)
                         FROM fs.feature f WHERE f.version_id = v_version.version_id);
    v_newest  text;
    v_online  text;
    v_drift   bigint;
BEGIN
    v_newest := CASE WHEN v_keys IS NULL
        THEN format('SELECT event_ts, created_ts, %s FROM fs_offline.%I ORDER BY event_ts DESC, created_ts DESC LIMIT 1',
                    v_cols, v_version.offline_table)
        ELSE format('SELECT DISTINCT ON (%1$s) %1$s, event_ts, created_ts, %2$s FROM fs_offline.%3$I ORDER BY %1$s, event_ts DESC, created_ts DESC',
                    v_keys, v_cols, v_version.offline_table) END;
    v_online := format('SELECT %s event_ts, created_ts, %s FROM fs_online.%I',
                       coalesce(v_keys || ',', ''), v_cols, v_version.online_table);
    EXECUTE format('SELECT count(*) FROM (((%1$s) EXCEPT ALL (%2$s)) UNION ALL ((%2$s) EXCEPT ALL (%1$s))) d', v_newest, v_online)
       INTO v_drift;
    RETURN v_drift;
END
$$;
COMMENT ON FUNCTION fs.online_drift(text) IS 'How many rows differ between a version''s online table and the newest row per entity of its history (0 when in step).';

CREATE OR REPLACE FUNCTION fs.nearest_query(p_view text, p_feature text, p_k integer, p_filters text[] DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version fs.feature_view_version := fs.resolve_version(p_view);
    v_feature fs.feature;
    v_metric  text;
    v_op      text;
    v_unknown text;
BEGIN
    SELECT * INTO v_feature FROM fs.feature WHERE version_id = v_version.version_id AND name = p_feature;
    IF NOT FOUND OR fs.vector_dimension(v_feature.dtype) IS NULL THEN
        RAISE EXCEPTION '% is not a vector feature of %', p_feature, p_view USING ERRCODE = 'YF006';
    END IF;
    IF p_k IS NULL OR p_k < 1 OR p_k > 10000 THEN
        RAISE EXCEPTION 'k must be between 1 and 10000, got %', p_k USING ERRCODE = 'YF015';
    END IF;
    SELECT string_agg(x, ', ') INTO v_unknown FROM unnest(p_filters) x
     WHERE NOT EXISTS (SELECT 1 FROM fs.feature f WHERE f.version_id = v_version.version_id AND f.name = x);
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'cannot filter on %: not a feature of %', v_unknown, p_view USING ERRCODE = 'YF006';
    END IF;
    v_metric := coalesce((SELECT f #>> '{index,metric}' FROM jsonb_array_elements(v_version.definition -> 'features') f
                           WHERE f ->> 'name' = p_feature), 'l2');
    v_op := format('OPERATOR(%I.%s)', fs.vector_schema(),
                   CASE v_metric WHEN 'cosine' THEN '<=>' WHEN 'ip' THEN '<#>' ELSE '<->' END);
    -- $1 is the query vector, $2.. the filter values, in the order of p_filters.
    RETURN format('SELECT %s, (o.%I %s $1::%s)::float8 AS distance, %s FROM fs_online.%I o WHERE o.%I IS NOT NULL AND %s%s ORDER BY o.%I %s $1::%s LIMIT %s',
                  coalesce((SELECT string_agg(format('o.%I', k.name), ', ') FROM fs.key_columns(v_version.version_id) k), 'o.global_key'),
                  p_feature, v_op, fs.sql_type(v_feature.dtype),
                  fs.online_columns_sql(v_version.version_id, 'o'), v_version.online_table, p_feature,
                  fs.ttl_condition(v_version.ttl, 'o.event_ts', 'now()'),
                  coalesce((SELECT string_agg(format(' AND o.%I = $%s', x, i + 1), '') FROM unnest(p_filters) WITH ORDINALITY AS t(x, i)), ''),
                  p_feature, v_op, fs.sql_type(v_feature.dtype), p_k);
END
$$;
COMMENT ON FUNCTION fs.nearest_query(text, text, integer, text[]) IS 'SELECT of the k entities whose vector feature is nearest to $1 (the view''s index metric), among values within the TTL; filters are equality on features ($2..).';

CREATE OR REPLACE FUNCTION fs.nearest(p_view text, p_feature text, p_query real[], p_k integer DEFAULT 10)
RETURNS TABLE (entity jsonb, distance float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version fs.feature_view_version := fs.resolve_version(p_view);
    v_dim     integer := (SELECT fs.vector_dimension(f.dtype) FROM fs.feature f
                           WHERE f.version_id = v_version.version_id AND f.name = p_feature);
BEGIN
    IF v_dim IS NOT NULL AND cardinality(p_query) <> v_dim THEN
        RAISE EXCEPTION 'query vector has % dimensions, % has %', cardinality(p_query), p_feature, v_dim USING ERRCODE = 'YF015';
    END IF;
    RETURN QUERY EXECUTE format('SELECT to_jsonb(n) - %L - %L::text[], n.distance FROM (%s) n', 'distance',
                                (SELECT array_agg(f.name) FROM fs.feature f WHERE f.version_id = v_version.version_id)::text,
                                fs.nearest_query(p_view, p_feature, p_k))
        USING p_query;
END
$$;
COMMENT ON FUNCTION fs.nearest(text, text, real[], integer) IS 'The k entities nearest to a query vector, as (entity keys jsonb, distance), for psql and BI users.';
