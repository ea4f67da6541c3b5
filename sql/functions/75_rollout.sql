-- 75_rollout: staged versions, the expand/contract migration applied to features.
-- A changed definition makes version N+1 *staged*: serving, unpinned reads, services and
-- CDC stay on the *promoted* version N (fs.feature_view.current_version). While N+1 is
-- staged, a statement trigger on N's history copies every row written to N into N+1
-- through N+1's own rules (bad rows to N+1's quarantine, never failing N's write), in
-- the writer's transaction; rows of a batch that N quarantines are offered to N+1 by
-- fs.ingest (a relaxed rule takes them). fs.backfill_chunk fills N+1 from N's history, one partition
-- period per call (resumable); fs.promote switches serving atomically and keeps N in sync
-- as the *previous* version, so fs.rollback loses nothing written in between.
-- Owns: fs.version_stage, fs.stage_targets, fs.copy_query, fs.dual_write, fs.install_stage_writes (the generated trigger
--       function fs.stage_writes_v<version_id>), fs.backfill_chunk, fs.promote,
--       fs.rollback, fs.switch_serving, fs.rollout_status, fs.serving_epoch.
--
-- Which created_ts a backfilled row carries (docs/decisions.md): the backfill's own.
-- created_ts is when *this version* learned a value, so an as_of read of N+1 before the
-- backfill sees what N+1 held then, and a training set built on N+1 is rebuilt
-- identical after any later backfill. Per (entity, event_ts) only N's newest row is
-- copied, and none where N+1 already holds that moment (written there by a dual write,
-- which is newer knowledge): the backfill never makes an older correction win.

CREATE OR REPLACE FUNCTION fs.version_stage(p_version_id integer)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN vv.version = fv.current_version THEN 'promoted'
                WHEN vv.staged THEN 'staged'
                WHEN vv.version = fv.previous_version THEN 'previous'
                ELSE 'retired' END
      FROM fs.feature_view_version vv JOIN fs.feature_view fv USING (view_id)
     WHERE vv.version_id = p_version_id
$$;
COMMENT ON FUNCTION fs.version_stage(integer) IS 'Where a version stands: promoted (serving), staged (written, not served), previous (the rollback target, still written) or retired.';

CREATE OR REPLACE FUNCTION fs.stage_targets(p_version_id integer)
RETURNS SETOF fs.feature_view_version
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- What a write to the promoted version also reaches: staged versions and the previous
    -- one, except those with a source query of their own (they run it; fs.due_sources)
    -- and those of another entity.
    SELECT vv.*
      FROM fs.feature_view_version p
      JOIN fs.feature_view fv ON fv.view_id = p.view_id AND fv.current_version = p.version
      JOIN fs.feature_view_version vv ON vv.view_id = p.view_id AND vv.version_id <> p.version_id
     WHERE p.version_id = p_version_id
       AND fs.version_stage(vv.version_id) IN ('staged', 'previous')
       AND NOT EXISTS (SELECT 1 FROM fs.view_source s WHERE s.version_id = vv.version_id)
       AND vv.definition -> 'entity' = p.definition -> 'entity'
     ORDER BY vv.version
$$;
COMMENT ON FUNCTION fs.stage_targets(integer) IS 'The versions every write to a promoted version also lands in (staged ones and the previous one); none when the version is not the promoted one.';

