-- 74_ingest: the write path. A client stages a batch in a table of its own (a temp
-- table filled by binary COPY); one call of fs.ingest validates it set-wise, creates
-- missing partitions, appends the good rows to history, quarantines the bad ones with
-- every rule they break, logs the batch and returns the counts. It runs in the
-- caller's transaction: the batch lands whole or not at all.
-- Owns: fs.integer_fits, fs.max_key_bytes, fs.ingest_query (the typed, checked view of a staging table),
--       fs.batch_by_key (retries: a key already on record is that batch),
--       fs.hold_served_version, fs.open_batch (the direct path's start),
--       fs.record_quarantine, fs.check_open_batch, fs.report_batch_rows (what a
--       write to distributed history reports), fs.record_batch (bookkeeping: the
--       only writers of fs.quarantine and fs.ingest_batch), fs.ingest, fs.offer_to_staged,
--       fs.log_direct_batch, fs.replay_quarantine, fs.forget.
--
-- Fast path (docs/decisions.md): a client whose batch already has the history
-- table's exact column types may COPY it straight into the history table inside a
-- savepoint, where the table's CHECK and NOT NULL constraints validate every row, and
-- then log it with fs.log_direct_batch. If any row is bad the savepoint is rolled back
-- and the batch goes through staging and fs.ingest, which quarantines the bad rows.
--
-- Staging columns: the view's key columns and event_ts (required), any of its
-- features (missing ones are NULL), and optionally fs_row (the row's position in the
-- input, kept in quarantine so users find it in their file) and fs_reasons (text[]:
-- what the client found wrong with the row before sending, fspg/values.py). Types may differ from the
-- view's: text is parsed per row (unparsable values quarantine the row with rule
-- <column>__type), timestamp without time zone is read as UTC, real[] becomes vector.
-- Generated column names that start with '?' cannot collide with feature names.

