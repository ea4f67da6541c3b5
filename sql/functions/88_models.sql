-- 88_models: registered models and the feature versions they are bound to.
-- Owns: fs.pinned_refs, fs.model_version_refs, fs.register_model, fs.model_refs, fs.archive_model,
--       fs.deprecate_feature_view, the view fs.models.
-- A model version pins its features (view@version.feature) when it is registered, from
-- the training set it was trained on or from a feature list; serving by model name reads
-- exactly those versions however the views move on. A view version an active model
-- still uses cannot be deprecated.

CREATE OR REPLACE FUNCTION fs.pinned_refs(p_refs text[])
RETURNS TABLE (feature_id integer, ref text, view_name text, view_version integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.feature_id, format('%s@%s.%s', r.view_name, r.view_version, r.feature_name), r.view_name, r.view_version
      FROM unnest(p_refs) WITH ORDINALITY AS t(ref, ord), fs.resolve_feature_ref(t.ref) r
     ORDER BY t.ord
$$;
COMMENT ON FUNCTION fs.pinned_refs(text[]) IS 'Feature references resolved and pinned to view@version.feature, in request order.';

CREATE OR REPLACE FUNCTION fs.model_version_refs(p_model_version_id integer)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(format('%s@%s.%s', fv.name, vv.version, f.name) ORDER BY mf.position), '{}')
      FROM fs.model_feature mf JOIN fs.feature f USING (feature_id)
      JOIN fs.feature_view_version vv USING (version_id) JOIN fs.feature_view fv USING (view_id)
     WHERE mf.model_version_id = p_model_version_id
$$;
COMMENT ON FUNCTION fs.model_version_refs(integer) IS 'The pinned features (view@version.feature) of one model version, in input order.';

CREATE OR REPLACE FUNCTION fs.register_model(p_name text, p_version integer DEFAULT NULL, p_training_set text DEFAULT NULL,
                                             p_features text[] DEFAULT NULL, p_experiment text DEFAULT NULL,
                                             p_params jsonb DEFAULT '{}', p_metrics jsonb DEFAULT '{}',
                                             p_description text DEFAULT NULL)
RETURNS TABLE (name text, version integer, action text, features text[])
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_name      text := fs.check_name('model', p_name);
    v_set       text[];
    v_ts        fs.training_set_version;
    v_refs      text[];
    v_ids       integer[];
    v_model_id  integer;
    v_existing  fs.model_version;
    v_old_refs  text[];
    v_version   integer;
    v_mv_id     integer;
    v_deprecated text;
