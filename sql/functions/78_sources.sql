-- 78_sources: SQL-defined feature views and their materialization.
-- Owns: fs.normalize_source, fs.source_schedule_changed, fs.source_query_columns,
--       fs.source_query_rows, fs.source_probe,
--       fs.record_source_run, fs.record_source_error, fs.materialize_source,
--       fs.due_sources, fs.run_due_sources, fs.schedule_with_pg_cron, fs.source_status.
-- A view may declare source: {query, refresh, start}. The query yields the entity keys,
-- event_ts and features; fspg runs it for a window [start, end) of event time and feeds
-- the rows through the same validated write path as insert_batch (fs.ingest: rules,
-- quarantine, batch log, online upkeep). Rows already in history with the same values
-- are skipped, so re-running a window adds only what changed: idempotent per window.
-- Source queries run as fs_source (a NOLOGIN role the DBA grants SELECT on what sources
-- may read), whoever triggers the run: an admin's query cannot read more than that role
-- may, whether a writer, a superuser's fspg maintain or pg_cron runs it. They resolve
-- names with search_path = pg_catalog, public, pg_temp (name other schemas explicitly).
-- fs.source_query_columns and fs.source_query_rows are the only functions fs_source owns;
-- only fs_owner may call them, with query text it read from the catalog.

CREATE OR REPLACE FUNCTION fs.normalize_source(p_view text, p_source jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_refresh interval;
    v_start   timestamptz;
BEGIN
    IF p_source IS NULL OR p_source = 'null'::jsonb THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_source) <> 'object' OR jsonb_typeof(p_source -> 'query') IS DISTINCT FROM 'string'
       OR btrim(p_source ->> 'query') = '' THEN
        RAISE EXCEPTION 'feature view %: source must be a mapping with a query, e.g. {query: "SELECT ...", refresh: 1 hour}', p_view
            USING ERRCODE = 'YF008';
    END IF;
    PERFORM fs.reject_unknown_fields('source of feature view ' || p_view, p_source, ARRAY['query', 'refresh', 'start']);
    BEGIN
        v_refresh := (p_source ->> 'refresh')::interval;
        v_start := (p_source ->> 'start')::timestamptz;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'feature view %: source refresh must be an interval (1 hour) and start a timestamp, got % and %',
            p_view, p_source -> 'refresh', p_source -> 'start' USING ERRCODE = 'YF008';
    END;
    IF v_refresh <= interval '0' THEN
        RAISE EXCEPTION 'feature view %: source refresh must be positive', p_view USING ERRCODE = 'YF008';
    END IF;
    RETURN jsonb_strip_nulls(jsonb_build_object('query', btrim(p_source ->> 'query'), 'refresh', v_refresh::text,
                                                'start', v_start));
END
$$;
COMMENT ON FUNCTION fs.normalize_source(text, jsonb) IS 'Checks a feature view''s source: {query, refresh, start}; NULL when there is none.';

CREATE OR REPLACE FUNCTION fs.source_schedule_changed(p_version_id integer, p_source jsonb)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM fs.view_source s WHERE s.version_id = p_version_id
                      AND (s.refresh IS DISTINCT FROM (p_source ->> 'refresh')::interval
                           OR s.start_at IS DISTINCT FROM (p_source ->> 'start')::timestamptz))
$$;
COMMENT ON FUNCTION fs.source_schedule_changed(integer, jsonb) IS 'Whether a definition changes a source''s refresh or start (an in-place update, not a new version).';

