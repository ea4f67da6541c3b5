-- 86_training: point-in-time-correct joins of a spine against feature views, in SQL.
-- Owns: fs.training_query.
-- For each spine row and each view: the newest history row with event_ts <= the spine's
-- timestamp and within the view's TTL (fs.ttl_condition, the rule every read uses),
-- created by as_of when given, ties broken by created_ts. Never a value from the future.

CREATE OR REPLACE FUNCTION fs.training_query(p_refs text[], p_spine text, p_timestamp_column text DEFAULT 'event_ts',
                                             p_as_of timestamptz DEFAULT NULL, p_spine_columns text[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ids     integer[];
    v_view    record;
    v_i       integer := 0;
    v_alias   text;
    v_select  text[] := '{}';
    v_joins   text := '';
    v_missing text;
BEGIN
    IF p_refs IS NULL OR cardinality(p_refs) = 0 THEN
        RAISE EXCEPTION 'no features requested' USING ERRCODE = 'YF015';
    END IF;
    PERFORM fs.check_name('timestamp column', p_timestamp_column);
    SELECT array_agg(r.feature_id ORDER BY t.ord, r.feature_id) INTO v_ids
      FROM unnest(p_refs) WITH ORDINALITY AS t(ref, ord), fs.resolve_feature_ref(t.ref) r;
    CREATE TEMP TABLE IF NOT EXISTS fs_training_features (ord integer, version_id integer, view_name text, feature text)
        ON COMMIT DROP;
    TRUNCATE fs_training_features;
    INSERT INTO fs_training_features
    SELECT t.ord, f.version_id, fv.name, f.name
      FROM unnest(v_ids) WITH ORDINALITY AS t(id, ord)
      JOIN fs.feature f ON f.feature_id = t.id
      JOIN fs.feature_view_version vv ON vv.version_id = f.version_id
      JOIN fs.feature_view fv ON fv.view_id = vv.view_id;
    IF (SELECT count(DISTINCT version_id) FROM fs_training_features) <> (SELECT count(DISTINCT view_name) FROM fs_training_features) THEN
        RAISE EXCEPTION 'the request mixes versions of one feature view' USING ERRCODE = 'YF008';
    END IF;
    -- Every key the views need must be a spine column.
    SELECT string_agg(DISTINCT k.name, ', ') INTO v_missing
      FROM fs_training_features s JOIN fs.feature_view_version vv USING (version_id)
      JOIN fs.feature_view fv ON fv.view_id = vv.view_id JOIN fs.entity_key k ON k.entity_id = fv.entity_id
     WHERE p_spine_columns IS NOT NULL AND k.name <> ALL (p_spine_columns);
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'the spine lacks key column(s) % that the requested views need', v_missing USING ERRCODE = 'YF010';
    END IF;

    FOR v_view IN
        SELECT s.version_id, s.view_name, vv.offline_table, vv.ttl, min(s.ord) AS first
          FROM fs_training_features s JOIN fs.feature_view_version vv USING (version_id)
         GROUP BY 1, 2, 3, 4 ORDER BY first
    LOOP
        v_i := v_i + 1;
        v_alias := 'v' || v_i;
        v_joins := v_joins || format(
            ' LEFT JOIN LATERAL (SELECT * FROM fs_offline.%I h WHERE %s%s%s ORDER BY h.event_ts DESC, h.created_ts DESC LIMIT 1) %s ON true',
            v_view.offline_table,
            -- The spine's key is cast to the key's type: a CSV spine brings text.
            coalesce((SELECT string_agg(format('h.%1$I = s.%1$I::%2$s', k.name, k.sql_type), ' AND ') || ' AND '
                        FROM fs.key_columns(v_view.version_id) k), ''),
            fs.ttl_condition(v_view.ttl, 'h.event_ts', format('s.%I', p_timestamp_column)),
            CASE WHEN p_as_of IS NULL THEN '' ELSE format(' AND h.created_ts <= %L::timestamptz', p_as_of) END,
            v_alias);
        SELECT v_select || array_agg(format('%s.%I AS %I', v_alias, s.feature,
                   CASE WHEN (SELECT count(DISTINCT o.view_name) FROM fs_training_features o WHERE o.feature = s.feature) > 1
                        THEN s.view_name || '__' || s.feature ELSE s.feature END) ORDER BY s.ord)
          INTO v_select
          FROM fs_training_features s WHERE s.version_id = v_view.version_id;
    END LOOP;
    RETURN format('SELECT %s, %s FROM %s s%s ORDER BY s.fs_ord',
                  coalesce((SELECT string_agg(format('s.%I', c), ', ') FROM unnest(p_spine_columns) c WHERE c <> 'fs_ord'), 's.*'),
                  array_to_string(v_select, ', '), p_spine, v_joins);
END
$$;
COMMENT ON FUNCTION fs.training_query(text[], text, text, timestamptz, text[]) IS 'SELECT of a point-in-time-correct training set: the spine relation (its columns, in its fs_ord order) joined to the requested features as they were at each row''s timestamp.';
