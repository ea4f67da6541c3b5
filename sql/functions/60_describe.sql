-- 60_describe: reading the catalog: catalog views for BI tools and analysts, and the
-- describe/list functions the CLI and client call.
-- Owns: fs.feature_views, fs.features, fs.feature_services, fs.lineage,
--       fs.feature_view_stats (views), fs.resolve_version, fs.view_columns,
--       fs.row_count, fs.list_feature_views, fs.describe_feature_view.

CREATE OR REPLACE VIEW fs.feature_views AS
SELECT fv.name,
       vv.version                  AS current_version,
       e.name                      AS entity,
       (SELECT array_agg(k.name ORDER BY k.position) FROM fs.entity_key k WHERE k.entity_id = fv.entity_id) AS keys,
       fv.owner,
       fv.description,
       vv.ttl,
       vv.partition_by,
       vv.retention,
       vv.tags,
       (SELECT count(*) FROM fs.feature_view_version x WHERE x.view_id = fv.view_id) AS versions,
       'fs_offline.' || vv.offline_table AS offline_table,
       'fs_online.' || vv.online_table   AS online_table,
       fv.created_at,
       fv.updated_at
  FROM fs.feature_view fv
  JOIN fs.feature_view_version vv ON vv.view_id = fv.view_id AND vv.version = fv.current_version
  LEFT JOIN fs.entity e ON e.entity_id = fv.entity_id;
COMMENT ON VIEW fs.feature_views IS 'One row per feature view with its current version, entity, owner, TTL and tables.';

CREATE OR REPLACE VIEW fs.features AS
SELECT fv.name      AS feature_view,
       vv.version,
       vv.version = fv.current_version AS is_current,
       f.position,
       f.name       AS feature,
       f.dtype,
       f.description,
       f.rules,
       vv.tags
  FROM fs.feature f
  JOIN fs.feature_view_version vv USING (version_id)
  JOIN fs.feature_view fv USING (view_id);
COMMENT ON VIEW fs.features IS 'Every feature of every feature view version, with dtype, description and rules.';

CREATE OR REPLACE VIEW fs.feature_services AS
SELECT s.name,
       sv.version,
       sv.version = s.current_version AS is_current,
       s.description,
       sf.position,
       fv.name      AS feature_view,
       vv.version   AS feature_view_version,
       f.name       AS feature,
       f.dtype
  FROM fs.feature_service s
  JOIN fs.feature_service_version sv USING (service_id)
  JOIN fs.feature_service_feature sf USING (service_version_id)
  JOIN fs.feature f USING (feature_id)
  JOIN fs.feature_view_version vv ON vv.version_id = f.version_id
  JOIN fs.feature_view fv ON fv.view_id = vv.view_id;
COMMENT ON VIEW fs.feature_services IS 'The features of every feature service version, pinned to feature view versions.';

CREATE OR REPLACE VIEW fs.lineage AS
SELECT source_kind, source_name, target_kind, target_name, created_at FROM fs.lineage_edge;
COMMENT ON VIEW fs.lineage IS 'Lineage edges: entity/source -> feature view version -> feature service version -> training set -> model.';

CREATE OR REPLACE FUNCTION fs.resolve_version(p_ref text)
RETURNS fs.feature_view_version
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ref record;
    v_row fs.feature_view_version;
BEGIN
    SELECT r.name, r.version INTO v_ref FROM fs.parse_ref(p_ref, 'feature view') r;
    SELECT vv.* INTO v_row
      FROM fs.feature_view fv JOIN fs.feature_view_version vv ON vv.view_id = fv.view_id
     WHERE fv.name = v_ref.name AND vv.version = coalesce(v_ref.version, fv.current_version);
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM fs.feature_view WHERE name = v_ref.name) THEN
            RAISE EXCEPTION 'feature view % has no version %', v_ref.name, v_ref.version
                USING ERRCODE = 'YF006', HINT = format('fspg describe %s lists its versions.', v_ref.name);
        END IF;
        RAISE EXCEPTION 'feature view % does not exist', v_ref.name
            USING ERRCODE = 'YF006', HINT = 'fspg ls lists the feature views.';
    END IF;
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION fs.resolve_version(text) IS 'The catalog row of view or view@version (the current version by default); raises YF006.';

