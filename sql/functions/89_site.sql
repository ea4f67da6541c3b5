-- 89_site: the catalog as one JSON document, for the static catalog site (fspg docs
-- build) and the notebook views. Owns: fs.site_catalog(), fs.row_estimate().
--
-- One round trip for the whole site: views with every version, its features and rules,
-- its tables and row counts, freshness, the ingest and quarantine timeline, the newest
-- stored statistics per feature (history and online) and PSI against the version before
-- and between history and online; services, training sets, models and lineage edges.
-- Runs as the caller (a reader): nothing here needs more than reading the catalog.

CREATE OR REPLACE FUNCTION fs.row_estimate(p_table regclass)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_estimate double precision;
    v_count    bigint;
BEGIN
    -- The planner's estimate (partitions summed): instant at any size. A table never
    -- vacuumed or analyzed has none (-1); then it is small or new, and counted.
    SELECT sum(c.reltuples) FILTER (WHERE c.relkind = 'r'), min(c.reltuples) FILTER (WHERE c.relkind = 'r')
      INTO v_estimate, v_count
      FROM pg_class c
     WHERE c.oid = p_table OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = p_table);
    IF v_estimate IS NOT NULL AND v_count >= 0 THEN
        RETURN v_estimate::bigint;
    END IF;
    EXECUTE format('SELECT count(*) FROM %s', p_table) INTO v_count;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION fs.row_estimate(regclass) IS 'Rows of a table (partitions included): the planner''s estimate, or a count where the table was never analyzed.';

CREATE OR REPLACE FUNCTION fs.site_version(p_version_id integer, p_timeline_days integer)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH stats AS (
        SELECT DISTINCT ON (st.feature_id, st.source) st.*
          FROM fs.feature_stats st JOIN fs.feature f ON f.feature_id = st.feature_id
         WHERE f.version_id = p_version_id AND st.range_start IS NULL AND st.range_end IS NULL
         ORDER BY st.feature_id, st.source, st.computed_at DESC),
    previous AS (
        -- The same view's version before this one, its newest history statistics by feature name.
        SELECT DISTINCT ON (pf.name) pf.name, st.quantiles, st.histogram
          FROM fs.feature_view_version vv
          JOIN fs.feature_view_version pv ON pv.view_id = vv.view_id
                                         AND pv.version = (SELECT max(x.version) FROM fs.feature_view_version x
                                                            WHERE x.view_id = vv.view_id AND x.version < vv.version)
          JOIN fs.feature pf ON pf.version_id = pv.version_id
          JOIN fs.feature_stats st ON st.feature_id = pf.feature_id AND st.source = 'history'
                                  AND st.range_start IS NULL AND st.range_end IS NULL
         WHERE vv.version_id = p_version_id
         ORDER BY pf.name, st.computed_at DESC)
    SELECT jsonb_build_object(
        'version', vv.version, 'stage', fs.version_stage(vv.version_id), 'status', vv.status,
        'created_at', vv.created_at, 'created_by', vv.created_by,
        'ttl', vv.ttl::text, 'ttl_seconds', extract(epoch FROM vv.ttl)::float8,
        'partition', vv.partition_by, 'retention', vv.retention::text, 'tags', vv.tags,
        'offline_table', 'fs_offline.' || vv.offline_table, 'online_table', 'fs_online.' || vv.online_table,
        'history_rows', fs.row_estimate(format('fs_offline.%I', vv.offline_table)::regclass),
        'online_rows', fs.row_estimate(format('fs_online.%I', vv.online_table)::regclass),
        'newest_event', (SELECT max(b.max_event_ts) FROM fs.ingest_batch b WHERE b.version_id = vv.version_id),
        'timeline', (SELECT coalesce(jsonb_agg(jsonb_build_object('day', t.day, 'inserted', t.inserted,
                                                                  'quarantined', t.quarantined) ORDER BY t.day), '[]')
                       FROM (SELECT date_trunc('day', b.finished_at) AS day, sum(b.inserted) AS inserted,
                                    sum(b.quarantined) AS quarantined
                               FROM fs.ingest_batch b
                              WHERE b.version_id = vv.version_id
                                AND b.finished_at > now() - make_interval(days => p_timeline_days)
                              GROUP BY 1) t),
        'features', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'name', f.name, 'dtype', f.dtype, 'description', f.description, 'rules', f.rules,
                         'history', (SELECT to_jsonb(s) - 'stats_id' - 'version_id' - 'feature_id' FROM stats s
                                      WHERE s.feature_id = f.feature_id AND s.source = 'history'),
                         'online', (SELECT to_jsonb(s) - 'stats_id' - 'version_id' - 'feature_id' FROM stats s
                                     WHERE s.feature_id = f.feature_id AND s.source = 'online'),
                         'previous', (SELECT p.histogram FROM previous p WHERE p.name = f.name),
                         'psi_previous', (SELECT CASE WHEN h.histogram ->> 'kind' = 'top'
                                                      THEN fs.psi_categorical(p.histogram, h.histogram)
                                                      ELSE fs.psi_numeric(p.quantiles, h.quantiles) END
                                            FROM previous p, stats h
                                           WHERE p.name = f.name AND h.feature_id = f.feature_id AND h.source = 'history'),
                         'psi_skew', (SELECT CASE WHEN h.histogram ->> 'kind' = 'top'
                                                  THEN fs.psi_categorical(h.histogram, o.histogram)
                                                  ELSE fs.psi_numeric(h.quantiles, o.quantiles) END
                                        FROM stats h, stats o
                                       WHERE h.feature_id = f.feature_id AND h.source = 'history'
                                         AND o.feature_id = f.feature_id AND o.source = 'online')
                     ) ORDER BY f.position), '[]')
                       FROM fs.feature f WHERE f.version_id = vv.version_id))
      FROM fs.feature_view_version vv WHERE vv.version_id = p_version_id