CREATE OR REPLACE FUNCTION fs.record_source_run(p_version_id integer, p_start timestamptz, p_end timestamptz, p_batch_id bigint,
                                                p_rows_in bigint, p_unchanged bigint, p_inserted bigint, p_quarantined bigint,
                                                p_started timestamptz, p_tables text[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO fs.source_run (version_id, window_start, window_end, batch_id, rows_in, unchanged, inserted, quarantined, started_at)
    VALUES (p_version_id, p_start, p_end, p_batch_id, p_rows_in, p_unchanged, p_inserted, p_quarantined, p_started);
    UPDATE fs.view_source SET high_water = greatest(high_water, p_end), last_run_at = clock_timestamp(), last_error = NULL
     WHERE version_id = p_version_id;
    INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)
    SELECT 'table', t, 'feature_view', (SELECT format('%s@%s', fv.name, vv.version)
                                          FROM fs.feature_view_version vv JOIN fs.feature_view fv USING (view_id)
                                         WHERE vv.version_id = p_version_id)
      FROM unnest(p_tables) t
    ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION fs.record_source_run(integer, timestamptz, timestamptz, bigint, bigint, bigint, bigint, bigint, timestamptz, text[]) IS 'Logs a materialized source window, moves the high-water mark and records the tables the query read as lineage.';

CREATE OR REPLACE FUNCTION fs.record_source_error(p_version_id integer, p_error text)
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE fs.view_source SET last_error = p_error, last_run_at = clock_timestamp() WHERE version_id = p_version_id
$$;
COMMENT ON FUNCTION fs.record_source_error(integer, text) IS 'Notes the last failure of a source (the failed window itself leaves nothing behind).';

CREATE OR REPLACE FUNCTION fs.source_query_columns(p_query text)
RETURNS TABLE (name text, type_oid oid, typmod integer, tables text[])
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET client_min_messages = warning
AS $$
#variable_conflict use_column
DECLARE
    v_tables text[];
BEGIN
    -- Runs as fs_source. The probe view is created fresh and dropped here: an object of
    -- that name made earlier in the session makes this fail, never answer for it.
    EXECUTE 'CREATE TEMP VIEW fs_source_probe AS ' || p_query;
    SELECT pg_catalog.array_agg(DISTINCT pg_catalog.format('%I.%I', n.nspname, c.relname)) INTO v_tables
      FROM pg_catalog.pg_rewrite r
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
      JOIN pg_catalog.pg_class c ON c.oid = d.refobjid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE r.ev_class = 'pg_temp.fs_source_probe'::pg_catalog.regclass AND c.oid <> r.ev_class;
    RETURN QUERY SELECT a.attname::text, a.atttypid, a.atttypmod, coalesce(v_tables, '{}')
                   FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = 'pg_temp.fs_source_probe'::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped
                  ORDER BY a.attnum;
    DROP VIEW pg_temp.fs_source_probe;
END
$$;
COMMENT ON FUNCTION fs.source_query_columns(text) IS 'The columns (name, type) a source query yields and the tables it reads, parsed as fs_source.';

CREATE OR REPLACE FUNCTION fs.source_query_rows(p_query text, p_start timestamptz, p_end timestamptz)
RETURNS SETOF record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    -- Runs as fs_source: the query reads what the DBA granted that role, no more.
    RETURN QUERY EXECUTE pg_catalog.format('SELECT q.* FROM (%s) q WHERE q.event_ts >= $1 AND q.event_ts < $2', p_query)
                 USING p_start, p_end;
END
$$;
COMMENT ON FUNCTION fs.source_query_rows(text, timestamptz, timestamptz) IS 'The rows of a source query for event times in [start, end), read as fs_source.';

-- fs_source owns the two functions above; the owner (a member of fs_source) replaces
-- them on every migrate and is the only role that may call them.
GRANT CREATE ON SCHEMA fs TO fs_source;
ALTER FUNCTION fs.source_query_columns(text) OWNER TO fs_source;
ALTER FUNCTION fs.source_query_rows(text, timestamptz, timestamptz) OWNER TO fs_source;
REVOKE CREATE ON SCHEMA fs FROM fs_source;
REVOKE ALL ON FUNCTION fs.source_query_columns(text), fs.source_query_rows(text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fs.source_query_columns(text), fs.source_query_rows(text, timestamptz, timestamptz) TO fs_owner;

CREATE OR REPLACE FUNCTION fs.materialize_source(p_view text, p_start timestamptz DEFAULT NULL, p_end timestamptz DEFAULT NULL)
RETURNS TABLE (feature_view text, version integer, window_start timestamptz, window_end timestamptz, batch_id bigint,
               rows_in bigint, unchanged bigint, inserted bigint, quarantined bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
#variable_conflict use_column
DECLARE
    v_version fs.feature_view_version := fs.resolve_version(p_view);
    v_name    text;
    v_source  fs.view_source;
    v_start   timestamptz;
    v_end     timestamptz := coalesce(p_end, pg_catalog.now());
    v_clash   fs.source_run;
    v_tables  text[];
    v_columns text;
    v_q       record;
    v_keys    text;
    v_same    text;
    v_rows    bigint;
    v_skipped bigint;
    v_seen    boolean;
    v_result  record;
    v_started timestamptz := pg_catalog.clock_timestamp();
BEGIN
    SELECT fv.name INTO v_name FROM fs.feature_view fv WHERE fv.view_id = v_version.view_id;
    SELECT s.* INTO v_source FROM fs.view_source s WHERE s.version_id = v_version.version_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view %@% has no source query', v_name, v_version.version
            USING ERRCODE = 'YF015', HINT = 'Declare source: {query: ...} in its definition, or load it with insert_batch.';
    END IF;
    v_start := coalesce(p_start, v_source.high_water, v_source.start_at);
    IF v_start IS NULL THEN
        RAISE EXCEPTION 'feature view %: where should the first window start?', v_name
            USING ERRCODE = 'YF015', HINT = 'Give --start, or declare source.start in the definition.';
    END IF;
    IF v_end <= v_start THEN
        RAISE EXCEPTION 'window [%, %) of feature view % is empty or reversed', v_start, v_end, v_name USING ERRCODE = 'YF015';
    END IF;
    -- One window is either new, or exactly one already run (a re-run picks up what
    -- changed); a window cutting across earlier ones would split their accounting.
    SELECT r.* INTO v_clash FROM fs.source_run r
     WHERE r.version_id = v_version.version_id AND r.window_start < v_end AND r.window_end > v_start
       AND NOT (r.window_start = v_start AND r.window_end = v_end)
     ORDER BY r.window_start LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'window [%, %) overlaps the materialized window [%, %) of feature view %',
            v_start, v_end, v_clash.window_start, v_clash.window_end, v_name
            USING ERRCODE = 'YF015', HINT = 'Re-run exactly that window, or start at the high-water mark (leave --start out).';
    END IF;
    -- Serialise runs of one view: two at once would both find the rows new.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('fspg.source:' || v_version.version_id));

    -- The tables it reads (lineage), and its own column types from the catalog as the
    -- column definition list of its rows.
    SELECT p.tables, p.column_list INTO v_tables, v_columns FROM fs.source_probe(v_name, v_source.query, v_version.version_id) p;
    BEGIN
        -- Created fresh (never IF NOT EXISTS) and dropped below: the store's own table.
        EXECUTE pg_catalog.format(
            'CREATE TEMP TABLE fs_source_rows ON COMMIT DROP AS SELECT q.*, row_number() OVER () AS fs_row'
            ' FROM fs.source_query_rows($1, $2, $3) AS q(%s)', v_columns)
          USING v_source.query, v_start, v_end;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'the source query of feature view % failed: %', v_name, SQLERRM
            USING ERRCODE = 'YF018', DETAIL = pg_catalog.format('SQLSTATE %s; window [%s, %s); nothing was written.', SQLSTATE, v_start, v_end);
    END;
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    BEGIN
        -- Rows whose values history already holds as the newest for that entity and moment
        -- are not written again.
        v_q := fs.ingest_query(v_version.version_id, 'pg_temp.fs_source_rows'::regclass, pg_catalog.now() + fs.max_future_skew());
        v_keys := coalesce((SELECT pg_catalog.string_agg(pg_catalog.format('h.%1$I = t.%1$I', k.name), ' AND ') || ' AND '
                              FROM fs.key_columns(v_version.version_id) k), '');
        v_same := (SELECT pg_catalog.string_agg(pg_catalog.format('t.%1$I IS NOT DISTINCT FROM n.%1$I', f.name), ' AND ')
                     FROM fs.feature f WHERE f.version_id = v_version.version_id);
        -- A window history has nothing of yet (the usual incremental run) skips the check.
        EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM fs_offline.%I WHERE event_ts >= %L AND event_ts < %L)',
                                  v_version.offline_table, v_start, v_end) INTO v_seen;
        v_skipped := 0;
        IF v_seen THEN
            EXECUTE pg_catalog.format(
                'DELETE FROM pg_temp.fs_source_rows d WHERE d.fs_row IN (SELECT t."?row" FROM (%s) t WHERE NOT (%s) AND EXISTS ('
                ' SELECT 1 FROM (SELECT * FROM fs_offline.%I h WHERE %s h.event_ts = t.event_ts ORDER BY h.created_ts DESC LIMIT 1) n WHERE %s))',
                v_q.typed_query, v_q.bad_predicate, v_version.offline_table, v_keys, v_same);
            GET DIAGNOSTICS v_skipped = ROW_COUNT;
        END IF;

        SELECT * INTO v_result FROM fs.ingest(pg_catalog.format('%s@%s', v_name, v_version.version), 'pg_temp.fs_source_rows'::regclass,
                                              'quarantine', pg_catalog.format('source window [%s, %s)', v_start, v_end));
    EXCEPTION WHEN data_exception THEN
        -- A value a cast cannot take (a JSON object for a number, say) fails the window
        -- rather than quarantining: it is the query that is wrong, not one row.
        RAISE EXCEPTION 'the source query of feature view % yields values its features cannot hold: %', v_name, SQLERRM
            USING ERRCODE = 'YF018', DETAIL = pg_catalog.format('SQLSTATE %s; window [%s, %s); nothing was written.', SQLSTATE, v_start, v_end);
    END;
    DROP TABLE pg_temp.fs_source_rows;
    PERFORM fs.record_source_run(v_version.version_id, v_start, v_end, v_result.batch_id, v_rows, v_skipped,
                                 v_result.inserted, v_result.quarantined, v_started, v_tables);
    RETURN QUERY SELECT v_name, v_version.version, v_start, v_end, v_result.batch_id, v_rows, v_skipped,
                        v_result.inserted, v_result.quarantined;
