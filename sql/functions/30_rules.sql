-- 30_rules: validation rules of features, checked when a view is defined and turned
-- into CHECK constraints on its history table.
-- Owns: fs.normalize_rules (validate + canonical form), fs.rule_checks (rule -> SQL
--       predicate), fs.feature_constraint (a feature's rules -> one CHECK constraint),
--       fs.normalize_drift (a view's drift thresholds, checked like rules).
-- Rules: not_null, finite (no NaN or infinity), min, max, allowed, regex, max_length.
-- A vector's dimension is
-- enforced by its type, vector(n). NULL values pass every rule except not_null, as
-- in SQL CHECK constraints.

CREATE OR REPLACE FUNCTION fs.normalize_rules(p_feature text, p_dtype text, p_rules jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rules  jsonb := coalesce(p_rules, '{}');
    v_out    jsonb := '{}';
    v_key    text;
    v_elem   jsonb;
    v_sqltype text;
    v_scalar boolean := p_dtype NOT LIKE '%[]' AND fs.vector_dimension(p_dtype) IS NULL;
BEGIN
    IF jsonb_typeof(v_rules) <> 'object' THEN
        RAISE EXCEPTION 'rules of feature % must be a mapping, got %', p_feature, v_rules USING ERRCODE = 'YF005';
    END IF;
    FOR v_key IN SELECT jsonb_object_keys(v_rules) LOOP
        IF v_key NOT IN ('not_null', 'finite', 'min', 'max', 'allowed', 'regex', 'max_length') THEN
            RAISE EXCEPTION 'unknown rule % on feature %', v_key, p_feature
                USING ERRCODE = 'YF005', HINT = 'Rules: not_null, finite, min, max, allowed, regex, max_length.';
        END IF;
    END LOOP;

    IF v_rules ? 'not_null' THEN
        IF jsonb_typeof(v_rules -> 'not_null') <> 'boolean' THEN
            RAISE EXCEPTION 'rule not_null of feature % must be true or false', p_feature USING ERRCODE = 'YF005';
        END IF;
        IF (v_rules ->> 'not_null')::boolean THEN
            v_out := v_out || '{"not_null": true}';
        END IF;
    END IF;

    IF v_rules ? 'finite' THEN
        IF jsonb_typeof(v_rules -> 'finite') <> 'boolean' OR p_dtype NOT IN ('float4', 'float8') THEN
            RAISE EXCEPTION 'rule finite applies to float4 and float8 features and takes true or false (feature %)', p_feature
                USING ERRCODE = 'YF005';
        END IF;
        IF (v_rules ->> 'finite')::boolean THEN
            v_out := v_out || '{"finite": true}';
        END IF;
    END IF;

    FOREACH v_key IN ARRAY ARRAY['min', 'max'] LOOP
        CONTINUE WHEN NOT v_rules ? v_key OR jsonb_typeof(v_rules -> v_key) = 'null';
        IF NOT fs.is_numeric_dtype(p_dtype) THEN
            RAISE EXCEPTION 'rule % does not apply to feature % of dtype %', v_key, p_feature, p_dtype
                USING ERRCODE = 'YF005', HINT = 'min and max apply to int, bigint, float4, float8 and numeric features.';
        END IF;
        IF jsonb_typeof(v_rules -> v_key) <> 'number' THEN
            RAISE EXCEPTION 'rule % of feature % must be a number, got %', v_key, p_feature, v_rules -> v_key
                USING ERRCODE = 'YF005';
        END IF;
        v_out := v_out || jsonb_build_object(v_key, v_rules -> v_key);
    END LOOP;
    IF v_out ? 'min' AND v_out ? 'max' AND (v_out ->> 'min')::numeric > (v_out ->> 'max')::numeric THEN
        RAISE EXCEPTION 'rule min % is greater than max % on feature %', v_out ->> 'min', v_out ->> 'max', p_feature
            USING ERRCODE = 'YF005';
    END IF;

    IF v_rules ? 'allowed' THEN
        IF jsonb_typeof(v_rules -> 'allowed') <> 'array' OR jsonb_array_length(v_rules -> 'allowed') = 0 THEN
            RAISE EXCEPTION 'rule allowed of feature % must be a non-empty list', p_feature USING ERRCODE = 'YF005';
        END IF;
        IF NOT v_scalar OR p_dtype IN ('jsonb', 'float4', 'float8') THEN
            RAISE EXCEPTION 'rule allowed does not apply to feature % of dtype %', p_feature, p_dtype
                USING ERRCODE = 'YF005', HINT = 'allowed applies to text, integer, bool, date, uuid and numeric features.';
        END IF;
        v_sqltype := fs.sql_type(p_dtype);
        FOR v_elem IN SELECT jsonb_array_elements(v_rules -> 'allowed') LOOP
            BEGIN
                EXECUTE format('SELECT %L::%s', v_elem #>> '{}', v_sqltype);
            EXCEPTION WHEN data_exception THEN
                RAISE EXCEPTION 'allowed value % of feature % is not a valid %', v_elem, p_feature, p_dtype
                    USING ERRCODE = 'YF005';
            END;
        END LOOP;
        v_out := v_out || jsonb_build_object('allowed', v_rules -> 'allowed');
    END IF;

    IF v_rules ? 'regex' THEN
        IF p_dtype <> 'text' OR jsonb_typeof(v_rules -> 'regex') <> 'string' THEN
            RAISE EXCEPTION 'rule regex applies to text features only and takes a string (feature %)', p_feature
                USING ERRCODE = 'YF005';
        END IF;
        BEGIN
            PERFORM '' ~ (v_rules ->> 'regex');
        EXCEPTION WHEN invalid_regular_expression THEN
            RAISE EXCEPTION 'invalid regex % on feature %', v_rules ->> 'regex', p_feature
                USING ERRCODE = 'YF005', DETAIL = SQLERRM, HINT = 'Rules use PostgreSQL POSIX regular expressions.';
        END;
        v_out := v_out || jsonb_build_object('regex', v_rules -> 'regex');
    END IF;

    IF v_rules ? 'max_length' THEN
        IF p_dtype <> 'text' OR jsonb_typeof(v_rules -> 'max_length') <> 'number'
           OR (v_rules ->> 'max_length')::numeric <> floor((v_rules ->> 'max_length')::numeric)
           OR (v_rules ->> 'max_length')::numeric < 1 THEN
            RAISE EXCEPTION 'rule max_length applies to text features only and takes a positive whole number (feature %)', p_feature
                USING ERRCODE = 'YF005';
        END IF;
        v_out := v_out || jsonb_build_object('max_length', (v_rules ->> 'max_length')::integer);
    END IF;
    RETURN v_out;
END
$$;
COMMENT ON FUNCTION fs.normalize_rules(text, text, jsonb) IS 'Validates the rules of one feature against its dtype and returns them in canonical form; raises YF005.';

CREATE OR REPLACE FUNCTION fs.rule_checks(p_feature text, p_dtype text, p_rules jsonb, p_column text DEFAULT NULL)
RETURNS TABLE (constraint_name text, expression text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- The expression the rules test: the column itself in a CHECK constraint, a typed
    -- expression over a staging row in fs.ingest.
    v_col   text := coalesce(p_column, quote_ident(p_feature));
    v_float boolean := p_dtype IN ('float4', 'float8');
BEGIN
    IF (p_rules ->> 'not_null')::boolean THEN
        RETURN QUERY SELECT p_feature || '__not_null', format('%s IS NOT NULL', v_col);
    END IF;
    IF p_rules ? 'min' THEN
        -- NaN sorts above every number in PostgreSQL, so a min bound alone would let it
        -- in (with a max bound too, the max already refuses it).
        RETURN QUERY SELECT p_feature || '__min',
            format('%s >= %s', v_col, (p_rules ->> 'min')::numeric)
            || CASE WHEN v_float AND NOT p_rules ? 'max' THEN format(' AND %s <> %L', v_col, 'NaN') ELSE '' END;
    END IF;
    IF p_rules ? 'max' THEN
        RETURN QUERY SELECT p_feature || '__max', format('%s <= %s', v_col, (p_rules ->> 'max')::numeric);
    END IF;
    IF (p_rules ->> 'finite')::boolean THEN
        RETURN QUERY SELECT p_feature || '__finite',
            format('%s NOT IN (%L, %L, %L)', v_col, 'NaN', 'Infinity', '-Infinity');
    END IF;
    IF p_rules ? 'allowed' THEN
        RETURN QUERY SELECT p_feature || '__allowed',
            format('%s IN (%s)', v_col,
                   (SELECT string_agg(format('%L', e #>> '{}'), ', ') FROM jsonb_array_elements(p_rules -> 'allowed') e));
    END IF;
    IF p_rules ? 'regex' THEN
        RETURN QUERY SELECT p_feature || '__regex', format('%s ~ %L', v_col, p_rules ->> 'regex');
    END IF;
    IF p_rules ? 'max_length' THEN
        RETURN QUERY SELECT p_feature || '__max_length',
            format('char_length(%s) <= %s', v_col, (p_rules ->> 'max_length')::integer);
    END IF;
END
$$;
COMMENT ON FUNCTION fs.rule_checks(text, text, jsonb, text) IS 'CHECK constraint name and expression for each rule of a feature (rules already normalised), over the column or over p_column.';

CREATE OR REPLACE FUNCTION fs.feature_constraint(p_feature text, p_dtype text, p_rules jsonb)
RETURNS TABLE (constraint_name text, expression text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- One constraint per feature, named after the feature and the rules it holds
    -- (spend_7d__not_null_min_max): a failing plain INSERT names them, and the table
    -- evaluates one expression per feature instead of one per rule (measured: 20
    -- constraints instead of 40 save a tenth of a 1M-row ingest).
    WITH r AS (SELECT * FROM fs.rule_checks(p_feature, p_dtype, p_rules))
    SELECT CASE WHEN length(p_feature || '__' || string_agg(substr(r.constraint_name, length(p_feature) + 3), '_')) <= 63
                THEN p_feature || '__' || string_agg(substr(r.constraint_name, length(p_feature) + 3), '_')
                ELSE p_feature || '__rules' END,
           string_agg(format('(%s)', r.expression), ' AND ')
      FROM r
    HAVING count(*) > 0
$$;
COMMENT ON FUNCTION fs.feature_constraint(text, text, jsonb) IS 'The CHECK constraint (name, expression) holding every rule of a feature; no row when it has no rules.';

CREATE OR REPLACE FUNCTION fs.normalize_vector_index(p_feature text, p_dtype text, p_index jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_spec jsonb := CASE jsonb_typeof(p_index) WHEN 'string' THEN jsonb_build_object('type', p_index #>> '{}') ELSE p_index END;
BEGIN
    -- index: hnsw, or {type: hnsw, metric: l2 | cosine | ip}; an online nearest-neighbour index.
    IF fs.vector_dimension(p_dtype) IS NULL THEN
        RAISE EXCEPTION 'index applies to vector features only (feature % is %)', p_feature, p_dtype USING ERRCODE = 'YF005';
    END IF;
    IF jsonb_typeof(v_spec) IS DISTINCT FROM 'object' OR v_spec ->> 'type' IS DISTINCT FROM 'hnsw'
       OR coalesce(v_spec ->> 'metric', 'l2') NOT IN ('l2', 'cosine', 'ip')
       OR EXISTS (SELECT 1 FROM jsonb_object_keys(v_spec) k WHERE k NOT IN ('type', 'metric')) THEN
        RAISE EXCEPTION 'invalid index % on feature %', p_index, p_feature
            USING ERRCODE = 'YF005', HINT = 'Write index: hnsw, or index: {type: hnsw, metric: cosine} (metrics: l2, cosine, ip).';
    END IF;
    RETURN jsonb_build_object('type', 'hnsw', 'metric', coalesce(v_spec ->> 'metric', 'l2'));
END
$$;
COMMENT ON FUNCTION fs.normalize_vector_index(text, text, jsonb) IS 'Validates a vector feature''s index declaration and returns it in canonical form {type, metric}.';

CREATE OR REPLACE FUNCTION fs.normalize_drift(p_view text, p_drift jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_drift   jsonb := coalesce(p_drift, '{}');
    v_scope   record;
    v_key     text;
BEGIN
    -- drift: {psi: 0.1, mean_shift: 0.5, null_rate_delta: 0.02, features: {spend_7d: {psi: 0.05}}}
    IF jsonb_typeof(v_drift) <> 'object' OR (v_drift ? 'features' AND jsonb_typeof(v_drift -> 'features') <> 'object') THEN
        RAISE EXCEPTION 'feature view %: drift must be a mapping like {psi: 0.2, features: {name: {psi: 0.1}}}', p_view
            USING ERRCODE = 'YF008';
    END IF;
    FOR v_scope IN SELECT NULL AS feature, v_drift - 'features' AS t
                   UNION ALL SELECT key, value FROM jsonb_each(coalesce(v_drift -> 'features', '{}')) LOOP
        IF jsonb_typeof(v_scope.t) <> 'object' THEN
            RAISE EXCEPTION 'feature view %: drift of feature % must be a mapping', p_view, v_scope.feature USING ERRCODE = 'YF008';
        END IF;
        FOR v_key IN SELECT jsonb_object_keys(v_scope.t) LOOP
            IF v_key NOT IN ('psi', 'mean_shift', 'null_rate_delta') THEN
                RAISE EXCEPTION 'feature view %: unknown drift threshold %', p_view, v_key
                    USING ERRCODE = 'YF008', HINT = 'Thresholds: psi, mean_shift (in baseline standard deviations), null_rate_delta.';
            END IF;
            IF jsonb_typeof(v_scope.t -> v_key) <> 'number' OR (v_scope.t ->> v_key)::numeric < 0 THEN
                RAISE EXCEPTION 'feature view %: drift threshold % must be a number >= 0, got %', p_view, v_key, v_scope.t -> v_key
                    USING ERRCODE = 'YF008';
            END IF;
        END LOOP;
    END LOOP;
    RETURN v_drift;
END
$$;
COMMENT ON FUNCTION fs.normalize_drift(text, jsonb) IS 'Checks a feature view''s drift: thresholds (psi, mean_shift, null_rate_delta, per feature under features:).';
