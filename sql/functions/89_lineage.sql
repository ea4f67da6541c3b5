-- 89_lineage: walking the lineage graph up- and downstream.
-- Owns: fs.lineage(object, direction).
-- Nodes are (kind, name@version): entity, feature_view, feature_service, training_set,
-- model. A feature reference (view[@v].feature) narrows the walk downstream to the
-- services, training sets and models that really use that feature, not every user of
-- its view.

CREATE OR REPLACE FUNCTION fs.lineage(p_object text, p_direction text DEFAULT 'both')
RETURNS TABLE (direction text, depth integer, kind text, name text, parent_kind text, parent_name text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
#variable_conflict use_column
DECLARE
    v_kind    text := CASE WHEN p_object LIKE '%:%' THEN split_part(p_object, ':', 1) END;
    v_object  text := CASE WHEN p_object LIKE '%:%' THEN split_part(p_object, ':', 2) ELSE p_object END;
    v_feature integer[];
BEGIN
    IF p_direction NOT IN ('up', 'down', 'both') THEN
        RAISE EXCEPTION 'direction must be up, down or both, got %', p_direction USING ERRCODE = 'YF015';
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS fs_lineage_start (kind text, name text) ON COMMIT DROP;
    TRUNCATE fs_lineage_start;
    IF v_object ~ '^[a-z_][a-z0-9_]*(@\d+)?\.[a-z_][a-z0-9_]*$' THEN
        -- A feature: upstream from its view version, downstream through what pins it.
        v_feature := ARRAY(SELECT r.feature_id FROM fs.resolve_feature_ref(v_object) r);
        INSERT INTO fs_lineage_start
        SELECT 'feature_view', format('%s@%s', r.view_name, r.view_version) FROM fs.resolve_feature_ref(v_object) r;
    ELSE
        INSERT INTO fs_lineage_start
        SELECT DISTINCT n.kind, n.name
          FROM (SELECT source_kind AS kind, source_name AS name FROM fs.lineage_edge
                UNION SELECT target_kind, target_name FROM fs.lineage_edge) n
         WHERE (v_kind IS NULL OR n.kind = v_kind)
           AND (n.name = v_object OR (v_object !~ '@' AND n.name LIKE v_object || '@%'));
        IF NOT FOUND THEN
            RAISE EXCEPTION 'nothing named % is in the lineage graph', quote_literal(p_object)
                USING ERRCODE = 'YF006', HINT = 'Name an object as name or name@version, optionally kind:name (model:fraud@2).';
        END IF;
    END IF;

    RETURN QUERY SELECT 'self'::text, 0, s.kind, s.name, NULL::text, NULL::text FROM fs_lineage_start s ORDER BY 3, 4;
    IF p_direction IN ('up', 'both') THEN
        RETURN QUERY
        WITH RECURSIVE up AS (
            SELECT s.kind, s.name, 0 AS depth, NULL::text AS parent_kind, NULL::text AS parent_name FROM fs_lineage_start s
            UNION
            SELECT e.source_kind, e.source_name, u.depth + 1, u.kind, u.name
              FROM up u JOIN fs.lineage_edge e ON e.target_kind = u.kind AND e.target_name = u.name
             WHERE u.depth < 32)
        SELECT 'up', u.depth, u.kind, u.name, u.parent_kind, u.parent_name FROM up u WHERE u.depth > 0
         ORDER BY 2, 3, 4;
    END IF;
    IF p_direction IN ('down', 'both') THEN
        RETURN QUERY
        WITH RECURSIVE first AS (
            -- Direct users of the start nodes; for a feature only those that pin it.
            SELECT e.target_kind AS kind, e.target_name AS name, 1 AS depth, e.source_kind AS parent_kind, e.source_name AS parent_name
              FROM fs_lineage_start s JOIN fs.lineage_edge e ON e.source_kind = s.kind AND e.source_name = s.name
             WHERE v_feature IS NULL
                OR (e.target_kind = 'feature_service' AND EXISTS (
                        SELECT 1 FROM fs.feature_service_feature sf JOIN fs.feature_service_version sv USING (service_version_id)
                          JOIN fs.feature_service fsv USING (service_id)
                         WHERE format('%s@%s', fsv.name, sv.version) = e.target_name AND sf.feature_id = ANY (v_feature)))
                OR (e.target_kind = 'training_set' AND EXISTS (
                        SELECT 1 FROM fs.training_set_feature tf JOIN fs.training_set_version tv USING (ts_version_id)
                          JOIN fs.training_set t USING (training_set_id)
                         WHERE format('%s@%s', t.name, tv.version) = e.target_name AND tf.feature_id = ANY (v_feature)))
                OR (e.target_kind = 'model' AND EXISTS (
                        SELECT 1 FROM fs.model_feature mf JOIN fs.model_version mv USING (model_version_id) JOIN fs.model m USING (model_id)
                         WHERE format('%s@%s', m.name, mv.version) = e.target_name AND mf.feature_id = ANY (v_feature)))),
        down AS (
            SELECT * FROM first
            UNION
            SELECT e.target_kind, e.target_name, d.depth + 1, d.kind, d.name
              FROM down d JOIN fs.lineage_edge e ON e.source_kind = d.kind AND e.source_name = d.name
             WHERE d.depth < 32)
        SELECT 'down', d.depth, d.kind, d.name, d.parent_kind, d.parent_name FROM down d ORDER BY 2, 3, 4;
    END IF;
END
$$;
COMMENT ON FUNCTION fs.lineage(text, text) IS 'Lineage of an object (name, name@version, kind:name@version, or a feature view[@v].feature): everything upstream (where its data comes from) and downstream (the services, training sets and models that use it), with depth and the edge it came through.';