BEGIN
    IF (p_training_set IS NULL) = (p_features IS NULL) THEN
        RAISE EXCEPTION 'model %: name either the training set it was trained on or its features', v_name USING ERRCODE = 'YF015';
    END IF;
    IF p_version IS NOT NULL AND p_version < 1 THEN
        RAISE EXCEPTION 'model %: version must be a positive integer, got %', v_name, p_version USING ERRCODE = 'YF015';
    END IF;
    IF jsonb_typeof(coalesce(p_params, '{}')) <> 'object' OR jsonb_typeof(coalesce(p_metrics, '{}')) <> 'object' THEN
        RAISE EXCEPTION 'model %: params and metrics must be JSON objects', v_name USING ERRCODE = 'YF015';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('fspg.model:' || v_name));
    IF p_training_set IS NOT NULL THEN
        v_set := regexp_match(p_training_set, '^([a-z_][a-z0-9_]*)(?:@(\d+))?$');
        IF v_set IS NULL THEN
            RAISE EXCEPTION 'invalid training set reference %', quote_literal(p_training_set)
                USING ERRCODE = 'YF008', HINT = 'Write name or name@version.';
        END IF;
        v_ts := fs.training_set_version_of(v_set[1], v_set[2]::integer);
        -- A training set's features are pinned already.
        v_refs := v_ts.refs;
        v_ids := ARRAY(SELECT tf.feature_id FROM fs.training_set_feature tf
                        WHERE tf.ts_version_id = v_ts.ts_version_id ORDER BY tf.position);
    ELSE
        SELECT array_agg(p.ref ORDER BY p.ord), array_agg(p.feature_id ORDER BY p.ord) INTO v_refs, v_ids
          FROM fs.pinned_refs(p_features) WITH ORDINALITY AS p(feature_id, ref, view_name, view_version, ord);
    END IF;
    SELECT string_agg(DISTINCT format('%s@%s', fv.name, vv.version), ', ') INTO v_deprecated
      FROM fs.feature f JOIN fs.feature_view_version vv USING (version_id) JOIN fs.feature_view fv USING (view_id)
     WHERE f.feature_id = ANY (v_ids) AND vv.status = 'deprecated';
    IF v_deprecated IS NOT NULL THEN
        RAISE EXCEPTION 'model %: feature view version(s) % are deprecated', v_name, v_deprecated
            USING ERRCODE = 'YF015', HINT = 'Train on the current versions; fspg ls shows them.';
    END IF;

    SELECT m.model_id INTO v_model_id FROM fs.model m WHERE m.name = v_name;
    IF v_model_id IS NULL THEN
        INSERT INTO fs.model (name, description) VALUES (v_name, p_description) RETURNING model_id INTO v_model_id;
    ELSIF p_description IS NOT NULL THEN
        UPDATE fs.model SET description = p_description WHERE model_id = v_model_id;
    END IF;
    IF p_version IS NOT NULL THEN
        SELECT mv.* INTO v_existing FROM fs.model_version mv WHERE mv.model_id = v_model_id AND mv.version = p_version;
        IF FOUND THEN
            v_old_refs := fs.model_version_refs(v_existing.model_version_id);
            IF v_old_refs = v_refs AND v_existing.ts_version_id IS NOT DISTINCT FROM v_ts.ts_version_id
               AND v_existing.experiment IS NOT DISTINCT FROM p_experiment
               AND v_existing.params = coalesce(p_params, '{}') AND v_existing.metrics = coalesce(p_metrics, '{}') THEN
                RETURN QUERY SELECT v_name, p_version, 'unchanged'::text, v_refs;
                RETURN;
            END IF;
            RAISE EXCEPTION 'model %@% is already registered with other features, training set, experiment, params or metrics', v_name, p_version
                USING ERRCODE = 'YF017', HINT = 'Model versions are immutable: register the new model as the next version.';
        END IF;
    END IF;
    v_version := coalesce(p_version, (SELECT max(mv.version) + 1 FROM fs.model_version mv WHERE mv.model_id = v_model_id), 1);

    INSERT INTO fs.model_version (model_id, version, ts_version_id, experiment, params, metrics, created_by)
    VALUES (v_model_id, v_version, v_ts.ts_version_id, p_experiment, coalesce(p_params, '{}'), coalesce(p_metrics, '{}'), session_user)
    RETURNING model_version_id INTO v_mv_id;
    INSERT INTO fs.model_feature (model_version_id, position, feature_id)
    SELECT v_mv_id, t.ord, t.id FROM unnest(v_ids) WITH ORDINALITY AS t(id, ord);
    IF v_ts.ts_version_id IS NOT NULL THEN
        INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)
        VALUES ('training_set', format('%s@%s', v_set[1], v_ts.version), 'model', format('%s@%s', v_name, v_version))
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)
        SELECT DISTINCT 'feature_view', format('%s@%s', fv.name, vv.version), 'model', format('%s@%s', v_name, v_version)
          FROM fs.feature f JOIN fs.feature_view_version vv USING (version_id) JOIN fs.feature_view fv USING (view_id)
         WHERE f.feature_id = ANY (v_ids)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN QUERY SELECT v_name, v_version, 'create'::text, v_refs;
END
$$;
COMMENT ON FUNCTION fs.register_model(text, integer, text, text[], text, jsonb, jsonb, text) IS 'Registers model name@version bound to a training set (name[@v]) or a feature list, pinned to view versions; the same registration again is unchanged, a different one under a taken version is refused (YF017).';

CREATE OR REPLACE FUNCTION fs.model_refs(p_name text, p_version integer DEFAULT NULL)
RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_mv_id integer;
BEGIN
    -- Without a version: the newest active one, which is what a serving app wants.
    SELECT mv.model_version_id INTO v_mv_id
      FROM fs.model m JOIN fs.model_version mv USING (model_id)
     WHERE m.name = p_name AND (mv.version = p_version OR (p_version IS NULL AND mv.status = 'active'))
     ORDER BY mv.version DESC LIMIT 1;
    IF v_mv_id IS NULL THEN
        RAISE EXCEPTION 'model % is not registered', p_name || coalesce('@' || p_version, '')
            USING ERRCODE = 'YF006', HINT = 'fspg models ls lists the registered models.';
    END IF;
    RETURN fs.model_version_refs(v_mv_id);