END
$$;
COMMENT ON FUNCTION fs.materialize_source(text, timestamptz, timestamptz) IS 'Runs a SQL-defined view''s source query as fs_source for event times in [start, end) (default: from its high-water mark to now) and appends the rows through fs.ingest; rows history already has unchanged are skipped, so a window can be re-run safely.';

CREATE OR REPLACE FUNCTION fs.source_probe(p_view text, p_query text, p_version_id integer,
                                           OUT tables text[], OUT column_list text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_missing text;
    v_columns record;
BEGIN
    BEGIN
        -- Every row carries the same list of tables the query reads.
        SELECT pg_catalog.array_agg(c.name) AS names, pg_catalog.min(c.tables::text)::text[] AS tables,
               pg_catalog.string_agg(pg_catalog.format('%I %s', c.name, pg_catalog.format_type(c.type_oid, c.typmod)), ', ')
                   AS column_list,
               pg_catalog.string_agg(pg_catalog.format('%s (%s)', c.name, pg_catalog.format_type(c.type_oid, c.typmod)), ', ')
                   FILTER (WHERE NOT fs.is_trusted_type(c.type_oid)) AS untrusted
          INTO v_columns FROM fs.source_query_columns(p_query) c;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'the source query of feature view % is not valid: %', p_view, SQLERRM
            USING ERRCODE = 'YF018', DETAIL = pg_catalog.format('SQLSTATE %s; nothing was written.', SQLSTATE);
    END;
    SELECT pg_catalog.string_agg(c.name, ', ') INTO v_missing
      FROM fs.view_columns((SELECT pg_catalog.format('%s@%s', fv.name, vv.version) FROM fs.feature_view_version vv
                              JOIN fs.feature_view fv USING (view_id) WHERE vv.version_id = p_version_id)) c
     WHERE c.role IN ('key', 'event_ts') AND NOT c.name = ANY (coalesce(v_columns.names, '{}'));
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'the source query of feature view % yields no column(s) %', p_view, v_missing
            USING ERRCODE = 'YF010', HINT = 'Name the entity keys and the event time (AS event_ts) in its SELECT list.';
    END IF;
    IF v_columns.untrusted IS NOT NULL THEN
        RAISE EXCEPTION 'the source query of feature view % yields column(s) of types fspg does not stage: %', p_view, v_columns.untrusted
            USING ERRCODE = 'YF010', HINT = 'Cast them to built-in types (text, bigint, ...) in the query.';
    END IF;
    tables := coalesce(v_columns.tables, '{}');
    column_list := v_columns.column_list;
END
$$;
COMMENT ON FUNCTION fs.source_probe(text, text, integer) IS 'Checks that a source query parses (as fs_source), yields the entity keys and event_ts in built-in types; returns the tables it reads and its column definition list (name type, ...).';

CREATE OR REPLACE FUNCTION fs.due_sources()
RETURNS TABLE (feature_view text, version integer, version_id integer, high_water timestamptz, refresh interval)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- Written versions (promoted, staged, previous: each runs its own query) with a refresh
    -- interval whose last window ended at least that long ago.
    SELECT fv.name, vv.version, s.version_id, s.high_water, s.refresh
      FROM fs.view_source s JOIN fs.feature_view_version vv USING (version_id) JOIN fs.feature_view fv USING (view_id)
     WHERE fs.version_stage(vv.version_id) IN ('promoted', 'staged', 'previous') AND vv.status = 'active' AND s.refresh IS NOT NULL
       AND coalesce(s.high_water, s.start_at) IS NOT NULL
       AND coalesce(s.high_water, s.start_at) <= now() - s.refresh
     ORDER BY fv.name, vv.version
$$;
COMMENT ON FUNCTION fs.due_sources() IS 'SQL-defined views whose refresh is due: the next window (high-water mark to now) is at least one refresh interval long.';

CREATE OR REPLACE VIEW fs.source_status AS
SELECT fv.name AS feature_view, vv.version, s.refresh, s.start_at, s.high_water, s.last_run_at, s.last_error,
       (SELECT count(*) FROM fs.source_run r WHERE r.version_id = s.version_id) AS runs,
       (SELECT sum(r.inserted) FROM fs.source_run r WHERE r.version_id = s.version_id) AS rows_inserted,
       s.query
  FROM fs.view_source s JOIN fs.feature_view_version vv USING (version_id) JOIN fs.feature_view fv USING (view_id);
COMMENT ON VIEW fs.source_status IS 'SQL-defined feature view versions: refresh, high-water mark, last run and error, rows materialized.';

CREATE OR REPLACE FUNCTION fs.run_due_sources()
RETURNS TABLE (feature_view text, version integer, window_start timestamptz, window_end timestamptz, inserted bigint,
               quarantined bigint, error text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_due    record;
    v_result record;
BEGIN
    FOR v_due IN SELECT * FROM fs.due_sources() LOOP
        feature_view := v_due.feature_view;
        version := v_due.version;
        BEGIN
            SELECT * INTO v_result FROM fs.materialize_source(format('%s@%s', v_due.feature_view, v_due.version));
            window_start := v_result.window_start;
            window_end := v_result.window_end;
            inserted := v_result.inserted;
            quarantined := v_result.quarantined;
            error := NULL;
        EXCEPTION WHEN OTHERS THEN
            -- One broken source must not stop the others; its window is simply not done.
            window_start := v_due.high_water;
            window_end := NULL;
            inserted := 0;
            quarantined := 0;
            error := SQLERRM;
            PERFORM fs.record_source_error(v_due.version_id, SQLERRM);
        END;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION fs.run_due_sources() IS 'Materializes the next window of every SQL-defined view whose refresh is due; a failing source is reported (and noted in fs.view_source) without stopping the others. fspg maintain and pg_cron call it.';

CREATE OR REPLACE FUNCTION fs.schedule_with_pg_cron(p_schedule text DEFAULT '*/5 * * * *')
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_job bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'YF007',
                  HINT = 'Install pg_cron (shared_preload_libraries, CREATE EXTENSION pg_cron), or run fspg materialize --loop, or call fspg maintain from your scheduler.';
    END IF;
    -- cron.schedule replaces a job of the same name: scheduling again only changes the timing.
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO v_job
      USING 'fspg-maintain', p_schedule, 'SELECT fs.maintain(); SELECT fs.run_due_sources();';
    RETURN v_job;
END
$$;
COMMENT ON FUNCTION fs.schedule_with_pg_cron(text) IS 'Registers fs.maintain() and fs.run_due_sources() as the pg_cron job fspg-maintain (default every 5 minutes); YF007 when pg_cron is not installed.';