CREATE OR REPLACE FUNCTION fs.integer_fits(p_expr text, p_from text, p_to text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('(%s%s BETWEEN %s AND %s)',
                  CASE WHEN p_from = 'bigint' THEN '' ELSE format('%1$s = trunc(%1$s) AND ', p_expr) END,
                  p_expr,
                  CASE p_to WHEN 'integer' THEN '-2147483648' ELSE '-9223372036854775808' END,
                  CASE p_to WHEN 'integer' THEN '2147483647' ELSE '9223372036854775807' END)
$$;
COMMENT ON FUNCTION fs.integer_fits(text, text, text) IS 'SQL predicate: the numeric expression p_expr (of type p_from) is a whole number that fits integer type p_to.';

CREATE OR REPLACE FUNCTION fs.max_key_bytes()
RETURNS integer
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 1000 $$;
COMMENT ON FUNCTION fs.max_key_bytes() IS 'The longest text key (in bytes) a batch may carry: history and online index every key, and a btree entry holds about 2,700 bytes.';

CREATE OR REPLACE FUNCTION fs.check_batch_columns(p_view text, p_columns text[])
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_unknown text;
    v_missing text;
BEGIN
    SELECT string_agg(n, ', ') INTO v_unknown
      FROM unnest(p_columns) n WHERE NOT EXISTS (SELECT 1 FROM fs.view_columns(p_view) c WHERE c.name = n);
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown column(s) % for feature view %', v_unknown, p_view
            USING ERRCODE = 'YF011',
                  DETAIL = format('%s has columns %s.', p_view, (SELECT string_agg(c.name, ', ') FROM fs.view_columns(p_view) c)),
                  HINT = 'Drop or rename the extra columns; fspg never drops data silently.';
    END IF;
    SELECT string_agg(c.name, ', ') INTO v_missing
      FROM fs.view_columns(p_view) c WHERE c.role IN ('key', 'event_ts') AND c.name <> ALL (p_columns);
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'missing column(s) % for feature view %', v_missing, p_view
            USING ERRCODE = 'YF010',
                  HINT = 'Every row needs the entity key columns and event_ts (or pass timestamp= to stamp every row).';
    END IF;
END
$$;
COMMENT ON FUNCTION fs.check_batch_columns(text, text[]) IS 'The one rule for a batch''s columns: none unknown to the view, every key and event_ts present (YF011, YF010).';

CREATE OR REPLACE FUNCTION fs.ingest_query(p_version_id integer, p_staging regclass, p_future timestamptz,
                                           OUT typed_query text, OUT bad_predicate text, OUT reasons_expr text,
                                           OUT history_columns text, OUT typed_columns text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT q.* INTO typed_query, bad_predicate, reasons_expr, history_columns, typed_columns
      FROM fs.ingest_query(
        p_version_id,
        (SELECT jsonb_agg(jsonb_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)
           FROM pg_attribute a WHERE a.attrelid = p_staging AND a.attnum > 0 AND NOT a.attisdropped),
        p_staging::text, p_future) q;
END
$$;
COMMENT ON FUNCTION fs.ingest_query(integer, regclass, timestamptz) IS 'SQL pieces fs.ingest runs over a staging table: the typed query, the bad-row predicate, the reasons array, the history column lists.';

CREATE OR REPLACE FUNCTION fs.ingest_query(p_version_id integer, p_columns jsonb, p_relation text, p_future timestamptz,
                                           p_one_per_moment boolean DEFAULT true,
                                           OUT typed_query text, OUT bad_predicate text, OUT reasons_expr text,
                                           OUT history_columns text, OUT typed_columns text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ref     text;
    v_staged  jsonb;
    v_col     record;
    v_check   record;
    v_stype   text;
    v_dim     integer;
    v_select  text[] := '{}';
    v_checks  text[] := '{}';   -- reason, predicate, reason, predicate, ...
    v_parsed  text;
    v_client  boolean;
BEGIN
    SELECT format('%s@%s', fv.name, vv.version) INTO v_ref
      FROM fs.feature_view_version vv JOIN fs.feature_view fv USING (view_id) WHERE vv.version_id = p_version_id;
    v_staged := p_columns;
    v_client := v_staged @> '[{"name": "fs_reasons"}]';

    PERFORM fs.check_batch_columns(v_ref, ARRAY(SELECT s ->> 'name' FROM jsonb_array_elements(v_staged) s
                                                  WHERE s ->> 'name' NOT IN ('fs_row', 'fs_reasons')));

    history_columns := '';
    typed_columns := '';
    FOR v_col IN SELECT * FROM fs.view_columns(v_ref) LOOP
        SELECT s ->> 'type' INTO v_stype FROM jsonb_array_elements(v_staged) s WHERE s ->> 'name' = v_col.name;
        v_dim := fs.vector_dimension(v_col.dtype);
        IF v_stype IS NULL THEN
            v_select := v_select || format('NULL::%s AS %I', v_col.sql_type, v_col.name);
        ELSIF v_stype = format_type(v_col.sql_type::regtype, NULL) THEN
            v_select := v_select || format('s.%I', v_col.name);
        ELSIF v_stype = 'timestamp without time zone' AND v_col.sql_type = 'timestamptz' THEN
            v_select := v_select || format('s.%1$I AT TIME ZONE ''UTC'' AS %1$I', v_col.name);
        ELSIF v_stype = 'text' THEN
            v_select := v_select
                || format('CASE WHEN %2$s THEN s.%1$I::%3$s END AS %1$I', v_col.name,
                          fs.valid_input_sql(format('s.%I', v_col.name), v_col.sql_type), v_col.sql_type)
                || format('NOT %s AS %I', fs.valid_input_sql(format('s.%I', v_col.name), v_col.sql_type), '?type:' || v_col.name);
            v_checks := v_checks || ARRAY[v_col.name || '__type', format('t.%I', '?type:' || v_col.name)];
        ELSIF v_dim IS NOT NULL AND v_stype IN ('real[]', 'double precision[]', 'numeric[]') THEN
            v_select := v_select
                || format('CASE WHEN cardinality(s.%1$I) = %2$s AND array_position(s.%1$I, NULL) IS NULL THEN s.%1$I::real[]::%3$s END AS %1$I',
                          v_col.name, v_dim, v_col.sql_type)
                || format('(s.%1$I IS NOT NULL AND (cardinality(s.%1$I) <> %2$s OR array_position(s.%1$I, NULL) IS NOT NULL)) AS %3$I',
                          v_col.name, v_dim, '?dimension:' || v_col.name);
            v_checks := v_checks || ARRAY[v_col.name || '__dimension', format('t.%I', '?dimension:' || v_col.name)];
        ELSIF v_col.sql_type IN ('integer', 'bigint') AND v_stype IN ('bigint', 'double precision', 'real', 'numeric') THEN
            -- Narrowing to an integer: out-of-range or fractional values quarantine the row
            -- (a plain cast would round 1.5 to 2, or fail the whole batch on overflow).
            v_select := v_select
                || format('CASE WHEN %2$s THEN s.%1$I::%3$s END AS %1$I',
                          v_col.name, fs.integer_fits(format('s.%I', v_col.name), v_stype, v_col.sql_type), v_col.sql_type)
                || format('NOT coalesce(%s, true) AS %I',
                          fs.integer_fits(format('s.%I', v_col.name), v_stype, v_col.sql_type), '?type:' || v_col.name);
            v_checks := v_checks || ARRAY[v_col.name || '__type', format('t.%I', '?type:' || v_col.name)];
        ELSE
            BEGIN
                EXECUTE format('SELECT NULL::%s::%s', v_stype, v_col.sql_type);
            EXCEPTION WHEN OTHERS THEN
                RAISE EXCEPTION 'column % has type %, which cannot become % (dtype %)', v_col.name, v_stype, v_col.sql_type, v_col.dtype
                    USING ERRCODE = 'YF010', HINT = 'Send the column as its dtype, or as text to have each value parsed.';
            END;
            v_select := v_select || format('s.%1$I::%2$s AS %1$I', v_col.name, v_col.sql_type);
        END IF;
        history_columns := history_columns || format('%I, ', v_col.name);
        typed_columns := typed_columns || format('t.%I, ', v_col.name);

        -- A value that did not parse is reported once, as <column>__type, not again as
        -- a NULL breaking not_null.
        v_parsed := CASE WHEN v_checks[cardinality(v_checks) - 1] IN (v_col.name || '__type', v_col.name || '__dimension')
                         THEN format(' AND NOT %s', v_checks[cardinality(v_checks)]) ELSE '' END
                 -- nor as a NULL the client put in place of a value it could not send
                 || CASE WHEN v_client
                         THEN format(' AND NOT (t."?client" IS NOT NULL AND strpos(array_to_string(t."?client", '',''), %L) > 0)',
                                     v_col.name || '__')
                         ELSE '' END;
        IF v_col.role = 'key' THEN
            v_checks := v_checks || ARRAY[v_col.name || '__not_null', format('t.%I IS NULL%s', v_col.name, v_parsed)];
            IF v_col.sql_type = 'text' THEN
                -- A key longer than an index entry can hold would fail the whole batch.
                v_checks := v_checks || ARRAY[v_col.name || '__max_length',
                                              format('octet_length(t.%I) > %s', v_col.name, fs.max_key_bytes())];
            END IF;
        ELSIF v_col.role = 'event_ts' THEN
            v_checks := v_checks
                || ARRAY['event_ts__not_null', 't.event_ts IS NULL' || v_parsed,
                         'event_ts__not_before_1970', format('t.event_ts < %L', '1970-01-01 00:00+00'),
                         'event_ts__not_in_future', format('t.event_ts > %L', p_future)];
        ELSE
            FOR v_check IN
                SELECT r.* FROM fs.feature f, fs.rule_checks(f.name, f.dtype, f.rules, format('t.%I', f.name)) r
                 WHERE f.version_id = p_version_id AND f.name = v_col.name
            LOOP
                -- A CHECK passes on NULL: a row is bad only where the rule is false.
                v_checks := v_checks || ARRAY[v_check.constraint_name, format('(%s) IS FALSE%s', v_check.expression, v_parsed)];
            END LOOP;
        END IF;
    END LOOP;

    v_select := v_select || 'to_jsonb(s) - ''fs_row'' - ''fs_reasons'' AS "?raw"'::text
             || CASE WHEN v_staged @> '[{"name": "fs_row"}]' THEN 's.fs_row::bigint AS "?row"' ELSE 'NULL::bigint AS "?row"' END
             -- What the client found before sending (fspg/values.py).
             || CASE WHEN v_client THEN 's.fs_reasons AS "?client"' ELSE 'NULL::text[] AS "?client"' END;
    typed_query := format('SELECT %s FROM %s s', array_to_string(v_select, ', '), p_relation);
    IF p_one_per_moment THEN
        -- One rule for rows of one entity and moment (docs/decisions.md): the last in input
        -- order (fs_row) wins; the earlier ones are quarantined as <key>__duplicate. History
        -- holds one row per (entity, event_ts, created_ts), so every reader agrees.
        typed_query := format('SELECT x.*, row_number() OVER (PARTITION BY %s x.event_ts ORDER BY x."?row" DESC NULLS LAST) > 1'
                              ' AS "?superseded" FROM (%s) x',
                              (SELECT coalesce(string_agg(format('x.%I, ', k.name), ''), '') FROM fs.key_columns(p_version_id) k),
                              typed_query);
        v_checks := v_checks || ARRAY[coalesce((SELECT k.name FROM fs.key_columns(p_version_id) k LIMIT 1), 'event_ts') || '__duplicate',
                                      't."?superseded"'];
    END IF;
    SELECT string_agg(format('(%s)', v_checks[i + 1]), ' OR '),
           'array_remove(ARRAY[' || string_agg(format('CASE WHEN %s THEN %L END', v_checks[i + 1], v_checks[i]), ', ') || ']::text[], NULL)'
      INTO bad_predicate, reasons_expr
      FROM generate_subscripts(v_checks, 1) i WHERE i % 2 = 1;
    IF v_client THEN
        bad_predicate := format('(t."?client" IS NOT NULL) OR %s', bad_predicate);
        reasons_expr := format('(coalesce(t."?client", ''{}'') || %s)', reasons_expr);
    END IF;
END
$$;
COMMENT ON FUNCTION fs.ingest_query(integer, jsonb, text, timestamptz, boolean) IS 'SQL pieces that validate rows of relation p_relation (columns p_columns: [{name, type}]) for a version: the typed query, the bad-row predicate, the reasons array, the history column lists. p_one_per_moment: earlier rows of one entity and event_ts are bad (<key>__duplicate).';

CREATE OR REPLACE FUNCTION fs.record_quarantine(p_batch_id bigint, p_version_id integer, p_rows jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- Rows join a batch only while it is open (issued, not yet logged): a caller cannot
    -- add rows to a batch that is on record.
    PERFORM fs.check_open_batch(p_batch_id);
    INSERT INTO fs.quarantine (batch_id, row_number, version_id, data, reasons)
    SELECT p_batch_id, (r ->> 'row_number')::bigint, p_version_id, r -> 'data',
           ARRAY(SELECT jsonb_array_elements_text(r -> 'reasons'))
      FROM jsonb_array_elements(p_rows) r;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;
COMMENT ON FUNCTION fs.record_quarantine(bigint, integer, jsonb) IS 'Quarantines rows [{row_number, data, reasons}] of an open batch (the only way rows reach fs.quarantine).';

CREATE OR REPLACE FUNCTION fs.check_open_batch(p_batch_id bigint)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_batch_id IS NULL OR p_batch_id < 1 OR p_batch_id > (SELECT s.last_value FROM fs.ingest_batch_id_seq s)
       OR EXISTS (SELECT 1 FROM fs.ingest_batch b WHERE b.batch_id = p_batch_id) THEN
        RAISE EXCEPTION 'batch % is not open', coalesce(p_batch_id::text, 'NULL')
            USING ERRCODE = 'YF015', HINT = 'Batch ids come from fs.ingest_batch_id_seq; a logged batch is final.';
    END IF;
END
$$;
COMMENT ON FUNCTION fs.check_open_batch(bigint) IS 'Raises YF015 unless p_batch_id was issued by fs.ingest_batch_id_seq and is not logged yet.';

CREATE OR REPLACE FUNCTION fs.batch_by_key(p_view text, p_batch_key text)
RETURNS fs.ingest_batch
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version_id integer := (fs.resolve_version(p_view)).version_id;
    v_row        fs.ingest_batch;
BEGIN
    IF p_batch_key IS NULL OR btrim(p_batch_key) = '' OR length(p_batch_key) > 500 THEN
        RAISE EXCEPTION 'a batch key is 1 to 500 characters, got %', coalesce(quote_literal(left(p_batch_key, 40)), 'NULL')
            USING ERRCODE = 'YF015';
    END IF;
    -- Two batches with one key at once: the second waits here until the first has
    -- committed (or rolled back), then finds it on record (a new snapshot per statement).
    PERFORM pg_advisory_xact_lock(hashtext('fspg.batch_key'), hashtext(v_version_id || ':' || p_batch_key));
    SELECT b.* INTO v_row FROM fs.ingest_batch b WHERE b.version_id = v_version_id AND b.batch_key = p_batch_key;
    IF NOT FOUND THEN
        -- A batch the version was backfilled from is in it too (75_rollout.sql); dual
        -- writes carry the key themselves.
        SELECT b.* INTO v_row FROM fs.ingest_batch b JOIN fs.backfill f ON f.from_version_id = b.version_id
         WHERE f.version_id = v_version_id AND b.batch_key = p_batch_key AND b.finished_at < f.boundary;
    END IF;
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION fs.batch_by_key(text, text) IS 'The logged batch of view[@version] with this batch key (all NULL when there is none), after waiting for a concurrent batch with the same key; holds the key until the transaction ends.';

CREATE OR REPLACE FUNCTION fs.hold_served_version(p_view text, p_exclusive boolean DEFAULT false)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    -- Writers of an unpinned view hold it shared until they commit, a promote or rollback
    -- exclusively: a batch never lands in the version that stopped serving a moment ago
    -- (and so misses the one serving now). Pinned writes (view@N) need no hold.
    SELECT CASE WHEN p_exclusive THEN pg_advisory_xact_lock(hashtext('fspg.serving'), hashtext((fs.parse_ref(p_view)).name))
                ELSE pg_advisory_xact_lock_shared(hashtext('fspg.serving'), hashtext((fs.parse_ref(p_view)).name)) END
     WHERE p_view IS NOT NULL AND (p_exclusive OR position('@' IN p_view) = 0)
$$;
COMMENT ON FUNCTION fs.hold_served_version(text, boolean) IS 'Holds which version an unpinned view name means until the transaction ends: shared for writers, exclusive for promote and rollback.';

CREATE OR REPLACE FUNCTION fs.open_batch(p_view text, p_batch_key text DEFAULT NULL, p_expected_version_id integer DEFAULT NULL,
                                         OUT batch_id bigint, OUT version_id integer, OUT offline_table text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The client's direct path, in one round trip: hold the view, say which version it
    -- means now (the client may have cached an older answer), issue a batch id, and
    -- remember the key so copies into staged versions carry it. A client that sends the
    -- rest of the batch without waiting for the answer names the version it expects, and
    -- the batch fails (YF021, nothing written) when the name means another one now.
    PERFORM fs.hold_served_version(p_view);
    SELECT vv.version_id, vv.offline_table INTO version_id, offline_table FROM fs.resolve_version(p_view) vv;
    IF p_expected_version_id IS NOT NULL AND p_expected_version_id <> version_id THEN
        RAISE EXCEPTION '% now means another version', p_view
            USING ERRCODE = 'YF021', HINT = 'A promote or rollback happened since the client looked; send the batch again.';
    END IF;
    batch_id := nextval('fs.ingest_batch_id_seq');
    PERFORM set_config('fspg.batch_key', coalesce(p_batch_key, ''), true);
    -- For a client that logs the batch in the same pipeline (currval would name a copy
    -- the dual-write trigger opened since).
    PERFORM set_config('fspg.open_batch', batch_id::text, true);
END
$$;
COMMENT ON FUNCTION fs.open_batch(text, text, integer) IS 'Starts a batch the client copies straight into history: holds the view (fs.hold_served_version), returns the version it means now (YF021 if not the one expected) and a batch id.';

CREATE OR REPLACE FUNCTION fs.report_batch_rows(p_rows bigint, p_min timestamptz, p_max timestamptz)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT set_config('fspg.batch_rows', p_rows::text, true), set_config('fspg.batch_min_ts', coalesce(p_min::text, ''), true),
           set_config('fspg.batch_max_ts', coalesce(p_max::text, ''), true)
$$;
COMMENT ON FUNCTION fs.report_batch_rows(bigint, timestamptz, timestamptz) IS 'What a batch wrote to distributed history (rows, event-time range), for fs.record_batch: on Citus it cannot count them itself.';

CREATE OR REPLACE FUNCTION fs.record_batch(p_batch_id bigint, p_version_id integer, p_mode text, p_source text,
                                           p_columns jsonb, p_started_at timestamptz, p_batch_key text DEFAULT NULL,
                                           p_unchanged bigint DEFAULT 0)
RETURNS fs.ingest_batch
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row fs.ingest_batch;
BEGIN
    PERFORM fs.check_open_batch(p_batch_id);
    -- The counts are what reached history (the history tables' statement trigger writes
    -- fs.history_stats per batch) and quarantine, never what a caller says; the CHECK on
    -- rows_in = inserted + quarantined is the promise that nothing is lost.
    IF p_unchanged IS NULL OR p_unchanged < 0 THEN
        RAISE EXCEPTION 'unchanged rows are a count, got %', coalesce(p_unchanged::text, 'NULL') USING ERRCODE = 'YF015';
    END IF;
    -- On Citus the history trigger runs on the workers, away from the catalog, and this
    -- function (as fspg's owner) may not read shards the writer wrote in this transaction.
    -- The writing path reports the rows it wrote: the COPY's or INSERT's own row count
    -- and event-time range (docs/scale-out.md, "Limits").
    IF (SELECT vv.distributed FROM fs.feature_view_version vv WHERE vv.version_id = p_version_id) THEN
        IF coalesce(current_setting('fspg.batch_rows', true), '') = '' THEN
            RAISE EXCEPTION 'batch %: the rows written to a distributed table were not reported', p_batch_id
                USING ERRCODE = 'YF015', HINT = 'write distributed history through fs.ingest or the Python client';
        END IF;
        INSERT INTO fs.history_stats (version_id, batch_id, rows, min_event_ts, max_event_ts)
        SELECT p_version_id, p_batch_id, current_setting('fspg.batch_rows')::bigint,
               nullif(current_setting('fspg.batch_min_ts'), '')::timestamptz, nullif(current_setting('fspg.batch_max_ts'), '')::timestamptz
         WHERE current_setting('fspg.batch_rows')::bigint > 0;
        PERFORM set_config('fspg.batch_rows', '', true);
    END IF;
    INSERT INTO fs.ingest_batch (batch_id, version_id, mode, source, rows_in, inserted, quarantined, reasons,
                                 columns, min_event_ts, max_event_ts, started_at, finished_at, created_by, batch_key, unchanged)
    SELECT p_batch_id, p_version_id, p_mode, p_source, h.rows + q.rows + p_unchanged, h.rows, q.rows, q.reasons,
           coalesce((SELECT jsonb_agg(jsonb_build_object('name', fs.check_name('column', c ->> 'name'),
                                                         'type', fs.trusted_type(c ->> 'type')))
                       FROM jsonb_array_elements(p_columns) c), '[]'),
           h.min_event_ts, h.max_event_ts, p_started_at, clock_timestamp(), session_user, p_batch_key, p_unchanged
      FROM (SELECT coalesce(sum(s.rows), 0)::bigint AS rows, min(s.min_event_ts) AS min_event_ts, max(s.max_event_ts) AS max_event_ts
              FROM fs.history_stats s WHERE s.batch_id = p_batch_id AND s.version_id = p_version_id) h,
           (SELECT count(*) AS rows,
                   coalesce((SELECT jsonb_object_agg(reason, n ORDER BY reason)
                               FROM (SELECT unnest(q2.reasons) AS reason, count(*) AS n FROM fs.quarantine q2
                                      WHERE q2.batch_id = p_batch_id GROUP BY 1) r), '{}') AS reasons
              FROM fs.quarantine q WHERE q.batch_id = p_batch_id) q
    RETURNING * INTO v_row;
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION fs.record_batch(bigint, integer, text, text, jsonb, timestamptz, text, bigint) IS 'Logs an open batch with the counts, reasons and event-time range that really reached history and quarantine (plus the rows fs.ingest found unchanged).';

CREATE OR REPLACE FUNCTION fs.ingest(p_view text, p_staging regclass, p_mode text DEFAULT 'quarantine', p_source text DEFAULT NULL,
                                     p_batch_key text DEFAULT NULL, p_max_quarantined numeric DEFAULT NULL,
                                     p_skip_unchanged boolean DEFAULT false)
RETURNS SETOF fs.batch_result
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_started     timestamptz := clock_timestamp();
    v_version     fs.feature_view_version;
    v_view        text;
    v_batch       bigint;
    v_q           record;
    v_min         timestamptz;
    v_max         timestamptz;
    v_rows_in     bigint;
    v_inserted    bigint;
    v_quarantined bigint;
    v_reasons     jsonb;
    v_sample      record;
    v_logged      fs.ingest_batch;
    v_periods     timestamptz[];
    v_tolerated   numeric;
    v_future      timestamptz := now() + fs.max_future_skew();
    v_timezone    text := current_setting('TimeZone');
    v_keep        text := 'true';
    v_unchanged   bigint := 0;
    v_written     bigint;
BEGIN
    -- Text timestamps without an offset are UTC on every path, whatever the session says.
    PERFORM set_config('TimeZone', 'UTC', true);
    IF p_mode IS NULL OR p_mode NOT IN ('quarantine', 'strict') THEN
        RAISE EXCEPTION 'mode must be quarantine or strict, got %', coalesce(quote_literal(p_mode), 'NULL')
            USING ERRCODE = 'YF015';
    END IF;
    IF p_max_quarantined IS NOT NULL AND (p_max_quarantined < 0 OR p_max_quarantined <> trunc(p_max_quarantined) AND p_max_quarantined >= 1) THEN
        RAISE EXCEPTION 'max_quarantined is a count of rows (0, 1, 2, ...) or a fraction below 1, got %', p_max_quarantined
            USING ERRCODE = 'YF015';
    END IF;
    PERFORM fs.hold_served_version(p_view);
    v_version := fs.resolve_version(p_view);
    v_view := (SELECT fv.name FROM fs.feature_view fv WHERE fv.view_id = v_version.view_id);
    -- A retry of a batch already on record is that batch: nothing is written again.
    IF p_batch_key IS NOT NULL THEN
        SELECT * INTO v_logged FROM fs.batch_by_key(p_view, p_batch_key);
        IF v_logged.batch_id IS NOT NULL THEN
            PERFORM set_config('TimeZone', v_timezone, true);
            RETURN QUERY SELECT v_logged.batch_id, v_view, v_version.version, v_logged.rows_in, v_logged.inserted,
                                v_logged.quarantined, v_logged.reasons, v_logged.unchanged;
            RETURN;
        END IF;
    END IF;
    v_q := fs.ingest_query(v_version.version_id, p_staging, v_future);

    -- One pass: how many rows are bad, and the event-time range of the plausible ones
    -- (so a typo like year 9999 does not create thousands of partitions). A range wider
    -- than a few periods takes a second pass for the periods that really have rows: one
    -- row from 1971 makes one partition, not fifty years of them.
    EXECUTE format('SELECT count(*), count(*) FILTER (WHERE %s),'
                   ' min(t.event_ts) FILTER (WHERE t.event_ts BETWEEN %L AND %L),'
                   ' max(t.event_ts) FILTER (WHERE t.event_ts BETWEEN %L AND %L) FROM (%s) t',
                   v_q.bad_predicate, '1970-01-01 00:00+00', v_future, '1970-01-01 00:00+00', v_future, v_q.typed_query)
       INTO v_rows_in, v_quarantined, v_min, v_max;

    -- A batch may say how much bad data it tolerates (a count, or a fraction of its rows):
    -- above that it fails like strict mode, nothing written.
    v_tolerated := CASE WHEN p_max_quarantined < 1 THEN p_max_quarantined * v_rows_in ELSE p_max_quarantined END;
    IF (p_mode = 'strict' AND v_quarantined > 0) OR v_quarantined > v_tolerated THEN
        EXECUTE format('SELECT t."?row" AS row_number, t."?raw" AS data, %s AS reasons FROM (%s) t WHERE %s LIMIT 1',
                       v_q.reasons_expr, v_q.typed_query, v_q.bad_predicate)
           INTO v_sample;
        RAISE EXCEPTION 'batch rejected: %row % breaks rule % (column %)',
            CASE WHEN p_mode = 'strict' THEN '' ELSE format('%s of %s rows are bad, more than max_quarantined %s; ', v_quarantined, v_rows_in, p_max_quarantined) END,
            coalesce(v_sample.row_number::text, '?'), array_to_string(v_sample.reasons, ', '),
            split_part(v_sample.reasons[1], '__', 1)
            USING ERRCODE = 'YF012',
                  DETAIL = format('%s of %s rows are bad; the first: %s', v_quarantined, v_rows_in, left(v_sample.data::text, 1000)),
                  HINT = 'Nothing was written. Fix the data, or ingest with mode quarantine to keep the good rows.';
    END IF;
    IF v_min IS NULL OR v_max - v_min <= ('3 ' || v_version.partition_by)::interval THEN
        v_periods := fs.periods_between(v_version.partition_by, v_min, v_max);
    ELSE
        EXECUTE format('SELECT array_agg(DISTINCT fs.period_start(%L, t.event_ts)) FROM (%s) t'
                       ' WHERE t.event_ts BETWEEN %L AND %L', v_version.partition_by, v_q.typed_query, '1970-01-01 00:00+00', v_future)
           INTO v_periods;
    END IF;
    -- On Citus a transaction may not touch a shard as two roles: the partitions (made as
    -- fspg's owner) come from the client before the batch and from fs.maintain; a row of
    -- a period without one waits in the default partition, where every read finds it.
    IF NOT v_version.distributed THEN
        PERFORM fs.ensure_partitions(v_version.version_id, v_periods);
    END IF;

    IF p_skip_unchanged THEN
        -- Good rows whose values history already holds as the newest for that entity and
        -- moment are counted, not written again (as SQL-defined views re-run a window).
        v_keep := format('NOT EXISTS (SELECT 1 FROM (SELECT * FROM fs_offline.%I h WHERE %s h.event_ts = t.event_ts'
                         ' ORDER BY h.created_ts DESC LIMIT 1) n WHERE %s)',
                         v_version.offline_table,
                         coalesce((SELECT string_agg(format('h.%1$I = t.%1$I AND ', k.name), '') FROM fs.key_columns(v_version.version_id) k), ''),
                         (SELECT string_agg(format('t.%1$I IS NOT DISTINCT FROM n.%1$I', f.name), ' AND ')
                            FROM fs.feature f WHERE f.version_id = v_version.version_id));
    END IF;
    v_batch := nextval('fs.ingest_batch_id_seq');
    -- Copies of this batch into staged versions carry its key (a retry after the promote
    -- finds them there).
    PERFORM set_config('fspg.batch_key', coalesce(p_batch_key, ''), true);
    BEGIN
        IF v_quarantined > 0 THEN
            -- Bad rows go through the store's own function: quarantine is bookkeeping.
            EXECUTE format('SELECT fs.record_quarantine(%s, %s, jsonb_agg(jsonb_build_object('
                           '''row_number'', coalesce(q."?row", q.n), ''data'', q."?raw", ''reasons'', to_jsonb(q.reasons))))'
                           ' FROM (SELECT t."?row", row_number() OVER () AS n, t."?raw", %s AS reasons FROM (%s) t WHERE %s) q',
                           v_batch, v_version.version_id, v_q.reasons_expr, v_q.typed_query, v_q.bad_predicate);
            EXECUTE format('INSERT INTO fs_offline.%I (%s batch_id) SELECT %s %s FROM (%s) t WHERE NOT (%s) AND %s',
                           v_version.offline_table, v_q.history_columns, v_q.typed_columns, v_batch, v_q.typed_query,
                           v_q.bad_predicate, v_keep);
        ELSE
            -- A clean batch (the usual case) skips the per-row checks here; the table's
            -- constraints still hold every row to the rules.
            EXECUTE format('INSERT INTO fs_offline.%I (%s batch_id) SELECT %s %s FROM (%s) t WHERE %s',
                           v_version.offline_table, v_q.history_columns, v_q.typed_columns, v_batch, v_q.typed_query, v_keep);
        END IF;
        -- Good rows the insert skipped are the unchanged ones (fs.record_batch still counts
        -- what reached history itself, so another writer under this id is noticed).
        GET DIAGNOSTICS v_written = ROW_COUNT;
        v_unchanged := v_rows_in - v_quarantined - v_written;
        IF v_version.distributed THEN
            PERFORM fs.report_batch_rows(v_written, v_min, v_max);
        END IF;
    EXCEPTION WHEN unique_violation THEN
        -- The batch itself has one row per entity and moment; this transaction wrote one
        -- of those moments before (a second batch in one transaction).
        RAISE EXCEPTION 'batch rejected: an entity and moment of it was written earlier in this transaction'
            USING ERRCODE = 'YF012', DETAIL = SQLERRM,
                  HINT = 'fspg keeps one row per entity and event_ts per transaction: send them in one batch (the last row wins) or commit between.';
    END;
    IF v_quarantined > 0 THEN
        PERFORM fs.offer_to_staged(v_version.version_id, p_staging, v_q.typed_query, v_q.bad_predicate, v_batch);
    END IF;
    SELECT * INTO v_logged FROM fs.record_batch(v_batch, v_version.version_id, p_mode, p_source,
        (SELECT jsonb_agg(jsonb_build_object('name', a.attname, 'type', format_type(a.atttypid, NULL)) ORDER BY a.attnum)
           FROM pg_attribute a WHERE a.attrelid = p_staging AND a.attnum > 0 AND NOT a.attisdropped
            AND a.attname NOT IN ('fs_row', 'fs_reasons')),
        v_started, p_batch_key, v_unchanged);
    IF v_logged.rows_in <> v_rows_in THEN
        RAISE EXCEPTION 'batch %: % rows staged but % accounted for', v_batch, v_rows_in, v_logged.rows_in
            USING ERRCODE = 'YF015', HINT = 'Another session wrote rows under this batch id; nothing was written.';
    END IF;
    IF v_version.distributed THEN
        PERFORM fs.dual_write(v_version.version_id, v_batch);  -- staged versions (a trigger does it on one server)
    END IF;
    v_inserted := v_logged.inserted;
    v_quarantined := v_logged.quarantined;
    v_reasons := v_logged.reasons;

    PERFORM set_config('TimeZone', v_timezone, true);
    RETURN QUERY SELECT v_batch, v_view, v_version.version, v_rows_in, v_inserted, v_quarantined, v_reasons, v_unchanged;
END
$$;
COMMENT ON FUNCTION fs.ingest(text, regclass, text, text, text, numeric, boolean) IS 'Validates a staged batch for view[@version] and appends it: good rows to history, bad rows to quarantine with their reasons; logs the batch. mode strict rejects the batch on the first bad row, p_max_quarantined (a count, or a fraction below 1) when more rows are bad. With a batch key already on record for that version, returns that batch and writes nothing. p_skip_unchanged: rows history already holds as the newest for their entity and moment are counted as unchanged, not written.';

CREATE OR REPLACE FUNCTION fs.offer_to_staged(p_version_id integer, p_staging regclass, p_typed_query text,
                                              p_bad_predicate text, p_batch_id bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_target fs.feature_view_version;
    v_rows   bigint[];
    v_name   text := 'fs_offer_' || p_batch_id;
BEGIN
    -- Rows the served version refused still reach each staged version, through that
    -- version's rules: a relaxed rule takes them (75_rollout.sql). The rows it accepted
    -- got there by the dual-write trigger; rows superseded in the input by a later row of
    -- the same entity and moment reach no version. Needs the input's row numbers (fs_row).
    IF NOT EXISTS (SELECT 1 FROM fs.stage_targets(p_version_id))
       OR NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = p_staging AND a.attname = 'fs_row' AND NOT a.attisdropped) THEN
        RETURN;
    END IF;
    EXECUTE format('SELECT array_agg(t."?row") FROM (%s) t WHERE (%s) AND NOT t."?superseded"', p_typed_query, p_bad_predicate)
       INTO v_rows;
    IF v_rows IS NULL THEN
        RETURN;
    END IF;
    -- The caller's own rights (this function is not SECURITY DEFINER), its own temp table.
    EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS SELECT * FROM %s WHERE fs_row = ANY (%L)', v_name, p_staging, v_rows);
    FOR v_target IN SELECT * FROM fs.stage_targets(p_version_id) LOOP
        PERFORM fs.ingest((SELECT format('%s@%s', fv.name, v_target.version) FROM fs.feature_view fv WHERE fv.view_id = v_target.view_id),
                          format('pg_temp.%I', v_name)::regclass, 'quarantine', format('offered from batch %s', p_batch_id));
    END LOOP;
    EXECUTE format('DROP TABLE pg_temp.%I', v_name);
END
$$;
COMMENT ON FUNCTION fs.offer_to_staged(integer, regclass, text, text, bigint) IS 'Ingests the rows a batch of the promoted version quarantined into each staged version, under its own rules (a relaxed rule takes them).';

CREATE OR REPLACE FUNCTION fs.log_direct_batch(p_batch_id bigint, p_view text, p_mode text, p_source text,
                                               p_columns jsonb, p_started_at timestamptz, p_batch_key text DEFAULT NULL)
RETURNS SETOF fs.batch_result
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_version fs.feature_view_version := fs.resolve_version(p_view);
    v_logged  fs.ingest_batch;
BEGIN
    v_logged := fs.record_batch(p_batch_id, v_version.version_id, p_mode, p_source, p_columns, p_started_at, p_batch_key);
    RETURN QUERY SELECT p_batch_id, (SELECT fv.name FROM fs.feature_view fv WHERE fv.view_id = v_version.view_id),
                        v_version.version, v_logged.rows_in, v_logged.inserted, v_logged.quarantined, v_logged.reasons,
                        0::bigint;
END
$$;
COMMENT ON FUNCTION fs.log_direct_batch(bigint, text, text, text, jsonb, timestamptz, text) IS 'Logs a batch a client copied straight into a history table (every row passed the constraints, none quarantined); the counts are what reached history.';

CREATE OR REPLACE FUNCTION fs.replay_quarantine(p_batch_id bigint, p_view text DEFAULT NULL, p_mode text DEFAULT 'quarantine')
RETURNS SETOF fs.batch_result
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_batch  fs.ingest_batch;
    v_target text;
    v_result record;
BEGIN
    SELECT * INTO v_batch FROM fs.ingest_batch b WHERE b.batch_id = p_batch_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'batch % does not exist', p_batch_id USING ERRCODE = 'YF006', HINT = 'fspg batches lists them.';
    END IF;
    -- Unless told otherwise, into the view's newest staged version (the usual fix is a new
    -- version with corrected rules, staged until promoted), else the served one.
    v_target := coalesce(p_view,
        (SELECT fv.name || coalesce('@' || (SELECT max(s.version) FROM fs.feature_view_version s
                                             WHERE s.view_id = fv.view_id AND fs.version_stage(s.version_id) = 'staged'), '')
           FROM fs.feature_view fv JOIN fs.feature_view_version vv USING (view_id)
          WHERE vv.version_id = v_batch.version_id));
    -- The staged shape again, read through the catalog: names are checked and quoted,
    -- types resolved (built-in ones only), never pasted from the stored row. Created
    -- fresh and dropped here: a table of this name the caller made is never used.
    EXECUTE format('CREATE TEMP TABLE fs_replay (%s, fs_row bigint) ON COMMIT DROP',
                   (SELECT string_agg(format('%I %s', fs.check_name('column', c ->> 'name'), fs.trusted_type(c ->> 'type')), ', '
                                      ORDER BY o)
                      FROM jsonb_array_elements(v_batch.columns) WITH ORDINALITY AS x(c, o)));
    INSERT INTO pg_temp.fs_replay
    SELECT r.* FROM jsonb_populate_recordset(NULL::pg_temp.fs_replay,
        (SELECT jsonb_agg(q.data || jsonb_build_object('fs_row', q.row_number) ORDER BY q.row_number)
           FROM fs.quarantine q WHERE q.batch_id = p_batch_id AND q.replayed_batch_id IS NULL)) r;
    SELECT * INTO v_result FROM fs.ingest(v_target, 'pg_temp.fs_replay'::regclass, p_mode, format('replay of batch %s', p_batch_id));
    UPDATE fs.quarantine q SET replayed_batch_id = v_result.batch_id
     WHERE q.batch_id = p_batch_id AND q.replayed_batch_id IS NULL;
    DROP TABLE pg_temp.fs_replay;
    RETURN QUERY SELECT v_result.batch_id, v_result.feature_view, v_result.version, v_result.rows_in,
                        v_result.inserted, v_result.quarantined, v_result.reasons, v_result.unchanged;
END
$$;
COMMENT ON FUNCTION fs.replay_quarantine(bigint, text, text) IS 'Re-validates the quarantined rows of a batch against view[@version] (default: the newest staged version, else the served one) as a new batch; rows still bad are quarantined again, nothing is lost.';

CREATE OR REPLACE FUNCTION fs.forget(p_view text, p_entity jsonb, p_reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_view_id  integer;
    v_keys     text[];
    v_types    text[];
    v_where    text;
    v_staged   text;
    v_version  record;
    v_spine    record;
    v_rows     bigint;
    v_total    bigint := 0;
    v_mirror   record;
    v_removed  jsonb := jsonb_build_object('history', '{}'::jsonb, 'online', '{}'::jsonb, 'quarantine', 0,
                                           'training_spines', '{}'::jsonb, 'cdc_mirrors', '{}'::jsonb);
BEGIN
    SELECT fv.view_id, array_agg(k.name ORDER BY k.position), array_agg(fs.sql_type(k.dtype) ORDER BY k.position)
      INTO v_view_id, v_keys, v_types
      FROM fs.feature_view fv JOIN fs.entity_key k ON k.entity_id = fv.entity_id
     WHERE fv.name = p_view GROUP BY fv.view_id;
    IF v_view_id IS NULL THEN
        RAISE EXCEPTION 'feature view % does not exist or has no entity', p_view USING ERRCODE = 'YF006';
    END IF;
    IF jsonb_typeof(p_entity) IS DISTINCT FROM 'object'
       OR (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(p_entity) k) IS DISTINCT FROM (SELECT array_agg(k ORDER BY k) FROM unnest(v_keys) k)
       OR EXISTS (SELECT 1 FROM jsonb_each(p_entity) e WHERE jsonb_typeof(e.value) = 'null') THEN
        RAISE EXCEPTION 'forget needs every key of % and nothing else: %', p_view, array_to_string(v_keys, ', ')
            USING ERRCODE = 'YF015';
    END IF;
    -- Keys are matched by typed value everywhere: 1 from Python, "1" from the CLI or a CSV
    -- are the same entity. A value that is not one of the key's type is an error.
    FOR i IN 1 .. cardinality(v_keys) LOOP
        IF NOT fs.is_valid_input(p_entity ->> v_keys[i], v_types[i]) THEN
            RAISE EXCEPTION 'key % must be a %, got %', v_keys[i], v_types[i], p_entity -> v_keys[i] USING ERRCODE = 'YF015';
        END IF;
    END LOOP;
    SELECT string_agg(format('%I = %L::%s', k.key, p_entity ->> k.key, k.typ), ' AND '),
           -- Quarantined rows are kept as staged (a CDC change under "row"): parsed per row.
           string_agg(format('(CASE WHEN fs.is_valid_input(coalesce(q.data ->> %1$L, q.data -> ''row'' ->> %1$L), %3$L)'
                             ' THEN coalesce(q.data ->> %1$L, q.data -> ''row'' ->> %1$L)::%3$s END) = %2$L::%3$s',
                             k.key, p_entity ->> k.key, k.typ), ' AND ')
      INTO v_where, v_staged
      FROM unnest(v_keys, v_types) AS k(key, typ);
    -- CDC mirror tables feeding the view hold the source's current rows. First, so that
    -- nothing the mirror's trigger would write survives the deletes below; the trigger
    -- itself stands aside while fspg erases (fspg.erasing, this transaction only).
    PERFORM set_config('fspg.erasing', 'on', true);
    FOR v_mirror IN SELECT format('%I.%I', d.local_schema, d.tables[1]) AS rel
                      FROM fs.source_database d JOIN fs.feature_view_version vv USING (version_id)
                     WHERE d.kind = 'cdc' AND vv.view_id = v_view_id ORDER BY d.name LOOP
        BEGIN
            EXECUTE format('DELETE FROM %s WHERE %s', v_mirror.rel,
                           (SELECT string_agg(format('%I::%s = %L::%s', k.key, k.typ, p_entity ->> k.key, k.typ), ' AND ')
                              FROM unnest(v_keys, v_types) AS k(key, typ)));
            GET DIAGNOSTICS v_rows = ROW_COUNT;
            v_removed := jsonb_set(v_removed, ARRAY['cdc_mirrors', v_mirror.rel], to_jsonb(v_rows));
        EXCEPTION WHEN insufficient_privilege THEN
            -- A mirror made before fspg could erase from it: say so, in the log and now.
            v_removed := jsonb_set(v_removed, ARRAY['cdc_mirrors', v_mirror.rel],
                                   to_jsonb(format('not erased: its owner must GRANT DELETE ON %s TO fs_owner', v_mirror.rel)));
            RAISE WARNING 'CDC mirror % still holds the entity: its owner must GRANT SELECT, DELETE ON % TO fs_owner',
                v_mirror.rel, v_mirror.rel;
        END;
    END LOOP;
    PERFORM set_config('fspg.erasing', '', true);
    -- Every version: erasure means the entity is gone from all of the view's history.
    FOR v_version IN SELECT version_id, version, offline_table, online_table FROM fs.feature_view_version
                      WHERE view_id = v_view_id ORDER BY version LOOP
        EXECUTE format('DELETE FROM fs_offline.%I WHERE %s', v_version.offline_table, v_where);
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows > 0 THEN
            INSERT INTO fs.history_stats (version_id, rows) VALUES (v_version.version_id, -v_rows);
        END IF;
        v_total := v_total + v_rows;
        v_removed := jsonb_set(v_removed, ARRAY['history', p_view || '@' || v_version.version], to_jsonb(v_rows));
        EXECUTE format('DELETE FROM fs_online.%I WHERE %s', v_version.online_table, v_where);
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        v_removed := jsonb_set(v_removed, ARRAY['online', p_view || '@' || v_version.version], to_jsonb(v_rows));
        EXECUTE format('DELETE FROM fs.quarantine q WHERE q.version_id = %s AND %s', v_version.version_id, v_staged);
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        v_removed := jsonb_set(v_removed, '{quarantine}', to_jsonb((v_removed ->> 'quarantine')::bigint + v_rows));
    END LOOP;
    -- Stored training sets that pinned a version of this view keep their spine rows for
    -- the entity no more (their hash changes: verify_training_set says so).
    FOR v_spine IN
        SELECT DISTINCT t.name, tv.version, tv.spine_table
          FROM fs.training_set t JOIN fs.training_set_version tv USING (training_set_id)
          JOIN fs.training_set_feature tf USING (ts_version_id) JOIN fs.feature f USING (feature_id)
          JOIN fs.feature_view_version vv USING (version_id)
         WHERE vv.view_id = v_view_id
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM unnest(v_keys) k WHERE k <> ALL (fs.relation_columns(format('fs_training.%I', v_spine.spine_table)::regclass)));
        EXECUTE format('DELETE FROM fs_training.%I WHERE %s', v_spine.spine_table, v_where);
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        v_removed := jsonb_set(v_removed, ARRAY['training_spines', v_spine.name || '@' || v_spine.version], to_jsonb(v_rows));
    END LOOP;
    INSERT INTO fs.erasure_log (view_name, entity_key, rows_deleted, reason, removed, erased_by)
    VALUES (p_view, p_entity, v_total, p_reason, v_removed, session_user);
    RETURN v_total;
END
$$;
COMMENT ON FUNCTION fs.forget(text, jsonb, text) IS 'Right to erasure: deletes one entity, matched by typed key value, from every version of a view (history, online, quarantine), from CDC mirror tables feeding it and from the spines of stored training sets that use it; logs what it removed where; returns history rows deleted.';