END
$$;
COMMENT ON FUNCTION fs.model_refs(text, integer) IS 'The pinned features (view@version.feature) of model name@version, or of its newest active version; YF006 for an unknown model or version.';

CREATE OR REPLACE FUNCTION fs.archive_model(p_name text, p_version integer)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE fs.model_version mv SET status = 'archived'
      FROM fs.model m WHERE m.model_id = mv.model_id AND m.name = p_name AND mv.version = p_version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model %@% is not registered', p_name, p_version USING ERRCODE = 'YF006';
    END IF;
END
$$;
COMMENT ON FUNCTION fs.archive_model(text, integer) IS 'Marks model name@version archived: it no longer holds its feature view versions against deprecation.';

CREATE OR REPLACE FUNCTION fs.deprecate_feature_view(p_view text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version fs.feature_view_version;
    v_ref     record;
    v_users   text;
BEGIN
    SELECT r.name, r.version INTO v_ref FROM fs.parse_ref(p_view, 'feature view') r;
    IF v_ref.version IS NULL THEN
        RAISE EXCEPTION 'deprecate names one version: view@version, got %', quote_literal(p_view) USING ERRCODE = 'YF015';
    END IF;
    SELECT vv.* INTO v_version FROM fs.feature_view fv JOIN fs.feature_view_version vv USING (view_id)
     WHERE fv.name = v_ref.name AND vv.version = v_ref.version FOR UPDATE OF vv;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view % does not exist', p_view USING ERRCODE = 'YF006';
    END IF;
    SELECT string_agg(DISTINCT format('%s@%s', m.name, mv.version), ', ') INTO v_users
      FROM fs.model_feature mf JOIN fs.feature f USING (feature_id)
      JOIN fs.model_version mv USING (model_version_id) JOIN fs.model m USING (model_id)
     WHERE f.version_id = v_version.version_id AND mv.status = 'active';
    IF v_users IS NOT NULL THEN
        RAISE EXCEPTION 'feature view % is used by active model(s) %', p_view, v_users
            USING ERRCODE = 'YF016', HINT = 'Archive those model versions first (fspg models archive NAME@V).';
    END IF;
    UPDATE fs.feature_view_version SET status = 'deprecated' WHERE version_id = v_version.version_id;
    RETURN p_view;
END
$$;
COMMENT ON FUNCTION fs.deprecate_feature_view(text) IS 'Marks view@version deprecated (new models may not use it); refused (YF016) while an active model version uses it.';

CREATE OR REPLACE VIEW fs.models AS
SELECT m.name AS model, mv.version, mv.status, mv.experiment,
       t.name || '@' || tv.version AS training_set,
       fs.model_version_refs(mv.model_version_id) AS features,
       mv.params, mv.metrics, m.description, mv.created_at, mv.created_by
  FROM fs.model m JOIN fs.model_version mv USING (model_id)
  LEFT JOIN fs.training_set_version tv ON tv.ts_version_id = mv.ts_version_id
  LEFT JOIN fs.training_set t ON t.training_set_id = tv.training_set_id;
COMMENT ON VIEW fs.models IS 'Registered model versions with their experiment, training set, pinned features, params and metrics.';

CREATE OR REPLACE VIEW fs.training_sets AS
SELECT t.name AS training_set, tv.version, tv.version = t.current_version AS current, tv.as_of, tv.row_count,
       tv.content_hash, tv.refs AS features, tv.timestamp_column, tv.spine_source,
       format('fs_training.%I', fs.versioned_name(t.name, tv.version)) AS relation, t.description, tv.created_at, tv.created_by
  FROM fs.training_set t JOIN fs.training_set_version tv USING (training_set_id);
COMMENT ON VIEW fs.training_sets IS 'Training set versions: pinned features, as_of, rows, content hash, and the view (relation) that rebuilds each.';