CREATE OR REPLACE FUNCTION fs.copy_query(p_target integer, p_source integer, p_relation text,
                                         OUT typed_query text, OUT bad_predicate text, OUT reasons_expr text,
                                         OUT history_columns text, OUT typed_columns text, OUT columns jsonb,
                                         OUT exact boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_source text := (SELECT format('%s@%s', fv.name, vv.version) FROM fs.feature_view_version vv
                        JOIN fs.feature_view fv USING (view_id) WHERE vv.version_id = p_source);
    v_target text := (SELECT format('%s@%s', fv.name, vv.version) FROM fs.feature_view_version vv
                        JOIN fs.feature_view fv USING (view_id) WHERE vv.version_id = p_target);
    v_missing text;
    v_select  text;
    v_q       record;
BEGIN
    SELECT string_agg(t.name, ', ') INTO v_missing
      FROM fs.view_columns(v_target) t
     WHERE t.role = 'key' AND NOT EXISTS (SELECT 1 FROM fs.view_columns(v_source) s WHERE s.name = t.name AND s.role = 'key');
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION '% cannot be filled from %: its key column(s) % are not keys there', v_target, v_source, v_missing
            USING ERRCODE = 'YF008', HINT = 'A version of another entity starts empty; write to it directly.';
    END IF;
    -- Columns both versions have; a feature whose type changed travels as text and is
    -- parsed per row, so a value the new type cannot hold is quarantined, not fatal.
    SELECT string_agg(CASE WHEN s.sql_type = t.sql_type THEN format('n.%I', t.name)
                           ELSE format('n.%1$I::text AS %1$I', t.name) END, ', '),
           jsonb_agg(jsonb_build_object('name', t.name,
                                        'type', CASE WHEN s.sql_type = t.sql_type THEN format_type(t.sql_type::regtype, NULL)
                                                     ELSE 'text' END))
      INTO v_select, columns
      FROM fs.view_columns(v_target) t JOIN fs.view_columns(v_source) s USING (name);
    -- Rows of a history table are one per entity and moment already.
    v_q := fs.ingest_query(p_target, columns, format('(SELECT %s FROM %s n)', v_select, p_relation),
                           now() + fs.max_future_skew(), false);
    typed_query := v_q.typed_query;
    bad_predicate := v_q.bad_predicate;
    reasons_expr := v_q.reasons_expr;
    history_columns := v_q.history_columns;
    typed_columns := v_q.typed_columns;
    -- Every shared column has the same type in both versions: the rows can be inserted as
    -- they are and the target's constraints alone decide (fast, one pass); otherwise
    -- values are parsed per row and only the checked path is right.
    exact := NOT EXISTS (SELECT 1 FROM jsonb_array_elements(columns) c WHERE c ->> 'type' = 'text'
                           AND (SELECT t.sql_type FROM fs.view_columns(v_target) t WHERE t.name = c ->> 'name') <> 'text');
END
$$;
COMMENT ON FUNCTION fs.copy_query(integer, integer, text) IS 'fs.ingest_query for rows of version p_source (relation p_relation) going into version p_target: shared columns, changed types parsed per row; exact when no column needs parsing.';

CREATE OR REPLACE FUNCTION fs.install_stage_writes(p_view_id integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_promoted fs.feature_view_version;
    v_target   record;
    v_q        record;
    v_body     text := '';
    v_old      record;
    v_count    integer := 0;
    v_function text;
    v_checked  text;
    v_rows     text;
BEGIN
    SELECT vv.* INTO v_promoted FROM fs.feature_view_version vv JOIN fs.feature_view fv USING (view_id)
     WHERE fv.view_id = p_view_id AND vv.version = fv.current_version;
    v_function := format('stage_writes_v%s', v_promoted.version_id);
    -- The trigger lives on the promoted version only.
    FOR v_old IN SELECT t.tgrelid::regclass AS rel, vv.version_id
                   FROM pg_trigger t JOIN fs.feature_view_version vv ON t.tgrelid = format('fs_offline.%I', vv.offline_table)::regclass
                  WHERE vv.view_id = p_view_id AND t.tgname = 'stage_writes' LOOP
        EXECUTE format('DROP TRIGGER stage_writes ON %s', v_old.rel);
        EXECUTE format('DROP FUNCTION IF EXISTS fs.%I()', 'stage_writes_v' || v_old.version_id);
    END LOOP;
    -- On Citus it is a function the writing path calls (fs.dual_write).
    FOR v_old IN SELECT vv.version_id FROM fs.feature_view_version vv WHERE vv.view_id = p_view_id LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS fs.%I(bigint)', 'stage_writes_v' || v_old.version_id);
    END LOOP;

    -- On Citus the writes arrive on the workers, where no trigger can reach the catalog:
    -- the copy is a function the writing path calls with its batch id (fs.dual_write),
    -- reading the batch back from the promoted history.
    v_rows := CASE WHEN v_promoted.distributed
                   THEN format('(SELECT * FROM fs_offline.%I WHERE batch_id = p_batch_id)', v_promoted.offline_table)
                   ELSE 'new_rows' END;
    FOR v_target IN SELECT t.version_id, t.offline_table, t.partition_by FROM fs.stage_targets(v_promoted.version_id) t LOOP
        v_q := fs.copy_query(v_target.version_id, v_promoted.version_id, v_rows);
        -- The checked copy: bad rows to the target's quarantine, the others to its history.
        v_checked := format($b$
                PERFORM fs.record_quarantine(v_batch, %1$s, q.rows)
                   FROM (SELECT jsonb_agg(jsonb_build_object('row_number', b.n, 'data', b."?raw", 'reasons', to_jsonb(b.reasons))) AS rows
                           FROM (SELECT row_number() OVER () AS n, t."?raw", %2$s AS reasons, %3$s AS bad FROM (%4$s) t) b
                          WHERE b.bad) q
                  WHERE q.rows IS NOT NULL;
                INSERT INTO fs_offline.%5$I (%6$s batch_id) SELECT %7$s v_batch FROM (%4$s) t WHERE NOT (%3$s);
                GET DIAGNOSTICS v_written = ROW_COUNT;$b$,
            v_target.version_id, v_q.reasons_expr, coalesce(v_q.bad_predicate, 'false'), v_q.typed_query,
            v_target.offline_table, v_q.history_columns, v_q.typed_columns);
        IF v_q.exact THEN
            -- Usually every row fits: one plain insert, the target's constraints checking it
            -- (like the client's direct path); the checked copy only when one does not.
            v_checked := format($b$
            BEGIN
                INSERT INTO fs_offline.%1$I (%2$s batch_id) SELECT %3$s v_batch FROM (%4$s) t;
                GET DIAGNOSTICS v_written = ROW_COUNT;
            EXCEPTION WHEN integrity_constraint_violation OR data_exception OR internal_error THEN
                %5$s
            END;$b$, v_target.offline_table, v_q.history_columns, v_q.typed_columns, v_q.typed_query, v_checked);
        END IF;
        v_body := v_body || format($b$
            v_batch := nextval('fs.ingest_batch_id_seq');
            %5$s
            %3$s
            %6$s
            PERFORM fs.record_batch(v_batch, %1$s, 'quarantine', v_label, %4$L::jsonb, v_started,
                CASE WHEN NOT EXISTS (SELECT 1 FROM fs.ingest_batch b WHERE b.version_id = %1$s AND b.batch_key = v_key) THEN v_key END);
            $b$,
            v_target.version_id, v_target.partition_by, v_checked, v_q.columns,
            -- On Citus partitions are made before the batch (the client, fs.maintain): DDL
            -- as fspg's owner and rows as the writer may not meet in one transaction there.
            CASE WHEN v_promoted.distributed THEN ''
                 ELSE format('PERFORM fs.ensure_partitions(%s, ARRAY(SELECT DISTINCT fs.period_start(%L, n.event_ts) FROM new_rows n));',
                             v_target.version_id, v_target.partition_by) END,
            CASE WHEN v_promoted.distributed THEN 'PERFORM fs.report_batch_rows(v_written, v_min, v_max);' ELSE '' END);
        v_count := v_count + 1;
    END LOOP;
    IF v_count = 0 THEN
        RETURN 0;
    END IF;

    -- Runs as the writer (no SECURITY DEFINER): whoever may write the promoted version may
    -- write the others; bookkeeping goes through the same functions fs.ingest calls.
    IF v_promoted.distributed THEN
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION fs.%1$I(p_batch_id bigint) RETURNS void
            LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
            AS $body$
            DECLARE
                v_batch   bigint;
                v_written bigint := 0;
                v_started timestamptz := clock_timestamp();
                v_label   text := 'dual write of batch ' || p_batch_id;
                v_key     text := nullif(current_setting('fspg.batch_key', true), '');
                v_min     timestamptz;
                v_max     timestamptz;
            BEGIN
                -- The batch's event-time range, read once for every version it feeds.
                SELECT min(n.event_ts), max(n.event_ts) INTO v_min, v_max FROM %3$s n;
                %2$s
            END
            $body$ $f$, v_function, v_body, v_rows);
        EXECUTE format('REVOKE ALL ON FUNCTION fs.%I(bigint) FROM PUBLIC', v_function);
        EXECUTE format('GRANT EXECUTE ON FUNCTION fs.%I(bigint) TO fs_writer', v_function);
        EXECUTE format('COMMENT ON FUNCTION fs.%I(bigint) IS %L', v_function,
                       format('Copies a batch written to %s into its staged and previous versions (generated; Citus).', v_promoted.offline_table));
        RETURN v_count;
    END IF;
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION fs.%1$I() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
        AS $body$
        DECLARE
            v_batch   bigint;
            v_written bigint;
            v_started timestamptz := clock_timestamp();
            v_label   text;
            -- The key of the batch being written (fs.ingest and the client's direct path set it).
            v_key     text := nullif(current_setting('fspg.batch_key', true), '');
        BEGIN
            SELECT CASE WHEN count(DISTINCT n.batch_id) = 1 AND count(n.batch_id) = count(*)
                        THEN 'dual write of batch ' || min(n.batch_id) ELSE 'dual write' END
              INTO v_label FROM new_rows n HAVING count(*) > 0;
            IF v_label IS NULL THEN
                RETURN NULL;
            END IF;
            %2$s
            RETURN NULL;
        END
        $body$ $f$, v_function, v_body);
    EXECUTE format('REVOKE ALL ON FUNCTION fs.%I() FROM PUBLIC', v_function);
    EXECUTE format('COMMENT ON FUNCTION fs.%I() IS %L', v_function,
                   format('Copies rows written to %s into its staged and previous versions (generated).', v_promoted.offline_table));
    EXECUTE format('CREATE TRIGGER stage_writes AFTER INSERT ON fs_offline.%I'
                   ' REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fs.%I()',
                   v_promoted.offline_table, v_function);
    -- ALWAYS: history a CDC apply worker writes is copied too.
    EXECUTE format('ALTER TABLE fs_offline.%I ENABLE ALWAYS TRIGGER stage_writes', v_promoted.offline_table);
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION fs.install_stage_writes(integer) IS 'Generates the trigger on a view''s promoted history that copies every write into its staged and previous versions (validated by their rules, in the same transaction); returns how many versions it feeds.';

CREATE OR REPLACE FUNCTION fs.dual_write(p_version_id integer, p_batch_id bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The writing path's half of a dual write on Citus (one server uses the trigger):
    -- copies the batch into the staged and previous versions, as the writer.
    IF to_regprocedure(format('fs.stage_writes_v%s(bigint)', p_version_id)) IS NOT NULL THEN
        EXECUTE format('SELECT fs.%I($1)', 'stage_writes_v' || p_version_id) USING p_batch_id;
    END IF;
END
$$;
COMMENT ON FUNCTION fs.dual_write(integer, bigint) IS 'Copies a batch written to a distributed promoted version into its staged and previous versions (Citus: no trigger reaches the catalog there); nothing when it has none.';

CREATE OR REPLACE FUNCTION fs.backfill_chunk(p_ref text, p_from integer DEFAULT NULL,
                                             p_start timestamptz DEFAULT NULL, p_end timestamptz DEFAULT NULL)
RETURNS fs.backfill
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ref     record;
    v_target  fs.feature_view_version;
    v_source  fs.feature_view_version;
    v_state   fs.backfill;
    v_period  timestamptz;
    v_lo      timestamptz;
    v_hi      timestamptz;
    v_batch   bigint;
    v_q       record;
    v_keys    text;
    v_match   text;
    v_rel     text;
    v_started timestamptz := clock_timestamp();
    v_logged  fs.ingest_batch;
    v_periods timestamptz[];
    v_copied  boolean;
BEGIN
    SELECT r.name, r.version INTO v_ref FROM fs.parse_ref(p_ref, 'feature view') r;
    IF v_ref.version IS NULL THEN
        RAISE EXCEPTION 'backfill needs a version, e.g. %@2', p_ref USING ERRCODE = 'YF015';
    END IF;
    v_target := fs.resolve_version(p_ref);
    SELECT * INTO v_state FROM fs.backfill WHERE version_id = v_target.version_id FOR UPDATE;
    IF FOUND AND v_state.finished_at IS NOT NULL AND (p_from IS NULL OR p_from = (SELECT version FROM fs.feature_view_version WHERE version_id = v_state.from_version_id))
       AND p_start IS NOT DISTINCT FROM v_state.start_at AND p_end IS NOT DISTINCT FROM v_state.end_at THEN
        RETURN v_state;  -- done already: nothing to do
    END IF;
    IF NOT FOUND OR v_state.finished_at IS NOT NULL THEN
        IF fs.version_stage(v_target.version_id) NOT IN ('staged', 'previous') THEN
            RAISE EXCEPTION '%@% is %: only a staged version is backfilled', v_ref.name, v_target.version,
                fs.version_stage(v_target.version_id) USING ERRCODE = 'YF015';
        END IF;
        v_source := fs.resolve_version(v_ref.name || coalesce('@' || p_from, ''));
        IF v_source.version_id = v_target.version_id THEN
            RAISE EXCEPTION 'a version cannot be backfilled from itself' USING ERRCODE = 'YF015',
                HINT = 'Name the version to copy from with --from N.';
        END IF;
        IF EXISTS (SELECT 1 FROM fs.view_source s WHERE s.version_id = v_target.version_id) THEN
            RAISE EXCEPTION '%@% is defined by a source query: backfill re-runs it', v_ref.name, v_target.version
                USING ERRCODE = 'YF015', HINT = 'The client runs fs.materialize_source for the range instead.';
        END IF;
        -- The periods of the source's history in range, found once: each call does one.
        EXECUTE format('SELECT coalesce(array_agg(DISTINCT fs.period_start(%L, h.event_ts) ORDER BY fs.period_start(%L, h.event_ts)), ''{}'')'
                       ' FROM fs_offline.%I h WHERE h.event_ts >= %L AND h.event_ts < %L',
                       v_source.partition_by, v_source.partition_by, v_source.offline_table,
                       coalesce(p_start, '-infinity'), coalesce(p_end, 'infinity'))
           INTO v_periods;
        DELETE FROM fs.backfill WHERE version_id = v_target.version_id;
        INSERT INTO fs.backfill (version_id, from_version_id, start_at, end_at, boundary, periods, started_by)
        VALUES (v_target.version_id, v_source.version_id, p_start, p_end, v_target.created_at, v_periods, session_user)
        RETURNING * INTO v_state;
        RETURN v_state;   -- the plan is on record; the next calls copy
    END IF;

    SELECT * INTO v_source FROM fs.feature_view_version WHERE version_id = v_state.from_version_id;
    IF v_state.periods_done >= cardinality(v_state.periods) THEN
        -- Last step: the online table from history, whatever the dual writes did meanwhile.
        PERFORM fs.materialize(p_ref);
        UPDATE fs.backfill SET finished_at = clock_timestamp(), updated_at = clock_timestamp()
         WHERE version_id = v_target.version_id RETURNING * INTO v_state;
        RETURN v_state;
    END IF;
    v_period := v_state.periods[v_state.periods_done + 1];
    v_lo := greatest(v_period, coalesce(v_state.start_at, '-infinity'));
    v_hi := least(v_period + ('1 ' || v_source.partition_by)::interval, coalesce(v_state.end_at, 'infinity'));
    v_keys := (SELECT string_agg(format('n.%I, ', k.name), '') FROM fs.key_columns(v_source.version_id) k);
    v_match := (SELECT string_agg(format('m.%1$I = n.%1$I AND ', k.name), '') FROM fs.key_columns(v_target.version_id) k);
    -- N's newest row per entity and moment, known before the dual writes began, unless
    -- N+1 already holds that moment.
    v_rel := format('(SELECT DISTINCT ON (%1$s n.event_ts) n.* FROM fs_offline.%2$I n'
                    ' WHERE n.event_ts >= %3$L AND n.event_ts < %4$L AND n.created_ts < %5$L'
                    ' AND NOT EXISTS (SELECT 1 FROM fs_offline.%6$I m WHERE %7$s m.event_ts = n.event_ts)'
                    ' ORDER BY %1$s n.event_ts, n.created_ts DESC)',
                    coalesce(v_keys, ''), v_source.offline_table, v_lo, v_hi, v_state.boundary,
                    v_target.offline_table, coalesce(v_match, ''));
    v_q := fs.copy_query(v_target.version_id, v_source.version_id, v_rel);

    PERFORM fs.ensure_partitions(v_target.version_id, fs.periods_between(v_target.partition_by, v_lo, v_hi - interval '1 microsecond'));
    v_batch := nextval('fs.ingest_batch_id_seq');
    v_copied := false;
    IF v_q.exact THEN
        -- One pass when every row fits (the target's constraints check them); the checked
        -- copy below only for a period with a row that does not.
        BEGIN
            EXECUTE format('INSERT INTO fs_offline.%I (%s batch_id) SELECT %s %s FROM (%s) t',
                           v_target.offline_table, v_q.history_columns, v_q.typed_columns, v_batch, v_q.typed_query);
            v_copied := true;
        EXCEPTION WHEN integrity_constraint_violation OR data_exception OR internal_error THEN
            v_copied := false;
        END;
    END IF;
    IF NOT v_copied THEN
        EXECUTE format('SELECT fs.record_quarantine(%s, %s, q.rows)'
                       ' FROM (SELECT jsonb_agg(jsonb_build_object(''row_number'', b.n, ''data'', b."?raw", ''reasons'', to_jsonb(b.reasons))) AS rows'
                       ' FROM (SELECT row_number() OVER () AS n, t."?raw", %s AS reasons FROM (%s) t WHERE %s) b) q WHERE q.rows IS NOT NULL',
                       v_batch, v_target.version_id, v_q.reasons_expr, v_q.typed_query, coalesce(v_q.bad_predicate, 'false'));
        EXECUTE format('INSERT INTO fs_offline.%I (%s batch_id) SELECT %s %s FROM (%s) t WHERE NOT (%s)',
                       v_target.offline_table, v_q.history_columns, v_q.typed_columns, v_batch, v_q.typed_query,
                       coalesce(v_q.bad_predicate, 'false'));
    END IF;
    IF v_target.distributed THEN
        -- This function wrote the rows as fspg's owner, so it may read them back on the
        -- workers in this transaction (fs.record_batch cannot count them itself there).
        EXECUTE format('SELECT fs.report_batch_rows(count(*), min(h.event_ts), max(h.event_ts)) FROM fs_offline.%I h WHERE h.batch_id = $1',
                       v_target.offline_table) USING v_batch;
    END IF;
    v_logged := fs.record_batch(v_batch, v_target.version_id, 'quarantine',
                                format('backfill from version %s, %s to %s', v_source.version, v_lo, v_hi),
                                v_q.columns, v_started);
    UPDATE fs.backfill
       SET periods_done = periods_done + 1, rows_read = rows_read + v_logged.rows_in,
           inserted = inserted + v_logged.inserted, quarantined = quarantined + v_logged.quarantined,
           updated_at = clock_timestamp()
     WHERE version_id = v_target.version_id
    RETURNING * INTO v_state;
    RETURN v_state;
END
$$;
COMMENT ON FUNCTION fs.backfill_chunk(text, integer, timestamptz, timestamptz) IS 'One step of filling a staged view@N from version p_from (default: the promoted one): the first call plans (one step per partition period in [p_start, p_end)), each next call copies one period through the rules, the last rebuilds the online table. Call until finished_at is set; each step is its own transaction, so an interrupted backfill resumes.';

CREATE OR REPLACE FUNCTION fs.switch_serving(p_view_id integer)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_view     text := (SELECT name FROM fs.feature_view WHERE view_id = p_view_id);
    v_version  fs.feature_view_version;
    v_service  record;
    v_moved    text[] := '{}';
    v_result   record;
    v_cdc      record;
BEGIN
    SELECT vv.* INTO v_version FROM fs.feature_view_version vv JOIN fs.feature_view fv USING (view_id)
     WHERE fv.view_id = p_view_id AND vv.version = fv.current_version;
    PERFORM fs.point_current_views(p_view_id);
    PERFORM fs.install_stage_writes(p_view_id);
    -- Services that name the view without a version follow it; pinned ones stay.
    FOR v_service IN
        SELECT s.name, s.description, sv.refs
          FROM fs.feature_service s JOIN fs.feature_service_version sv
            ON sv.service_id = s.service_id AND sv.version = s.current_version
         WHERE EXISTS (SELECT 1 FROM jsonb_array_elements_text(sv.refs) r WHERE split_part(r, '.', 1) = v_view)
         ORDER BY s.name
    LOOP
        BEGIN
            SELECT * INTO v_result FROM fs.apply_feature_service(
                jsonb_build_object('name', v_service.name, 'description', v_service.description, 'features', v_service.refs));
        EXCEPTION WHEN SQLSTATE 'YF006' THEN
            RAISE EXCEPTION 'feature service % cannot follow %@%: %', v_service.name, v_view, v_version.version, SQLERRM
                USING ERRCODE = 'YF008',
                      HINT = format('Pin the service to the old version (%s@N.feature) or change it first; nothing was switched.', v_view);
        END;
        IF v_result.action = 'new version' THEN
            v_moved := v_moved || format('%s@%s', v_service.name, v_result.version);
        END IF;
    END LOOP;
    -- CDC feeds the promoted version (and through it the others).
    FOR v_cdc IN SELECT d.name FROM fs.source_database d JOIN fs.feature_view_version vv USING (version_id)
                  WHERE d.kind = 'cdc' AND vv.view_id = p_view_id AND d.version_id <> v_version.version_id LOOP
        UPDATE fs.source_database SET version_id = v_version.version_id WHERE name = v_cdc.name;
        PERFORM fs.install_cdc_trigger(v_cdc.name);
        INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)
        SELECT 'table', format('%s.%s', d.local_schema, d.tables[1]), 'feature_view', format('%s@%s', v_view, v_version.version)
          FROM fs.source_database d WHERE d.name = v_cdc.name
        ON CONFLICT DO NOTHING;
    END LOOP;
    RETURN v_moved;
END
$$;
COMMENT ON FUNCTION fs.switch_serving(integer) IS 'After current_version changed: re-points fs_offline.<view>/fs_online.<view>, the dual-write trigger, services that follow the view and CDC feeds; returns the service versions made.';

CREATE OR REPLACE FUNCTION fs.promote(p_ref text, p_force boolean DEFAULT false)
RETURNS TABLE (feature_view text, from_version integer, to_version integer, services text[])
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_view     fs.feature_view;
    v_target   fs.feature_view_version;
    v_current  fs.feature_view_version;
    v_state    fs.backfill;
    v_stage    text;
    v_why      text;
    v_has_history   boolean;
    v_has_online    boolean;
    v_target_online boolean;
BEGIN
    IF (fs.parse_ref(p_ref, 'feature view')).version IS NULL THEN
        RAISE EXCEPTION 'promote needs a version, e.g. %@2', p_ref USING ERRCODE = 'YF015';
    END IF;
    v_target := fs.resolve_version(p_ref);
    -- No batch in flight may land in the version that stops serving (writers hold the view
    -- shared until they commit), and one rollout at a time per view.
    PERFORM fs.hold_served_version(p_ref, true);
    SELECT * INTO v_view FROM fs.feature_view WHERE view_id = v_target.view_id FOR UPDATE;
    SELECT * INTO v_current FROM fs.feature_view_version WHERE view_id = v_view.view_id AND version = v_view.current_version;
    v_stage := fs.version_stage(v_target.version_id);
    IF v_stage = 'promoted' THEN
        RAISE EXCEPTION '%@% is promoted already', v_view.name, v_target.version USING ERRCODE = 'YF015';
    ELSIF v_stage = 'retired' THEN
        RAISE EXCEPTION '%@% is retired: it has not been written since version % was promoted', v_view.name, v_target.version,
            v_view.current_version
            USING ERRCODE = 'YF015', HINT = 'Apply its definition again for a new staged version, backfill it, then promote.';
    ELSIF v_target.status = 'deprecated' THEN
        RAISE EXCEPTION '%@% is deprecated', v_view.name, v_target.version USING ERRCODE = 'YF015';
    END IF;
    IF NOT coalesce(p_force, false) AND v_stage = 'staged' THEN
        -- Serving must not lose what it serves: a version is ready when it holds what the
        -- served one holds (backfilled, or defined by a source query of its own) and its
        -- online table has rows whenever the served one's has.
        SELECT * INTO v_state FROM fs.backfill WHERE version_id = v_target.version_id;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM fs_offline.%I), EXISTS (SELECT 1 FROM fs_online.%I),'
                       ' EXISTS (SELECT 1 FROM fs_online.%I)',
                       v_current.offline_table, v_current.online_table, v_target.online_table)
           INTO v_has_history, v_has_online, v_target_online;
        IF v_has_history AND v_state.finished_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM fs.view_source s WHERE s.version_id = v_target.version_id) THEN
            v_why := CASE WHEN v_state.version_id IS NULL THEN 'it was never backfilled'
                          ELSE format('its backfill stopped after %s of %s periods', v_state.periods_done,
                                      cardinality(v_state.periods)) END;
        ELSIF v_has_online AND NOT v_target_online THEN
            v_why := 'its online table is empty';
        END IF;
        IF v_why IS NOT NULL THEN
            RAISE EXCEPTION 'not promoting %@%: %', v_view.name, v_target.version, v_why
                USING ERRCODE = 'YF020',
                      HINT = format('fspg backfill %s@%s fills it from version %s; --force promotes anyway.',
                                    v_view.name, v_target.version, v_current.version);
        END IF;
    END IF;

    UPDATE fs.feature_view SET previous_version = current_version, current_version = v_target.version, updated_at = now()
     WHERE view_id = v_view.view_id;
    UPDATE fs.feature_view_version SET staged = false WHERE version_id = v_target.version_id;
    services := fs.switch_serving(v_view.view_id);
    INSERT INTO fs.promotion (view_id, from_version, to_version, kind, forced)
    VALUES (v_view.view_id, v_current.version, v_target.version, 'promote', coalesce(p_force, false));
    feature_view := v_view.name; from_version := v_current.version; to_version := v_target.version;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION fs.promote(text, boolean) IS 'Serves view@N from now on, atomically: online view, services naming the view without a version, CDC; the version served until now stays written (rollback target). Refuses a version never or partly backfilled, or with an empty online table, unless p_force.';