$$;
COMMENT ON FUNCTION fs.site_version(integer, integer) IS 'One feature view version for the catalog site: settings, tables, rows, newest event, the ingest timeline of the last p_timeline_days days, and per feature its rules, newest whole-range statistics (history, online) and PSI against the version before and between history and online.';

CREATE OR REPLACE FUNCTION fs.site_catalog(p_timeline_days integer DEFAULT 30)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'generated_at', now(),
        'database', current_database(),
        'entities', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'name', e.name, 'description', e.description,
                         'keys', (SELECT jsonb_agg(jsonb_build_object('name', k.name, 'dtype', k.dtype) ORDER BY k.position)
                                    FROM fs.entity_key k WHERE k.entity_id = e.entity_id)) ORDER BY e.name), '[]')
                       FROM fs.entity e),
        'views', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'name', fv.name, 'entity', e.name, 'owner', fv.owner, 'description', fv.description,
                      'current_version', fv.current_version,
                      'versions', (SELECT jsonb_agg(fs.site_version(vv.version_id, p_timeline_days) ORDER BY vv.version)
                                     FROM fs.feature_view_version vv WHERE vv.view_id = fv.view_id),
                      'sources', (SELECT coalesce(jsonb_agg(DISTINCT e2.source_kind || ':' || e2.source_name), '[]')
                                    FROM fs.lineage_edge e2
                                   WHERE e2.target_kind = 'feature_view' AND split_part(e2.target_name, '@', 1) = fv.name
                                     AND e2.source_kind <> 'entity')
                  ) ORDER BY fv.name), '[]')
                    FROM fs.feature_view fv LEFT JOIN fs.entity e ON e.entity_id = fv.entity_id),
        'services', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'name', s.name, 'description', s.description, 'current_version', s.current_version,
                         'versions', (SELECT jsonb_agg(jsonb_build_object(
                                          'version', sv.version, 'refs', sv.refs, 'created_at', sv.created_at,
                                          'features', (SELECT jsonb_agg(format('%s@%s.%s', fv.name, vv.version, f.name) ORDER BY sf.position)
                                                         FROM fs.feature_service_feature sf
                                                         JOIN fs.feature f ON f.feature_id = sf.feature_id
                                                         JOIN fs.feature_view_version vv ON vv.version_id = f.version_id
                                                         JOIN fs.feature_view fv ON fv.view_id = vv.view_id
                                                        WHERE sf.service_version_id = sv.service_version_id))
                                          ORDER BY sv.version)
                                        FROM fs.feature_service_version sv WHERE sv.service_id = s.service_id)
                     ) ORDER BY s.name), '[]')
                       FROM fs.feature_service s),
        'training_sets', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                              'name', t.name, 'description', t.description, 'current_version', t.current_version,
                              'versions', (SELECT jsonb_agg(jsonb_build_object(
                                               'version', tv.version, 'refs', tv.refs, 'as_of', tv.as_of, 'rows', tv.row_count,
                                               'content_hash', tv.content_hash, 'spine_source', tv.spine_source,
                                               'created_at', tv.created_at, 'created_by', tv.created_by) ORDER BY tv.version)
                                             FROM fs.training_set_version tv WHERE tv.training_set_id = t.training_set_id)
                          ) ORDER BY t.name), '[]')
                            FROM fs.training_set t),
        'models', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'name', m.name, 'description', m.description,
                       'versions', (SELECT jsonb_agg(jsonb_build_object(
                                        'version', mv.version, 'status', mv.status, 'experiment', mv.experiment,
                                        'params', mv.params, 'metrics', mv.metrics, 'created_at', mv.created_at,
                                        'training_set', (SELECT format('%s@%s', t.name, tv.version)
                                                           FROM fs.training_set_version tv JOIN fs.training_set t USING (training_set_id)
                                                          WHERE tv.ts_version_id = mv.ts_version_id),
                                        'features', to_jsonb(fs.model_version_refs(mv.model_version_id))) ORDER BY mv.version)
                                      FROM fs.model_version mv WHERE mv.model_id = m.model_id)
                   ) ORDER BY m.name), '[]')
                     FROM fs.model m),
        'edges', (SELECT coalesce(jsonb_agg(jsonb_build_object('source_kind', le.source_kind, 'source', le.source_name,
                                                              'target_kind', le.target_kind, 'target', le.target_name)
                                            ORDER BY le.edge_id), '[]')
                    FROM fs.lineage_edge le))
$$;
COMMENT ON FUNCTION fs.site_catalog(integer) IS 'The whole catalog as one JSON document for the catalog site (fspg docs build): entities, feature views with every version (fs.site_version), services, training sets, models and lineage edges.';