CREATE OR REPLACE FUNCTION fs.view_columns(p_ref text)
RETURNS TABLE (name text, role text, dtype text, sql_type text, version_id integer, version integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH v AS (SELECT * FROM fs.resolve_version(p_ref))
    SELECT k.name, 'key', k.dtype, k.sql_type, v.version_id, v.version FROM v, fs.key_columns(v.version_id) k
    UNION ALL
    SELECT 'event_ts', 'event_ts', 'timestamp', 'timestamptz', v.version_id, v.version FROM v
    UNION ALL
    SELECT f.name, 'feature', f.dtype, fs.sql_type(f.dtype), v.version_id, v.version
      FROM v JOIN fs.feature f ON f.version_id = v.version_id
$$;
COMMENT ON FUNCTION fs.view_columns(text) IS 'The columns a batch for view[@version] may carry: keys, event_ts, features, with dtypes and SQL types.';

CREATE OR REPLACE FUNCTION fs.row_count(p_view text, p_version integer DEFAULT NULL)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- From the statement-level deltas the history guard records: exact and O(deltas).
    SELECT coalesce(sum(s.rows), 0)::bigint
      FROM fs.resolve_version(p_view || coalesce('@' || p_version, '')) v
      LEFT JOIN fs.history_stats s ON s.version_id = v.version_id
$$;
COMMENT ON FUNCTION fs.row_count(text, integer) IS 'Rows in the history of a feature view version (the current one by default).';

CREATE OR REPLACE FUNCTION fs.list_feature_views()
RETURNS TABLE (name text, current_version integer, entity text, owner text, versions bigint, features bigint, rows bigint, description text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT v.name, v.current_version, v.entity, v.owner, v.versions,
           (SELECT count(*) FROM fs.features f WHERE f.feature_view = v.name AND f.is_current),
           fs.row_count(v.name), v.description
      FROM fs.feature_views v
     ORDER BY v.name
$$;
COMMENT ON FUNCTION fs.list_feature_views() IS 'Feature views with current version, owner, feature and row counts.';

CREATE OR REPLACE FUNCTION fs.describe_feature_view(p_name text, p_version integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_view fs.feature_view%ROWTYPE;
    v_vv   fs.feature_view_version%ROWTYPE;
    v_ref  text;
BEGIN
    SELECT * INTO v_view FROM fs.feature_view WHERE name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view % does not exist', p_name
            USING ERRCODE = 'YF006', HINT = 'fspg ls lists the feature views.';
    END IF;
    SELECT * INTO v_vv FROM fs.feature_view_version
     WHERE view_id = v_view.view_id AND version = coalesce(p_version, v_view.current_version);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view % has no version %', p_name, p_version
            USING ERRCODE = 'YF006', HINT = format('Versions: 1 to %s.', v_view.current_version);
    END IF;
    v_ref := format('%s@%s', p_name, v_vv.version);
    RETURN jsonb_build_object(
        'name', v_view.name,
        'version', v_vv.version,
        'current_version', v_view.current_version,
        'status', v_vv.status,
        'stage', fs.version_stage(v_vv.version_id),
        'entity', (SELECT e.name FROM fs.entity e WHERE e.entity_id = v_view.entity_id),
        'keys', coalesce((SELECT jsonb_agg(jsonb_build_object('name', k.name, 'dtype', k.dtype) ORDER BY k.position)
                            FROM fs.entity_key k WHERE k.entity_id = v_view.entity_id), '[]'),
        'owner', v_view.owner,
        'description', v_view.description,
        'ttl', v_vv.ttl::text,
        'partition', v_vv.partition_by,
        'retention', v_vv.retention::text,
        'tags', v_vv.tags,
        'created_at', v_vv.created_at,
        'created_by', v_vv.created_by,
        'offline_table', 'fs_offline.' || v_vv.offline_table,
        'online_table', 'fs_online.' || v_vv.online_table,
        'placement', CASE WHEN v_vv.distributed
                          THEN format('distributed by %s over %s shards (Citus)', fs.distribution_column(v_vv.version_id),
                                      (SELECT d.shard_count FROM fs.distribution d))
                          ELSE 'this server' END,
        'rows', fs.row_count(p_name, v_vv.version),
        'features', (SELECT jsonb_agg(jsonb_build_object('name', f.name, 'dtype', f.dtype, 'description', f.description,
                                                          'rules', f.rules) ORDER BY f.position)
                       FROM fs.feature f WHERE f.version_id = v_vv.version_id),
        'versions', (SELECT jsonb_agg(jsonb_build_object('version', x.version, 'status', x.status,
                                                          'stage', fs.version_stage(x.version_id), 'created_at', x.created_at,
                                                          'tags', x.tags) ORDER BY x.version)
                       FROM fs.feature_view_version x WHERE x.view_id = v_view.view_id),
        'upstream', coalesce((SELECT jsonb_agg(jsonb_build_object('kind', l.source_kind, 'name', l.source_name) ORDER BY l.edge_id)
                                FROM fs.lineage_edge l WHERE l.target_kind = 'feature_view' AND l.target_name = v_ref), '[]'),
        'downstream', coalesce((SELECT jsonb_agg(jsonb_build_object('kind', l.target_kind, 'name', l.target_name) ORDER BY l.edge_id)
                                  FROM fs.lineage_edge l WHERE l.source_kind = 'feature_view' AND l.source_name = v_ref), '[]'));
END
$$;
COMMENT ON FUNCTION fs.describe_feature_view(text, integer) IS 'Everything about one feature view version as jsonb: features, rules, versions, tables, lineage.';

CREATE OR REPLACE VIEW fs.feature_view_stats AS
SELECT fv.name AS feature_view,
       vv.version,
       vv.version = fv.current_version AS is_current,
       coalesce(h.rows, 0)::bigint AS rows,
       h.min_event_ts AS oldest_event,
       h.max_event_ts AS newest_event,
       b.last_ingest_at,
       coalesce(b.batches, 0) AS batches,
       coalesce(q.waiting, 0) AS quarantined_rows
  FROM fs.feature_view fv
  JOIN fs.feature_view_version vv USING (view_id)
  LEFT JOIN (SELECT version_id, sum(rows) AS rows, min(min_event_ts) AS min_event_ts, max(max_event_ts) AS max_event_ts
               FROM fs.history_stats GROUP BY version_id) h USING (version_id)
  LEFT JOIN (SELECT version_id, max(finished_at) AS last_ingest_at, count(*) AS batches
               FROM fs.ingest_batch GROUP BY version_id) b USING (version_id)
  LEFT JOIN (SELECT version_id, count(*) AS waiting
               FROM fs.quarantine WHERE replayed_batch_id IS NULL GROUP BY version_id) q USING (version_id);
COMMENT ON VIEW fs.feature_view_stats IS 'Per feature view version: rows, oldest and newest event, last ingest, batches, rows waiting in quarantine.';
