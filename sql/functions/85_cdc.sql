-- 85_cdc: change data capture from application databases by logical replication.
-- Owns: fs.cdc_prepare, fs.install_cdc_trigger (the generated fs.cdc_<name>(), re-made when
--       a promote moves the feed), fs.cdc_batch, fs.cdc_count, fs.cdc_position
--       (fs.remove_source_database drops what cdc_prepare made).
-- The feature store subscribes to a publication of the source table; the rows land in a
-- mirror table of the same schema-qualified name (logical replication matches by name),
-- whose generated row trigger fs.cdc_<name>() turns every change into a history row of
-- the feature view: inserts and updates are events (event time from a declared column,
-- else when the change was applied), deletes are tombstones (features NULL, so the
-- online value goes away). The trigger runs inside the apply transaction, and the apply
-- worker records its progress in that same transaction: each change lands exactly once,
-- whatever crashes. A row that breaks a rule goes to quarantine with its position and
-- never stops the subscription. Each apply transaction is one batch in fs.ingest_batch.

CREATE OR REPLACE FUNCTION fs.cdc_batch(p_version_id integer, p_name text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_setting text := 'fspg.cdc_batch_' || p_name;
    v_current text := nullif(current_setting(v_setting, true), '');
    v_batch   bigint;
BEGIN
    -- The batch of this transaction, remembered in a transaction-local setting.
    IF v_current IS NOT NULL AND split_part(v_current, ':', 1) = txid_current()::text THEN
        RETURN split_part(v_current, ':', 2)::bigint;
    END IF;
    v_batch := nextval('fs.ingest_batch_id_seq');
    INSERT INTO fs.ingest_batch (batch_id, version_id, mode, source, rows_in, inserted, quarantined, columns, started_at, finished_at)
    VALUES (v_batch, p_version_id, 'quarantine', 'cdc ' || p_name, 0, 0, 0, '[]', clock_timestamp(), clock_timestamp());
    PERFORM set_config(v_setting, txid_current() || ':' || v_batch, true);
    RETURN v_batch;
END
$$;
COMMENT ON FUNCTION fs.cdc_batch(integer, text) IS 'The ingest batch of the current apply transaction of CDC source p_name (made on its first change).';

CREATE OR REPLACE FUNCTION fs.cdc_count(p_batch bigint, p_version_id integer, p_event_ts timestamptz, p_reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row bigint;
BEGIN
    -- Every change counts: rows_in = inserted + quarantined holds for CDC batches too.
    UPDATE fs.ingest_batch b
       SET rows_in = b.rows_in + 1,
           inserted = b.inserted + (p_reason IS NULL)::int,
           quarantined = b.quarantined + (p_reason IS NOT NULL)::int,
           reasons = CASE WHEN p_reason IS NULL THEN b.reasons
                          ELSE b.reasons || jsonb_build_object(p_reason, coalesce((b.reasons ->> p_reason)::bigint, 0) + 1) END,
           min_event_ts = least(b.min_event_ts, p_event_ts),
           max_event_ts = greatest(b.max_event_ts, p_event_ts),
           finished_at = clock_timestamp()
     WHERE b.batch_id = p_batch
    RETURNING b.rows_in INTO v_row;
    -- fs.history_stats is kept by the history table's own statement trigger.
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION fs.cdc_count(bigint, integer, timestamptz, text) IS 'Counts one CDC change in its batch (inserted, or quarantined for p_reason); returns its row number in the batch.';

CREATE OR REPLACE FUNCTION fs.cdc_position()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- In an apply worker the session's replication origin is the subscription: its
    -- progress is the source's WAL position the stream has been applied up to.
    RETURN pg_replication_origin_session_progress(false)::text;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION fs.cdc_position() IS 'The source WAL position the current apply session has reached (NULL outside one).';

CREATE OR REPLACE FUNCTION fs.cdc_prepare(p_name text, p_table text, p_view text, p_event_time text, p_columns jsonb,
                                          p_keys text[], p_dsn text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    v_name     text := fs.check_name('source', p_name);
    v_parts    text[] := regexp_match(p_table, '^([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$');
    v_version  fs.feature_view_version := fs.resolve_version(p_view);
    v_view     text := (fs.parse_ref(p_view, 'feature view')).name;
    v_types    jsonb;
BEGIN
    IF v_parts IS NULL THEN
        RAISE EXCEPTION 'CDC table must be written schema.table, got %', quote_literal(p_table) USING ERRCODE = 'YF015';
    END IF;
    IF EXISTS (SELECT 1 FROM fs.source_database d WHERE d.name = v_name) THEN
        RAISE EXCEPTION 'source % exists already', v_name USING ERRCODE = 'YF004', HINT = 'fspg source remove it first.';
    END IF;
    IF to_regclass(p_table) IS NOT NULL THEN
        RAISE EXCEPTION 'table % exists in the feature store database already', p_table
            USING ERRCODE = 'YF004', HINT = 'Logical replication lands rows in a table of the same name; rename or drop the local one.';
    END IF;
    IF p_event_time IS NOT NULL AND NOT p_columns ? p_event_time THEN
        RAISE EXCEPTION 'table % has no event-time column %', p_table, p_event_time USING ERRCODE = 'YF010';
    END IF;
    -- Source column types are names the client read from the source's catalog; they are
    -- resolved through this catalog (built-in types only), never pasted.
    SELECT jsonb_object_agg(fs.check_name('column', c.key), fs.trusted_type(c.value)) INTO v_types
      FROM jsonb_each_text(p_columns) c;

    -- The mirror table: same name, same columns, same identity as the source's.
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', v_parts[1]);
    EXECUTE format('CREATE TABLE %I.%I (%s%s)', v_parts[1], v_parts[2],
                   (SELECT string_agg(format('%I %s', c.key, c.value), ', ') FROM jsonb_each_text(v_types) c),
                   CASE WHEN cardinality(p_keys) > 0
                        THEN format(', PRIMARY KEY (%s)', (SELECT string_agg(format('%I', k), ', ') FROM unnest(p_keys) k)) ELSE '' END);
    IF coalesce(cardinality(p_keys), 0) = 0 THEN
        EXECUTE format('ALTER TABLE %I.%I REPLICA IDENTITY FULL', v_parts[1], v_parts[2]);
    END IF;
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', v_parts[1], v_parts[2],
                   format('Mirror of %s on CDC source %s, kept by logical replication; its trigger feeds feature view %s.', p_table, v_name, v_view));

    INSERT INTO fs.source_database (name, kind, server_name, local_schema, tables, version_id, event_time, dsn)
    VALUES (v_name, 'cdc', fs.cdc_name(v_name), v_parts[1], ARRAY[v_parts[2]], v_version.version_id, p_event_time, p_dsn);
    PERFORM fs.install_cdc_trigger(v_name);
    INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)
    VALUES ('source_database', v_name, 'table', p_table),
           ('table', p_table, 'feature_view', format('%s@%s', v_view, v_version.version))
    ON CONFLICT DO NOTHING;
    RETURN fs.cdc_name(v_name);
END
$$;
COMMENT ON FUNCTION fs.cdc_prepare(text, text, text, text, jsonb, text[], text) IS 'Makes the mirror table of a CDC source table and its trigger that feeds feature view p_view; the client then subscribes. Returns the subscription name.';

CREATE OR REPLACE FUNCTION fs.install_cdc_trigger(p_name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_source   fs.source_database;
    v_version  fs.feature_view_version;
    v_ref      text;
    v_table    regclass;
    v_columns  jsonb;
    v_missing  text;
    v_mapped   text[];
    v_col      record;
    v_keys     text;
    v_values   text;
    v_event    text;
    v_function text := 'cdc_' || p_name;
BEGIN
    SELECT * INTO v_source FROM fs.source_database WHERE name = p_name AND kind = 'cdc';
    SELECT * INTO v_version FROM fs.feature_view_version WHERE version_id = v_source.version_id;
    v_ref := (SELECT format('%s@%s', fv.name, v_version.version) FROM fs.feature_view fv WHERE fv.view_id = v_version.view_id);
    v_table := format('%I.%I', v_source.local_schema, v_source.tables[1])::regclass;
    -- The mirror's own columns say what the source sends. Its owner could have altered a
    -- column's type since: resolved again through the catalog, built-in types only, never
    -- pasted as found (a domain's CHECK would run as fs_owner in the casts below).
    SELECT jsonb_object_agg(a.attname, fs.trusted_type(format_type(a.atttypid, NULL))) INTO v_columns
      FROM pg_attribute a WHERE a.attrelid = v_table AND a.attnum > 0 AND NOT a.attisdropped;

    SELECT string_agg(k.name, ', ') INTO v_missing
      FROM fs.key_columns(v_version.version_id) k WHERE NOT v_columns ? k.name;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'table % has no column(s) % (the key of feature view %)', v_table, v_missing, v_ref USING ERRCODE = 'YF010';
    END IF;
    v_mapped := ARRAY(SELECT f.name FROM fs.feature f WHERE f.version_id = v_version.version_id AND v_columns ? f.name ORDER BY f.position);
    IF cardinality(v_mapped) = 0 THEN
        RAISE EXCEPTION 'table % has no column named like a feature of %', v_table, v_ref
            USING ERRCODE = 'YF010', HINT = 'Source columns feed the features of the same name.';
    END IF;
    SELECT string_agg(f.name, ', ') INTO v_missing
      FROM fs.feature f WHERE f.version_id = v_version.version_id AND (f.rules ->> 'not_null')::boolean;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'feature view % has not_null feature(s) %: a deleted source row becomes a tombstone with NULL features', v_ref, v_missing
            USING ERRCODE = 'YF008', HINT = 'Drop not_null from those rules (in a new version) to capture this table.';
    END IF;
    FOR v_col IN SELECT f.name, fs.sql_type(f.dtype) AS sql_type, v_columns ->> f.name AS source_type
                   FROM fs.feature f WHERE f.version_id = v_version.version_id AND f.name = ANY (v_mapped)
                 UNION ALL SELECT v_source.event_time, 'timestamptz', v_columns ->> v_source.event_time WHERE v_source.event_time IS NOT NULL LOOP
        BEGIN
            EXECUTE format('SELECT NULL::%s::%s', v_col.source_type, v_col.sql_type);
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'column % of % is %, which cannot become %', v_col.name, v_table, v_col.source_type, v_col.sql_type
                USING ERRCODE = 'YF010';
        END;
    END LOOP;

    v_keys := (SELECT string_agg(format('%I', k.name), ', ') FROM fs.key_columns(v_version.version_id) k);
    -- Without an event-time column a change happened when it was applied: the clock, not
    -- the transaction start, so two changes of one row in one transaction stay in order.
    v_event := CASE WHEN v_source.event_time IS NULL THEN 'clock_timestamp()'
                    ELSE format('coalesce(NEW.%I::timestamptz, clock_timestamp())', v_source.event_time) END;
    v_values := (SELECT string_agg(format('NEW.%I::%s', k.name, k.sql_type), ', ') FROM fs.key_columns(v_version.version_id) k);
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION fs.%1$I() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $body$
        DECLARE
            v_batch  bigint;
            v_event  timestamptz;
            v_reason text;
        BEGIN
            -- fs.forget deleting an erased entity from the mirror: no tombstone for it.
            IF current_setting('fspg.erasing', true) = 'on' THEN
                RETURN NULL;
            END IF;
            v_batch := fs.cdc_batch(%2$s, %3$L);
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    v_event := clock_timestamp();
                    INSERT INTO fs_offline.%4$I (%5$s, event_ts, batch_id) VALUES (%6$s, v_event, v_batch);
                ELSE
                    v_event := %7$s;
                    INSERT INTO fs_offline.%4$I (%5$s, event_ts, %8$s, batch_id) VALUES (%9$s, v_event, %10$s, v_batch);
                END IF;
                PERFORM fs.cdc_count(v_batch, %2$s, v_event);
            EXCEPTION WHEN integrity_constraint_violation OR data_exception THEN
                -- A bad row is kept aside with where it came from; the stream goes on.
                GET STACKED DIAGNOSTICS v_reason = CONSTRAINT_NAME;
                INSERT INTO fs.quarantine (batch_id, row_number, version_id, data, reasons)
                VALUES (v_batch, fs.cdc_count(v_batch, %2$s, NULL, coalesce(nullif(v_reason, ''), 'sqlstate_' || SQLSTATE)), %2$s,
                        jsonb_build_object('op', TG_OP, 'row', to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END),
                                           'source_position', fs.cdc_position(), 'error', SQLERRM),
                        ARRAY[coalesce(nullif(v_reason, ''), 'sqlstate_' || SQLSTATE)]);
            END;
            RETURN NULL;
        END
        $body$ $f$,
        v_function, v_version.version_id, p_name, v_version.offline_table, v_keys,
        replace(v_values, 'NEW.', 'OLD.'), v_event,
        (SELECT string_agg(format('%I', m), ', ') FROM unnest(v_mapped) m), v_values,
        (SELECT string_agg(format('NEW.%I::%s', f.name, fs.sql_type(f.dtype)), ', ' ORDER BY f.position)
           FROM fs.feature f WHERE f.version_id = v_version.version_id AND f.name = ANY (v_mapped)));
    EXECUTE format('REVOKE ALL ON FUNCTION fs.%I() FROM PUBLIC', v_function);
    -- The trigger is made once, with the mirror; a re-install (a promote moved the feed)
    -- replaces only the function, which keeps its identity: the mirror then belongs to
    -- the subscription's owner (fspg/cdc.py) and fs_owner adds nothing to it.
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = v_table AND t.tgname = 'fspg_cdc') THEN
        EXECUTE format('CREATE TRIGGER fspg_cdc AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION fs.%I()',
                       v_table, v_function);
        -- Apply workers run with session_replication_role = replica: only ALWAYS triggers fire.
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER fspg_cdc', v_table);
    END IF;

END
$$;
COMMENT ON FUNCTION fs.install_cdc_trigger(text) IS 'Generates the trigger of CDC source p_name''s mirror table that turns changes into history rows of the version it feeds (made by cdc_prepare, re-made when a promote moves the feed).';
