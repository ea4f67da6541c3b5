-- 82_serving: reading several views' online values in one round trip.
-- Owns: fs.work_features (a request's features as an array: the working set, never a
--       temp table), fs.serving_query (the SELECT for a list of pinned features, keyed by arrays of
--       entity keys), fs.online_query (the same from feature references),
--       fs.ref_feature_ids and fs.service_feature_ids (what references or a service
--       name: the one reading of each), fs.service_statement, fs.lookup_columns,
--       fs.served_column_name (the one naming rule of a lookup's columns),
--       fs.create_service_functions (fs_serving.<service>(...) and
--       fs_serving.<service>__v<N>(...), generated per feature service version),
--       fs.lookup_function_body (their body: SQL, or PL/pgSQL on Citus).
-- fs.serving_query and fs.online_query only write SQL text from the catalog; they run
-- as the owner so a serving role (no catalog access) can have its lookups written.
-- Generated functions are LANGUAGE sql, STABLE, SECURITY INVOKER and without SET, so
-- PostgreSQL inlines them into the caller's query: a prepared call costs what the
-- hand-written join costs. Row i of the result answers the i-th element of the key
-- arrays; entities without a value come back as NULLs; TTL-expired values are NULL.

CREATE OR REPLACE FUNCTION fs.work_features(p_feature_ids integer[])
RETURNS fs.work_feature[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY(
        SELECT ROW(t.ord, f.feature_id, f.version_id, fv.name, vv.version, f.name, f.dtype)::fs.work_feature
          FROM unnest(p_feature_ids) WITH ORDINALITY AS t(id, ord)
          JOIN fs.feature f ON f.feature_id = t.id
          JOIN fs.feature_view_version vv ON vv.version_id = f.version_id
          JOIN fs.feature_view fv ON fv.view_id = vv.view_id
         ORDER BY t.ord)
$$;
COMMENT ON FUNCTION fs.work_features(integer[]) IS 'The features of a request, in request order, as the working set serving and training queries are written from.';

CREATE OR REPLACE FUNCTION fs.served_column_name(p_features fs.work_feature[], p_view text, p_feature text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- Features named alike in two views of one request become view__feature, for both.
    SELECT CASE WHEN (SELECT count(DISTINCT o.view_name) FROM unnest(p_features) o WHERE o.feature = p_feature) > 1
                THEN p_view || '__' || p_feature ELSE p_feature END
$$;
COMMENT ON FUNCTION fs.served_column_name(fs.work_feature[], text, text) IS 'The result column of feature p_view.p_feature in a lookup of p_features: the feature name, or view__feature where two requested views share it.';

CREATE OR REPLACE FUNCTION fs.serving_query(p_feature_ids integer[])
RETURNS TABLE (query text, key_names text[], key_types text[], columns text[], single_query text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_clash   text;
    v_select  text[] := '{}';
    v_from    text;
    v_single  text;
    v_joins   text := '';
    v_single_joins text := '';
    v_join    text;
    v_fresh   text;
    v_on      text;
    v_i_key   integer;
    v_view    record;
    v_alias   text;
    v_i       integer := 0;
    v_features fs.work_feature[];
BEGIN
    -- The working set is an array, not a temp table: a caller could have made one first.
    v_features := fs.work_features(p_feature_ids);

    -- The request's key columns: every entity key of the views, each once, in order.
    SELECT array_agg(name ORDER BY first), array_agg(dtype ORDER BY first) INTO key_names, key_types
      FROM (SELECT k.name, min(k.dtype) AS dtype, min(s.ord * 100 + k.position) AS first
              FROM unnest(v_features) s
              JOIN fs.feature_view_version vv ON vv.version_id = s.version_id
              JOIN fs.feature_view fv ON fv.view_id = vv.view_id
              JOIN fs.entity_key k ON k.entity_id = fv.entity_id
             GROUP BY k.name) keys;
    SELECT string_agg(DISTINCT k.name, ', ') INTO v_clash
      FROM unnest(v_features) s JOIN fs.feature_view_version vv ON vv.version_id = s.version_id
      JOIN fs.feature_view fv ON fv.view_id = vv.view_id JOIN fs.entity_key k ON k.entity_id = fv.entity_id
     GROUP BY k.name HAVING count(DISTINCT k.dtype) > 1;
    IF v_clash IS NOT NULL THEN
        RAISE EXCEPTION 'key column % has different types in the requested views', v_clash USING ERRCODE = 'YF008';
    END IF;

    IF key_names IS NULL THEN
        key_names := '{}';
        key_types := '{}';
        v_from := '(SELECT 1 AS ord) r';
        v_single := v_from;
    ELSE
        v_from := format('unnest(%s) WITH ORDINALITY AS r(%s, ord)',
                         (SELECT string_agg(format('$%s::%s[]', i, fs.sql_type(key_types[i])), ', ')
                            FROM generate_subscripts(key_names, 1) i),
                         (SELECT string_agg(format('%I', n), ', ') FROM unnest(key_names) n));
        -- One entity, scalar keys: no arrays, no unnest, no sort (the common serving call).
        v_single := format('(SELECT %s, 1 AS ord) r',
                           (SELECT string_agg(format('$%s::%s AS %I', i, fs.sql_type(key_types[i]), key_names[i]), ', ')
                              FROM generate_subscripts(key_names, 1) i));
        v_select := (SELECT array_agg(format('r.%I', n)) FROM unnest(key_names) n);
    END IF;
    columns := key_names;

    FOR v_view IN
        SELECT s.version_id, s.view_name, vv.online_table, vv.ttl, vv.distributed, min(s.ord) AS first
          FROM unnest(v_features) s JOIN fs.feature_view_version vv ON vv.version_id = s.version_id
         GROUP BY s.version_id, s.view_name, vv.online_table, vv.ttl, vv.distributed ORDER BY first
    LOOP
        v_i := v_i + 1;
        v_alias := 'v' || v_i;
        -- The TTL test is computed once per row in the lateral subquery (OFFSET 0 keeps
        -- the planner from copying it into every feature's CASE).
        v_fresh := CASE WHEN v_view.ttl IS NULL THEN 'true' ELSE fs.ttl_condition(v_view.ttl, 'o.event_ts', 'now()') END;
        IF v_view.distributed THEN
            -- Citus plans no lateral join into a distributed table from a list of keys: the
            -- rows are selected by the distribution column first (one shard for one
            -- entity, with the key known at planning: custom plans), then joined here.
            v_i_key := array_position(key_names, fs.distribution_column(v_view.version_id));
            v_on := (SELECT string_agg(format('%2$s.%1$I = r.%1$I', k.name, v_alias), ' AND ')
                       FROM fs.key_columns(v_view.version_id) k);
            v_join := format(' LEFT JOIN (SELECT o.*, %s AS "?fresh" FROM fs_online.%I o WHERE o.%I = %%s) %s ON %s',
                v_fresh, v_view.online_table, key_names[v_i_key], v_alias, v_on);
            v_joins := v_joins || format(v_join, format('ANY ($%s::%s[])', v_i_key, fs.sql_type(key_types[v_i_key])));
            v_single_joins := v_single_joins || format(v_join, format('$%s::%s', v_i_key, fs.sql_type(key_types[v_i_key])));
        ELSE
            v_join := format(' LEFT JOIN LATERAL (SELECT o.*, %s AS "?fresh" FROM fs_online.%I o WHERE %s OFFSET 0) %s ON true',
                v_fresh, v_view.online_table,
                coalesce((SELECT string_agg(format('o.%1$I = r.%1$I', k.name), ' AND ')
                            FROM fs.key_columns(v_view.version_id) k), 'true'),
                v_alias);
            v_joins := v_joins || v_join;
            v_single_joins := v_single_joins || v_join;
        END IF;
        SELECT v_select || array_agg(
                   format('%s AS %I',
                          CASE WHEN v_view.ttl IS NULL THEN format('%s.%I', v_alias, s.feature)
                               ELSE format('CASE WHEN %s."?fresh" THEN %s.%I END', v_alias, v_alias, s.feature) END,
                          fs.served_column_name(v_features, s.view_name, s.feature)) ORDER BY s.ord),
               columns || array_agg(fs.served_column_name(v_features, s.view_name, s.feature) ORDER BY s.ord)
          INTO v_select, columns
          FROM unnest(v_features) s WHERE s.version_id = v_view.version_id;
    END LOOP;
    -- Each view's event time, last, so a caller can see how old a value is.
    SELECT v_select || array_agg(format('v%s.event_ts AS %I', i, name || '__event_ts') ORDER BY i),
           columns || array_agg(name || '__event_ts' ORDER BY i)
      INTO v_select, columns
      FROM (SELECT row_number() OVER (ORDER BY min(s.ord)) AS i, s.view_name AS name
              FROM unnest(v_features) s GROUP BY s.view_name) v;
    query := format('SELECT %s FROM %s%s ORDER BY r.ord', array_to_string(v_select, ', '), v_from, v_joins);
    single_query := format('SELECT %s FROM %s%s', array_to_string(v_select, ', '), v_single, v_single_joins);
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION fs.serving_query(integer[]) IS 'The SELECT answering a batch of online lookups for pinned features; $1..$n are arrays of the key columns (key_names).';

CREATE OR REPLACE FUNCTION fs.ref_feature_ids(p_refs text[])
RETURNS integer[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ids integer[];
    v_mixed text;
BEGIN
    IF p_refs IS NULL OR cardinality(p_refs) = 0 THEN
        RAISE EXCEPTION 'no features requested' USING ERRCODE = 'YF015', HINT = 'Pass references such as user_stats.spend_7d or user_stats.*';
    END IF;
    SELECT array_agg(r.feature_id ORDER BY t.ord, r.feature_id), string_agg(DISTINCT r.view_name, ', ')
           FILTER (WHERE r.view_name IN (SELECT r2.view_name FROM unnest(p_refs) x, fs.resolve_feature_ref(x) r2
                                          GROUP BY r2.view_name HAVING count(DISTINCT r2.view_version) > 1))
      INTO v_ids, v_mixed
      FROM unnest(p_refs) WITH ORDINALITY AS t(ref, ord), fs.resolve_feature_ref(t.ref) r;
    IF v_mixed IS NOT NULL THEN
        RAISE EXCEPTION 'the request mixes versions of %', v_mixed USING ERRCODE = 'YF008';
    END IF;
    RETURN v_ids;
END
$$;
COMMENT ON FUNCTION fs.ref_feature_ids(text[]) IS 'The features that feature references (view.feature, view@2.feature, view.*) name, in request order; refuses an empty list and a request that mixes versions of one view.';

CREATE OR REPLACE FUNCTION fs.service_feature_ids(p_service text, p_version integer)
RETURNS integer[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ids integer[];
BEGIN
    SELECT array_agg(sf.feature_id ORDER BY sf.position) INTO v_ids
      FROM fs.feature_service s
      JOIN fs.feature_service_version sv ON sv.service_id = s.service_id
                                        AND sv.version = coalesce(p_version, s.current_version)
      JOIN fs.feature_service_feature sf ON sf.service_version_id = sv.service_version_id
     WHERE s.name = p_service;
    IF v_ids IS NULL THEN
        RAISE EXCEPTION 'feature service % does not exist', p_service || coalesce('@' || p_version, '')
            USING ERRCODE = 'YF006', HINT = 'fspg apply defines feature services.';
    END IF;
    RETURN v_ids;
END
$$;
COMMENT ON FUNCTION fs.service_feature_ids(text, integer) IS 'The features of feature service p_service at p_version (default: its current version), in service order; YF006 when there is no such service version.';

CREATE OR REPLACE FUNCTION fs.online_query(p_refs text[])
RETURNS TABLE (query text, key_names text[], key_types text[], columns text[], single_query text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT * FROM fs.serving_query(fs.ref_feature_ids(p_refs));
END
$$;
COMMENT ON FUNCTION fs.online_query(text[]) IS 'fs.serving_query for feature references (view.feature, view@2.feature, view.*).';

CREATE OR REPLACE FUNCTION fs.service_statement(p_service text, p_version integer DEFAULT NULL)
RETURNS TABLE (query text, key_names text[], key_types text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The generated function (array form) the service is served by: pinned or current.
    RETURN QUERY
    SELECT format('SELECT * FROM fs_serving.%I(%s)',
                  CASE WHEN p_version IS NULL THEN p_service ELSE fs.versioned_name(p_service, p_version) END,
                  (SELECT string_agg(format('$%s::%s[]', k.ord, fs.sql_type(k.dtype)), ', ' ORDER BY k.ord)
                     FROM unnest(q.key_types) WITH ORDINALITY AS k(dtype, ord))),
           q.key_names, q.key_types
      FROM fs.serving_query(fs.service_feature_ids(p_service, p_version)) q;
END
$$;
COMMENT ON FUNCTION fs.service_statement(text, integer) IS 'The lookup statement of feature service p_service (current or pinned version): its generated function called with one array per key column, and the key columns.';

CREATE OR REPLACE FUNCTION fs.lookup_function_body(p_query text, p_key_names text[], p_distributed boolean)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- A SQL function is inlined and planned once per session with its parameters unknown,
    -- which Citus cannot route; PL/pgSQL's EXECUTE plans each call with the keys in hand.
    SELECT CASE WHEN NOT p_distributed THEN format('LANGUAGE sql STABLE PARALLEL SAFE AS %L', p_query)
                ELSE format('LANGUAGE plpgsql STABLE AS %L',
                            format('BEGIN RETURN QUERY EXECUTE %L%s; END', p_query,
                                   coalesce(' USING ' || (SELECT string_agg(format('%I', 'p_' || n), ', ' ORDER BY i)
                                                            FROM unnest(p_key_names) WITH ORDINALITY AS k(n, i)), '')))
           END
$$;
COMMENT ON FUNCTION fs.lookup_function_body(text, text[], boolean) IS 'The body of a generated lookup function: plain SQL on one server, PL/pgSQL that plans each call on Citus.';

CREATE OR REPLACE FUNCTION fs.create_service_functions(p_service_version_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_service text;
    v_version integer;
    v_current boolean;
    v_q       record;
    v_args    text;
    v_returns text;
    v_name    text;
    v_old     regprocedure;
    v_single_args text;
    v_distributed boolean;
BEGIN
    SELECT s.name, sv.version, sv.version = s.current_version INTO v_service, v_version, v_current
      FROM fs.feature_service_version sv JOIN fs.feature_service s USING (service_id)
     WHERE sv.service_version_id = p_service_version_id;
    SELECT * INTO v_q FROM fs.serving_query(
        (SELECT array_agg(sf.feature_id ORDER BY sf.position) FROM fs.feature_service_feature sf
          WHERE sf.service_version_id = p_service_version_id));
    v_distributed := EXISTS (SELECT 1 FROM fs.feature_service_feature sf JOIN fs.feature f USING (feature_id)
                               JOIN fs.feature_view_version vv USING (version_id)
                              WHERE sf.service_version_id = p_service_version_id AND vv.distributed);
    v_args := coalesce((SELECT string_agg(format('%I %s[]', 'p_' || v_q.key_names[i], fs.sql_type(v_q.key_types[i])), ', ')
                          FROM generate_subscripts(v_q.key_names, 1) i), '');
    v_single_args := coalesce((SELECT string_agg(format('%I %s', 'p_' || v_q.key_names[i], fs.sql_type(v_q.key_types[i])), ', ')
                                 FROM generate_subscripts(v_q.key_names, 1) i), '');
    -- Result columns: keys, features, event times; typed from the query itself.
    EXECUTE format('CREATE TEMP VIEW fs_serving_shape AS %s',
                   regexp_replace(v_q.query, '\$(\d+)', 'NULL', 'g'));
    SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
      INTO v_returns FROM pg_attribute a WHERE a.attrelid = 'pg_temp.fs_serving_shape'::regclass AND a.attnum > 0;
    DROP VIEW pg_temp.fs_serving_shape;

    FOREACH v_name IN ARRAY ARRAY[fs.versioned_name(v_service, v_version)]
                            || CASE WHEN v_current THEN ARRAY[v_service] ELSE '{}'::text[] END LOOP
        -- The current-version name may change signature between versions: replace it whole.
        FOR v_old IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                      WHERE n.nspname = 'fs_serving' AND p.proname = v_name LOOP
            EXECUTE format('DROP FUNCTION %s', v_old);
        END LOOP;
        EXECUTE format('CREATE FUNCTION fs_serving.%I(%s) RETURNS TABLE (%s) %s',
                       v_name, v_args, v_returns, fs.lookup_function_body(v_q.query, v_q.key_names, v_distributed));
        IF cardinality(v_q.key_names) > 0 THEN
            -- The same lookup for one entity with scalar keys: fs_serving.<service>(42, 1001).
            EXECUTE format('CREATE FUNCTION fs_serving.%I(%s) RETURNS TABLE (%s) %s',
                           v_name, v_single_args, v_returns, fs.lookup_function_body(v_q.single_query, v_q.key_names, v_distributed));
            EXECUTE format('GRANT EXECUTE ON FUNCTION fs_serving.%I(%s) TO fs_serving', v_name,
                           (SELECT string_agg(fs.sql_type(t), ', ') FROM unnest(v_q.key_types) t));
        END IF;
        EXECUTE format('COMMENT ON FUNCTION fs_serving.%I(%s) IS %L', v_name,
                       coalesce((SELECT string_agg(fs.sql_type(t) || '[]', ', ') FROM unnest(v_q.key_types) t), ''),
                       format('Online features of feature service %s@%s: one row per element of the key arrays, in order (generated).',
                              v_service, v_version));
        EXECUTE format('GRANT EXECUTE ON FUNCTION fs_serving.%I(%s) TO fs_serving', v_name,
                       coalesce((SELECT string_agg(fs.sql_type(t) || '[]', ', ') FROM unnest(v_q.key_types) t), ''));
    END LOOP;
END
$$;
COMMENT ON FUNCTION fs.create_service_functions(integer) IS 'Generates fs_serving.<service>__v<N>(keys[]...) and (key...) for one entity, and the same under fs_serving.<service> for the current version.';

CREATE OR REPLACE FUNCTION fs.lookup_columns(p_refs text[], p_service text DEFAULT NULL, p_version integer DEFAULT NULL)
RETURNS TABLE (column_name text, view_name text, feature_name text, ttl_seconds double precision, event_ts_column text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_features fs.work_feature[];
BEGIN
    v_features := fs.work_features(CASE WHEN p_service IS NOT NULL THEN fs.service_feature_ids(p_service, p_version)
                                        ELSE fs.ref_feature_ids(p_refs) END);
    RETURN QUERY
        SELECT fs.served_column_name(v_features, s.view_name, s.feature), s.view_name, s.feature,
               extract(epoch FROM vv.ttl)::double precision, s.view_name || '__event_ts'
          FROM unnest(v_features) s JOIN fs.feature_view_version vv ON vv.version_id = s.version_id
         ORDER BY s.ord;
END
$$;
COMMENT ON FUNCTION fs.lookup_columns(text[], text, integer) IS 'For each feature of a lookup (feature references, or feature service p_service at p_version): its result column, view, feature, TTL in seconds (NULL: none) and the column holding its view''s event time. What a feature server needs to say whether a value is present, missing or too old.';