CREATE OR REPLACE FUNCTION fs.rollback(p_view text)
RETURNS TABLE (feature_view text, from_version integer, to_version integer, services text[])
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_view fs.feature_view;
BEGIN
    PERFORM fs.hold_served_version(p_view, true);
    SELECT * INTO v_view FROM fs.feature_view fv WHERE fv.name = p_view FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fs.resolve_version(p_view);  -- its error names the problem
    END IF;
    IF v_view.previous_version IS NULL THEN
        RAISE EXCEPTION 'feature view % has no previous version to roll back to', v_view.name
            USING ERRCODE = 'YF015',
                  HINT = 'Rollback returns to the version served before the last promote, once; fspg describe lists the versions.';
    END IF;
    -- The version rolled back from stays staged: still written, it can be promoted again.
    UPDATE fs.feature_view_version SET staged = true WHERE view_id = v_view.view_id AND version = v_view.current_version;
    UPDATE fs.feature_view SET current_version = previous_version, previous_version = NULL, updated_at = now()
     WHERE view_id = v_view.view_id;
    services := fs.switch_serving(v_view.view_id);
    INSERT INTO fs.promotion (view_id, from_version, to_version, kind, forced)
    VALUES (v_view.view_id, v_view.current_version, v_view.previous_version, 'rollback', false);
    feature_view := v_view.name; from_version := v_view.current_version; to_version := v_view.previous_version;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION fs.rollback(text) IS 'Serves the previous promoted version of a view again (kept written since); the version rolled back from becomes staged.';

