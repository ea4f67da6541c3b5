-- 50_catalog: the catalog's SQL API: define entities, feature views and feature
-- services, and apply a whole definitions document in one call.
-- Owns: fs.apply_entity, fs.apply_feature_view, fs.apply_feature_service, fs.apply,
--       fs.resolve_feature_ref, fs.reject_unknown_fields, fs.max_features.
-- Apply semantics (docs/decisions.md): a definition equal to the served or a staged
-- version is 'unchanged'; a change of owner, description or retention is an in-place
-- 'update'; any other change (features, dtypes, rules, ttl, partition, tags) makes a
-- 'new version' with tables of its own, staged until promoted (75_rollout.sql), keeping
-- the old version and its data. One equal to the previous version stages it again.

CREATE OR REPLACE FUNCTION fs.reject_unknown_fields(p_what text, p_spec jsonb, p_fields text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_unknown text;
BEGIN
    IF jsonb_typeof(p_spec) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION '%: expected a mapping, got %', p_what, coalesce(p_spec::text, 'nothing')
            USING ERRCODE = 'YF008';
    END IF;
    -- A typo such as "featurs" must not silently define a view without features.
    SELECT string_agg(k, ', ' ORDER BY k) INTO v_unknown
      FROM jsonb_object_keys(p_spec) k WHERE k <> ALL (p_fields);
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION '%: unknown field(s) %', p_what, v_unknown
            USING ERRCODE = 'YF008', HINT = 'Known fields: ' || array_to_string(p_fields, ', ') || '.';
    END IF;
END
$$;
COMMENT ON FUNCTION fs.reject_unknown_fields(text, jsonb, text[]) IS 'Raises YF008 naming any field of p_spec not in p_fields.';

CREATE OR REPLACE FUNCTION fs.apply_entity(p_spec jsonb)
RETURNS TABLE (kind text, name text, version integer, action text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_name      text := fs.check_name('entity', p_spec ->> 'name');
    v_keys      jsonb := p_spec -> 'keys';
    v_norm      jsonb := '[]';
    v_key       jsonb;
    v_key_name  text;
    v_dtype     text;
    v_entity_id integer;
    v_old       jsonb;
BEGIN
    PERFORM fs.reject_unknown_fields('entity ' || v_name, p_spec, ARRAY['name', 'keys', 'description']);
    -- keys: a list of {name, dtype} (ordered); a one-entry mapping {name: dtype} is accepted too.
    IF jsonb_typeof(v_keys) = 'object' AND (SELECT count(*) FROM jsonb_object_keys(v_keys)) = 1 THEN
        SELECT jsonb_build_array(jsonb_build_object('name', k, 'dtype', v)) INTO v_keys FROM jsonb_each_text(v_keys) AS e(k, v);
    END IF;
    IF jsonb_typeof(v_keys) IS DISTINCT FROM 'array' OR jsonb_array_length(v_keys) = 0 THEN
        RAISE EXCEPTION 'entity % needs at least one key column', v_name
            USING ERRCODE = 'YF008', HINT = 'e.g. keys: {user_id: bigint}';
    END IF;
    FOR v_key IN SELECT jsonb_array_elements(v_keys) LOOP
        v_key_name := fs.check_name('key column', v_key ->> 'name');
        IF v_key_name = ANY (fs.reserved_columns()) THEN
            RAISE EXCEPTION 'key column name % is reserved', v_key_name
                USING ERRCODE = 'YF002', DETAIL = format('fspg uses %s itself.', array_to_string(fs.reserved_columns(), ', '));
        END IF;
        IF v_norm @> jsonb_build_array(jsonb_build_object('name', v_key_name)) THEN
            RAISE EXCEPTION 'entity % names key column % twice', v_name, v_key_name USING ERRCODE = 'YF004';
        END IF;
        v_dtype := fs.normalize_dtype(v_key ->> 'dtype');
        IF v_dtype NOT IN ('int', 'bigint', 'text', 'uuid', 'date') THEN
            RAISE EXCEPTION 'key column %.% cannot be of dtype %', v_name, v_key_name, v_dtype
                USING ERRCODE = 'YF003', HINT = 'Key columns are int, bigint, text, uuid or date.';
        END IF;
        v_norm := v_norm || jsonb_build_array(jsonb_build_object('name', v_key_name, 'dtype', v_dtype));
    END LOOP;

    SELECT e.entity_id, (SELECT jsonb_agg(jsonb_build_object('name', k.name, 'dtype', k.dtype) ORDER BY k.position)
                           FROM fs.entity_key k WHERE k.entity_id = e.entity_id)
      INTO v_entity_id, v_old
      FROM fs.entity e WHERE e.name = v_name;

    kind := 'entity'; name := v_name; version := NULL;
    IF v_entity_id IS NULL THEN
        INSERT INTO fs.entity (name, description) VALUES (v_name, p_spec ->> 'description')
        RETURNING entity_id INTO v_entity_id;
        INSERT INTO fs.entity_key (entity_id, position, name, dtype)
        SELECT v_entity_id, ord, e ->> 'name', e ->> 'dtype'
          FROM jsonb_array_elements(v_norm) WITH ORDINALITY AS t(e, ord);
        action := 'create';
    ELSIF v_old IS DISTINCT FROM v_norm THEN
        RAISE EXCEPTION 'entity % already exists with keys %', v_name, v_old
            USING ERRCODE = 'YF008',
                  DETAIL = 'Changing the keys of an entity would break every feature view about it.',
                  HINT = 'Define a new entity with the new keys and new feature views on it.';
    ELSIF (SELECT e.description FROM fs.entity e WHERE e.entity_id = v_entity_id) IS DISTINCT FROM p_spec ->> 'description' THEN
        UPDATE fs.entity SET description = p_spec ->> 'description' WHERE entity_id = v_entity_id;
        action := 'update';
    ELSE
        action := 'unchanged';
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION fs.apply_entity(jsonb) IS 'Creates an entity {name, keys: [{name, dtype}], description} or updates its description; keys cannot change.';

CREATE OR REPLACE FUNCTION fs.max_features()
RETURNS integer
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 1500 $$;
COMMENT ON FUNCTION fs.max_features() IS 'How many features one feature view may have (history tables stay within PostgreSQL''s 1,600 columns).';

CREATE OR REPLACE FUNCTION fs.view_settings(p_name text, p_spec jsonb, OUT ttl interval, OUT retention interval,
                                             OUT partition_by text, OUT tags jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    partition_by := coalesce(p_spec ->> 'partition', 'month');
    tags := coalesce(p_spec -> 'tags', '{}');
    BEGIN
        ttl := (p_spec ->> 'ttl')::interval;
        retention := (p_spec ->> 'retention')::interval;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'feature view %: ttl and retention must be intervals such as ''7 days'', got % and %',
            p_name, p_spec -> 'ttl', p_spec -> 'retention' USING ERRCODE = 'YF008';
    END;
    IF ttl <= interval '0' OR retention <= interval '0' THEN
        RAISE EXCEPTION 'feature view %: ttl and retention must be positive', p_name USING ERRCODE = 'YF008';
    END IF;
    IF partition_by NOT IN ('day', 'week', 'month', 'year') THEN
        RAISE EXCEPTION 'feature view %: partition must be day, week, month or year, got %', p_name, partition_by
            USING ERRCODE = 'YF008';
    END IF;
    IF jsonb_typeof(tags) <> 'object' THEN
        RAISE EXCEPTION 'feature view %: tags must be a mapping, e.g. {experiment: exp-42}', p_name USING ERRCODE = 'YF008';
    END IF;
END
$$;
COMMENT ON FUNCTION fs.view_settings(text, jsonb) IS 'A feature view definition''s ttl, retention, partition period and tags, checked (YF008).';

CREATE OR REPLACE FUNCTION fs.view_features(p_name text, p_features jsonb, p_key_names text[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_features jsonb := '[]';
    v_feature  jsonb;
    v_fname    text;
    v_dtype    text;
BEGIN
    IF jsonb_typeof(p_features) IS DISTINCT FROM 'array' OR jsonb_array_length(p_features) = 0 THEN
        RAISE EXCEPTION 'feature view % has no features', p_name USING ERRCODE = 'YF008';
    END IF;
    -- A history table holds the keys, three columns of its own and the features, within
    -- PostgreSQL's 1,600 columns.
    IF jsonb_array_length(p_features) > fs.max_features() THEN
        RAISE EXCEPTION 'feature view % has % features; at most % fit one view', p_name,
            jsonb_array_length(p_features), fs.max_features()
            USING ERRCODE = 'YF008', HINT = 'Split the features over several views of the same entity; a service joins them.';
    END IF;
    FOR v_feature IN SELECT jsonb_array_elements(p_features) LOOP
        PERFORM fs.reject_unknown_fields(format('feature %s.%s', p_name, coalesce(v_feature ->> 'name', '?')),
                                         v_feature, ARRAY['name', 'dtype', 'description', 'rules', 'index']);
        v_fname := fs.check_name('feature', v_feature ->> 'name');
        IF v_fname = ANY (fs.reserved_columns()) OR v_fname = ANY (p_key_names) THEN
            RAISE EXCEPTION 'feature name %.% is reserved', p_name, v_fname
                USING ERRCODE = 'YF002',
                      DETAIL = format('Columns %s are taken by fspg and the entity key.',
                                      array_to_string(fs.reserved_columns() || p_key_names, ', '));
        END IF;
        IF v_features @> jsonb_build_array(jsonb_build_object('name', v_fname)) THEN
            RAISE EXCEPTION 'feature view % defines feature % twice', p_name, v_fname USING ERRCODE = 'YF004';
        END IF;
        v_dtype := fs.normalize_dtype(v_feature ->> 'dtype');
        PERFORM fs.sql_type(v_dtype);  -- raises YF007 now for vector features without pgvector
        v_features := v_features || jsonb_build_array(jsonb_build_object(
            'name', v_fname, 'dtype', v_dtype,
            'rules', fs.normalize_rules(v_fname, v_dtype, v_feature -> 'rules'))
            || CASE WHEN v_feature ? 'index' THEN jsonb_build_object('index', fs.normalize_vector_index(v_fname, v_dtype, v_feature -> 'index'))
                    ELSE '{}'::jsonb END);
    END LOOP;
    RETURN v_features;
END
$$;
COMMENT ON FUNCTION fs.view_features(text, jsonb, text[]) IS 'A feature view definition''s features, checked and normalised (names, dtypes, rules, vector indexes).';

CREATE OR REPLACE FUNCTION fs.update_view_in_place(p_view fs.feature_view, p_current fs.feature_view_version, p_spec jsonb,
                                                   p_retention interval, p_drift jsonb, p_source jsonb)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- What changes without a new version: owner, descriptions, retention, drift
    -- thresholds, a source's schedule.
    IF p_view.owner IS NOT DISTINCT FROM p_spec ->> 'owner'
       AND p_view.description IS NOT DISTINCT FROM p_spec ->> 'description'
       AND p_current.retention IS NOT DISTINCT FROM p_retention
       AND p_view.drift IS NOT DISTINCT FROM p_drift
       AND NOT fs.source_schedule_changed(p_current.version_id, p_source)
       AND NOT EXISTS (SELECT 1 FROM fs.feature f
                         JOIN jsonb_array_elements(p_spec -> 'features') e ON e ->> 'name' = f.name
                        WHERE f.version_id = p_current.version_id
                          AND f.description IS DISTINCT FROM e ->> 'description') THEN
        RETURN 'unchanged';
    END IF;
    UPDATE fs.feature_view SET owner = p_spec ->> 'owner', description = p_spec ->> 'description', drift = p_drift,
                               updated_at = now()
     WHERE view_id = p_view.view_id;
    UPDATE fs.feature_view_version SET retention = p_retention WHERE version_id = p_current.version_id;
    UPDATE fs.view_source SET refresh = (p_source ->> 'refresh')::interval, start_at = (p_source ->> 'start')::timestamptz
     WHERE version_id = p_current.version_id;
    UPDATE fs.feature f SET description = e ->> 'description'
      FROM jsonb_array_elements(p_spec -> 'features') e
     WHERE f.version_id = p_current.version_id AND f.name = e ->> 'name';
    PERFORM fs.comment_version_tables(p_current.version_id);
    IF p_current.version = p_view.current_version THEN
        PERFORM fs.point_current_views(p_view.view_id);
    END IF;
    RETURN 'update';
END
$$;
COMMENT ON FUNCTION fs.update_view_in_place(fs.feature_view, fs.feature_view_version, jsonb, interval, jsonb, jsonb) IS 'Applies what a definition changes without a new version (owner, descriptions, retention, drift, schedule); returns update or unchanged.';

CREATE OR REPLACE FUNCTION fs.create_view_version(p_view fs.feature_view, p_version integer, p_definition jsonb,
                                                  p_spec jsonb, p_retention interval, p_source jsonb)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version_id integer;
BEGIN
    -- A view's first version serves at once; a later one is staged: serving stays on the
    -- promoted version until fspg promote (75_rollout.sql).
    INSERT INTO fs.feature_view_version
        (view_id, version, definition, ttl, partition_by, retention, tags, offline_table, online_table, staged)
    -- ttl, partition and tags are part of the definition (what identifies a version);
    -- retention is not, and changes in place.
    VALUES (p_view.view_id, p_version, p_definition, (p_definition ->> 'ttl')::interval, p_definition ->> 'partition',
            p_retention, p_definition -> 'tags',
            fs.versioned_name(p_view.name, p_version), fs.versioned_name(p_view.name, p_version), p_version > 1)
    RETURNING version_id INTO v_version_id;
    INSERT INTO fs.feature (version_id, position, name, dtype, description, rules)
    SELECT v_version_id, ord, f ->> 'name', f ->> 'dtype', src ->> 'description', f -> 'rules'
      FROM jsonb_array_elements(p_definition -> 'features') WITH ORDINALITY AS t(f, ord)
      JOIN jsonb_array_elements(p_spec -> 'features') src ON src ->> 'name' = f ->> 'name';

    PERFORM fs.create_version_tables(v_version_id);
    IF p_source IS NOT NULL THEN
        INSERT INTO fs.view_source (version_id, query, refresh, start_at)
        VALUES (v_version_id, p_source ->> 'query', (p_source ->> 'refresh')::interval, (p_source ->> 'start')::timestamptz);
    END IF;
    IF p_version = 1 THEN
        UPDATE fs.feature_view SET current_version = p_version WHERE view_id = p_view.view_id;
        PERFORM fs.point_current_views(p_view.view_id);
    ELSE
        PERFORM fs.install_stage_writes(p_view.view_id);
    END IF;
    IF p_definition ->> 'entity' IS NOT NULL THEN
        INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)
        VALUES ('entity', p_definition ->> 'entity', 'feature_view', format('%s@%s', p_view.name, p_version));
    END IF;
    RETURN v_version_id;
END
$$;
COMMENT ON FUNCTION fs.create_view_version(fs.feature_view, integer, jsonb, jsonb, interval, jsonb) IS 'Makes version N of a feature view: catalog rows, tables, source, views or dual writes, lineage.';

CREATE OR REPLACE FUNCTION fs.apply_feature_view(p_spec jsonb)
RETURNS TABLE (kind text, name text, version integer, action text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_name       text := fs.check_name('feature view', p_spec ->> 'name');
    v_entity     text := p_spec ->> 'entity';
    v_entity_id  integer;
    v_key_names  text[] := '{}';
    v_settings   record;
    v_drift      jsonb := fs.normalize_drift(p_spec ->> 'name', p_spec -> 'drift');
    v_source     jsonb := fs.normalize_source(p_spec ->> 'name', p_spec -> 'source');
    v_definition jsonb;
    v_view       fs.feature_view%ROWTYPE;
    v_current    fs.feature_view_version%ROWTYPE;
BEGIN
    IF v_name LIKE '%\_\_%' THEN
        RAISE EXCEPTION 'invalid feature view name %', v_name
            USING ERRCODE = 'YF001', DETAIL = 'A double underscore separates a view from its version (user_stats__v2) and from feature names in results.';
    END IF;
    PERFORM fs.reject_unknown_fields('feature view ' || v_name, p_spec,
        ARRAY['name', 'entity', 'owner', 'description', 'ttl', 'partition', 'retention', 'tags', 'drift', 'source', 'features']);
    IF v_entity IS NOT NULL THEN
        SELECT e.entity_id INTO v_entity_id FROM fs.entity e WHERE e.name = v_entity;
        IF v_entity_id IS NULL THEN
            RAISE EXCEPTION 'feature view % refers to entity %, which is not defined', v_name, v_entity
                USING ERRCODE = 'YF006', HINT = 'Define the entity under entities: in the same file, or apply it first.';
        END IF;
        SELECT array_agg(k.name ORDER BY k.position) INTO v_key_names FROM fs.entity_key k WHERE k.entity_id = v_entity_id;
    END IF;
    SELECT * INTO v_settings FROM fs.view_settings(v_name, p_spec);
    -- The definition identifies a version: equal definitions, same version. What a
    -- SQL-defined view computes is part of its identity; when it runs is not.
    v_definition := jsonb_build_object('entity', v_entity, 'ttl', v_settings.ttl::text, 'partition', v_settings.partition_by,
                                       'tags', v_settings.tags,
                                       'features', fs.view_features(v_name, p_spec -> 'features', v_key_names))
        || CASE WHEN v_source IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('source', v_source -> 'query') END;

    kind := 'feature_view'; name := v_name;
    SELECT * INTO v_view FROM fs.feature_view fv WHERE fv.name = v_name FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO fs.feature_view (name, entity_id, owner, description, drift)
        VALUES (v_name, v_entity_id, p_spec ->> 'owner', p_spec ->> 'description', v_drift)
        RETURNING * INTO v_view;
        PERFORM fs.create_view_version(v_view, 1, v_definition, p_spec, v_settings.retention, v_source);
        RETURN QUERY SELECT kind, name, 1, 'create';
        RETURN;
    END IF;
    IF v_view.entity_id IS DISTINCT FROM v_entity_id THEN
        RAISE EXCEPTION 'feature view %: its entity cannot change (% to %)', v_name,
            coalesce((SELECT e.name FROM fs.entity e WHERE e.entity_id = v_view.entity_id), 'none (global)'),
            coalesce(v_entity, 'none (global)')
            USING ERRCODE = 'YF008', HINT = 'Its versions are keyed by the entity; define a feature view with a new name.';
    END IF;
    -- The version this definition already is, if it is still written: the served one, a
    -- staged one, or the previous one (which then becomes staged again).
    SELECT * INTO v_current FROM fs.feature_view_version vv
     WHERE vv.view_id = v_view.view_id AND vv.definition = v_definition
       AND fs.version_stage(vv.version_id) IN ('promoted', 'staged', 'previous')
     ORDER BY vv.version DESC LIMIT 1;
    IF FOUND AND fs.version_stage(v_current.version_id) = 'previous' THEN
        UPDATE fs.feature_view_version SET staged = true WHERE version_id = v_current.version_id;
        UPDATE fs.feature_view SET previous_version = NULL WHERE view_id = v_view.view_id;
        PERFORM fs.install_stage_writes(v_view.view_id);
        RETURN QUERY SELECT kind, name, v_current.version, 'staged again';
    ELSIF FOUND THEN
        RETURN QUERY SELECT kind, name, v_current.version,
                            fs.update_view_in_place(v_view, v_current, p_spec, v_settings.retention, v_drift, v_source);
    ELSE
        UPDATE fs.feature_view SET owner = p_spec ->> 'owner', description = p_spec ->> 'description',
                                   drift = v_drift, updated_at = now()
         WHERE view_id = v_view.view_id
        RETURNING * INTO v_view;
        version := (SELECT max(vv.version) + 1 FROM fs.feature_view_version vv WHERE vv.view_id = v_view.view_id);
        PERFORM fs.create_view_version(v_view, version, v_definition, p_spec, v_settings.retention, v_source);
        RETURN QUERY SELECT kind, name, version, 'new version';
    END IF;
END
$$;
COMMENT ON FUNCTION fs.apply_feature_view(jsonb) IS 'Creates a feature view, a new version of it, or updates its metadata, from a definition like the YAML one; returns the action taken.';

CREATE OR REPLACE FUNCTION fs.resolve_feature_ref(p_ref text)
RETURNS TABLE (feature_id integer, view_name text, view_version integer, feature_name text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_parts   text[] := regexp_match(p_ref, '^([a-z_][a-z0-9_]*)(?:@(\d+))?\.([a-z_][a-z0-9_]*|\*)$');
    v_view_id integer;
    v_version integer;
BEGIN
    IF v_parts IS NULL THEN
        RAISE EXCEPTION 'invalid feature reference %', quote_literal(p_ref)
            USING ERRCODE = 'YF008', HINT = 'Write view.feature, view@version.feature or view.* .';
    END IF;
    SELECT fv.view_id, coalesce(v_parts[2]::integer, fv.current_version) INTO v_view_id, v_version
      FROM fs.feature_view fv WHERE fv.name = v_parts[1];
    IF v_view_id IS NULL OR NOT EXISTS (SELECT 1 FROM fs.feature_view_version vv
                                         WHERE vv.view_id = v_view_id AND vv.version = v_version) THEN
        RAISE EXCEPTION 'feature reference % names a feature view version that does not exist', quote_literal(p_ref)
            USING ERRCODE = 'YF006';
    END IF;
    RETURN QUERY
        SELECT f.feature_id, v_parts[1], v_version, f.name
          FROM fs.feature f JOIN fs.feature_view_version vv USING (version_id)
         WHERE vv.view_id = v_view_id AND vv.version = v_version
           AND (v_parts[3] = '*' OR f.name = v_parts[3])
         ORDER BY f.position;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature reference %: %@% has no feature %', quote_literal(p_ref), v_parts[1], v_version, v_parts[3]
            USING ERRCODE = 'YF006';
    END IF;
END
$$;
COMMENT ON FUNCTION fs.resolve_feature_ref(text) IS 'Resolves view[@version].feature or view[@version].* to pinned features; without @version the current version.';

CREATE OR REPLACE FUNCTION fs.apply_feature_service(p_spec jsonb)
RETURNS TABLE (kind text, name text, version integer, action text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_name       text := fs.check_name('feature service', p_spec ->> 'name');
    v_service    fs.feature_service%ROWTYPE;
    v_resolved   integer[];
    v_current    integer[];
    v_version    integer;
    v_sv_id      integer;
    v_dup        text;
    v_refs       fs.work_feature[];
BEGIN
    PERFORM fs.reject_unknown_fields('feature service ' || v_name, p_spec, ARRAY['name', 'description', 'features']);
    IF jsonb_typeof(p_spec -> 'features') IS DISTINCT FROM 'array' OR jsonb_array_length(p_spec -> 'features') = 0 THEN
        RAISE EXCEPTION 'feature service % lists no features', v_name USING ERRCODE = 'YF008';
    END IF;

    -- An array, not a temp table: a caller could have made one of that name first.
    v_refs := ARRAY(
        SELECT ROW(t.ord, r.feature_id, NULL, r.view_name, r.view_version, r.feature_name, NULL)::fs.work_feature
          FROM jsonb_array_elements_text(p_spec -> 'features') WITH ORDINALITY AS t(ref, ord),
               LATERAL fs.resolve_feature_ref(t.ref) r
         ORDER BY t.ord, r.feature_id);
    SELECT format('%s@%s.%s', view_name, view_version, feature) INTO v_dup
      FROM unnest(v_refs) GROUP BY feature_id, view_name, view_version, feature HAVING count(*) > 1 LIMIT 1;
    IF v_dup IS NOT NULL THEN
        RAISE EXCEPTION 'feature service % lists % twice', v_name, v_dup USING ERRCODE = 'YF004';
    END IF;
    SELECT string_agg(DISTINCT format('%s@%s', view_name, view_version), ', ') INTO v_dup
      FROM unnest(v_refs) r
     WHERE EXISTS (SELECT 1 FROM unnest(v_refs) o WHERE o.view_name = r.view_name AND o.view_version <> r.view_version);
    IF v_dup IS NOT NULL THEN
        RAISE EXCEPTION 'feature service % mixes versions of one feature view: %', v_name, v_dup USING ERRCODE = 'YF008';
    END IF;
    SELECT array_agg(feature_id ORDER BY ordinality) INTO v_resolved FROM unnest(v_refs) WITH ORDINALITY;

    kind := 'feature_service'; name := v_name;
    SELECT * INTO v_service FROM fs.feature_service s WHERE s.name = v_name FOR UPDATE;
    IF FOUND THEN
        SELECT array_agg(sf.feature_id ORDER BY sf.position) INTO v_current
          FROM fs.feature_service_feature sf JOIN fs.feature_service_version sv USING (service_version_id)
         WHERE sv.service_id = v_service.service_id AND sv.version = v_service.current_version;
        IF v_current = v_resolved THEN
            version := v_service.current_version;
            IF v_service.description IS DISTINCT FROM p_spec ->> 'description' THEN
                UPDATE fs.feature_service SET description = p_spec ->> 'description' WHERE service_id = v_service.service_id;
                action := 'update';
            ELSE
                action := 'unchanged';
            END IF;
            RETURN NEXT;
            RETURN;
        END IF;
        v_version := v_service.current_version + 1;
        UPDATE fs.feature_service SET description = p_spec ->> 'description' WHERE service_id = v_service.service_id;
        action := 'new version';
    ELSE
        INSERT INTO fs.feature_service (name, description) VALUES (v_name, p_spec ->> 'description')
        RETURNING * INTO v_service;
        v_version := 1;
        action := 'create';
    END IF;

    INSERT INTO fs.feature_service_version (service_id, version, refs)
    VALUES (v_service.service_id, v_version, p_spec -> 'features')
    RETURNING service_version_id INTO v_sv_id;
    INSERT INTO fs.feature_service_feature (service_version_id, position, feature_id)
    SELECT v_sv_id, r.ordinality, r.feature_id FROM unnest(v_refs) WITH ORDINALITY r;
    UPDATE fs.feature_service SET current_version = v_version WHERE service_id = v_service.service_id;
    PERFORM fs.create_service_functions(v_sv_id);
    INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)
    SELECT DISTINCT 'feature_view', format('%s@%s', view_name, view_version), 'feature_service', format('%s@%s', v_name, v_version)
      FROM unnest(v_refs);
    version := v_version;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION fs.apply_feature_service(jsonb) IS 'Creates a feature service {name, description, features: [view[@v].feature | view[@v].*]} or a new version when its resolved features change.';

CREATE OR REPLACE FUNCTION fs.apply(p_definitions jsonb, p_dry_run boolean DEFAULT false)
RETURNS TABLE (kind text, name text, version integer, action text, serving integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_plan    jsonb;
BEGIN
    PERFORM fs.reject_unknown_fields('definitions', p_definitions, ARRAY['entities', 'feature_views', 'feature_services']);
    -- Serialise appliers: two applies of one view must not both make version N+1.
    PERFORM pg_advisory_xact_lock(hashtext('fspg.apply'));

    -- The plan is a value, not a temp table: a caller could have made one of that name first.
    BEGIN
        v_plan := coalesce((SELECT jsonb_agg(to_jsonb(r) ORDER BY e.ord, r.ord)
                              FROM jsonb_array_elements(coalesce(p_definitions -> 'entities', '[]')) WITH ORDINALITY e(spec, ord),
                                   fs.apply_entity(e.spec) WITH ORDINALITY r(kind, name, version, action, ord)), '[]')
               || coalesce((SELECT jsonb_agg(to_jsonb(r) ORDER BY e.ord, r.ord)
                              FROM jsonb_array_elements(coalesce(p_definitions -> 'feature_views', '[]')) WITH ORDINALITY e(spec, ord),
                                   fs.apply_feature_view(e.spec) WITH ORDINALITY r(kind, name, version, action, ord)), '[]')
               || coalesce((SELECT jsonb_agg(to_jsonb(r) ORDER BY e.ord, r.ord)
                              FROM jsonb_array_elements(coalesce(p_definitions -> 'feature_services', '[]')) WITH ORDINALITY e(spec, ord),
                                   fs.apply_feature_service(e.spec) WITH ORDINALITY r(kind, name, version, action, ord)), '[]');
        -- Which version serves each view and service afterwards: a new view version is
        -- staged, so this says whether serving moved (it does not, until promote).
        v_plan := (SELECT coalesce(jsonb_agg(p.step || jsonb_build_object('serving',
                          CASE p.step ->> 'kind'
                               WHEN 'feature_view' THEN (SELECT fv.current_version FROM fs.feature_view fv WHERE fv.name = p.step ->> 'name')
                               WHEN 'feature_service' THEN (SELECT s.current_version FROM fs.feature_service s WHERE s.name = p.step ->> 'name')
                          END) ORDER BY p.ord), '[]')
                     FROM jsonb_array_elements(v_plan) WITH ORDINALITY AS p(step, ord));
        IF p_dry_run THEN
            -- Roll the whole apply back but keep its plan: the plan is exactly what would happen.
            RAISE EXCEPTION USING ERRCODE = 'YF999', MESSAGE = v_plan::text;
        END IF;
    EXCEPTION WHEN SQLSTATE 'YF999' THEN
        v_plan := SQLERRM::jsonb;
    END;
    RETURN QUERY SELECT p.step ->> 'kind', p.step ->> 'name', (p.step ->> 'version')::integer, p.step ->> 'action',
                        (p.step ->> 'serving')::integer
                   FROM jsonb_array_elements(v_plan) WITH ORDINALITY AS p(step, ord)
                  ORDER BY p.ord;
END
$$;
COMMENT ON FUNCTION fs.apply(jsonb, boolean) IS 'Applies a definitions document {entities, feature_views, feature_services} in one transaction; with p_dry_run the plan is returned and nothing changes. serving: the version that serves a view or service afterwards (a changed view gets a staged version; serving stays until fspg promote).';
