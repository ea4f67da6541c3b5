-- 77_push: events sent as JSON (the HTTP server's /push, AsyncFeatureStore.push, any
-- language with a PostgreSQL driver) through the same validated write path as a batch.
--
-- Every value is staged as text and parsed by fs.ingest's per-row checks, so a value of
-- the wrong type quarantines its row as <column>__type instead of failing the call, and
-- the answer accounts for every event: rows_in = inserted + quarantined + unchanged.

CREATE OR REPLACE FUNCTION fs.push(p_view text, p_rows jsonb, p_mode text DEFAULT 'quarantine',
                                   p_source text DEFAULT 'push', p_batch_key text DEFAULT NULL)
RETURNS SETOF fs.batch_result
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_columns text[];
    v_types   jsonb;
    v_values  text;
    v_table   text;
BEGIN
    IF p_rows IS NULL OR jsonb_typeof(p_rows) <> 'array' THEN
        RAISE EXCEPTION 'events must be a JSON array of objects, got %', coalesce(jsonb_typeof(p_rows), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF jsonb_array_length(p_rows) = 0 THEN
        RAISE EXCEPTION 'no events to push' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT FROM jsonb_array_elements(p_rows) r WHERE jsonb_typeof(r) <> 'object') THEN
        RAISE EXCEPTION 'every event must be a JSON object of column: value'
            USING ERRCODE = '22023';
    END IF;
    SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{}') INTO v_columns
      FROM jsonb_array_elements(p_rows) r, jsonb_object_keys(r) k;
    -- Unknown columns are refused by fs.ingest (fs.check_batch_columns), as for any batch.
    SELECT jsonb_object_agg(c.name, c.sql_type) INTO v_types FROM fs.view_columns(p_view) c;

    -- One staging table per shape of events, kept for the session and emptied per call:
    -- a serving connection pushes the same shape again and again, and creating a table
    -- (catalog rows, then dropping them) cost more than the rest of a push.
    v_table := 'fs_push_' || left(md5(p_view || ':' || array_to_string(v_columns, ',')), 16);
    IF to_regclass('pg_temp.' || v_table) IS NULL THEN
        EXECUTE format('CREATE TEMP TABLE %I (fs_row bigint, %s)', v_table,
                       (SELECT string_agg(format('%I text', c), ', ' ORDER BY c) FROM unnest(v_columns) c));
    ELSE
        EXECUTE format('TRUNCATE pg_temp.%I', v_table);
    END IF;
    -- A JSON array is a vector's text form already ([1,2]); for an SQL array it becomes {1,2}.
    SELECT string_agg(CASE WHEN v_types ->> c LIKE '%[]'
                           THEN format('translate(r.v -> %L #>> ''{}'', ''[]'', ''{}'')', c)
                           ELSE format('r.v ->> %L', c) END, ', ' ORDER BY c)
      INTO v_values FROM unnest(v_columns) c;
    EXECUTE format('INSERT INTO pg_temp.%I SELECT r.n, %s FROM jsonb_array_elements($1) WITH ORDINALITY AS r(v, n)',
                   v_table, v_values)
      USING p_rows;
    RETURN QUERY SELECT * FROM fs.ingest(p_view, format('pg_temp.%I', v_table)::regclass, p_mode, p_source, p_batch_key);
END
$$;
COMMENT ON FUNCTION fs.push(text, jsonb, text, text, text) IS 'Validate and write events given as a JSON array of objects (column: value) to a view, as fs.ingest does: bad rows quarantined with their reasons (a value that does not parse as <column>__type), retries with the same p_batch_key return the first result.';