CREATE OR REPLACE VIEW fs.rollout_status AS
SELECT fv.name AS feature_view, vv.version, fs.version_stage(vv.version_id) AS stage,
       b.finished_at IS NOT NULL AS backfilled,
       CASE WHEN b.version_id IS NOT NULL THEN format('%s/%s', b.periods_done, cardinality(b.periods)) END AS backfill_progress,
       b.inserted AS backfill_inserted, b.quarantined AS backfill_quarantined,
       vv.created_at,
       (SELECT max(p.promoted_at) FROM fs.promotion p WHERE p.view_id = fv.view_id AND p.to_version = vv.version) AS promoted_at
  FROM fs.feature_view fv JOIN fs.feature_view_version vv USING (view_id)
  LEFT JOIN fs.backfill b ON b.version_id = vv.version_id;
COMMENT ON VIEW fs.rollout_status IS 'Every version with its stage (promoted, staged, previous, retired), backfill progress and last promotion.';

CREATE OR REPLACE FUNCTION fs.serving_epoch()
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('%s:%s:%s', (SELECT coalesce(max(promotion_id), 0) FROM fs.promotion),
                              (SELECT coalesce(max(service_version_id), 0) FROM fs.feature_service_version),
                              (SELECT count(*) FROM fs.feature_view_version WHERE distributed))
$$;
COMMENT ON FUNCTION fs.serving_epoch() IS 'Changes whenever what an unpinned lookup reads changes (a promote, a rollback, a new service version) or how (tables distributed over Citus workers): clients rebuild their lookup statements then.';
