-- 72_history_guard: what history tables do beyond their CHECK constraints.
-- Owns: fs.max_future_skew, fs.install_history_triggers.
-- The rules, the 1970 floor and the future bound are CHECK constraints (40_tables.sql),
-- so plain SQL INSERT and COPY are held to them like fs.ingest. What is left here is
-- who may write which column: created_ts is the store's clock, never a writer's.

CREATE OR REPLACE FUNCTION fs.max_future_skew()
RETURNS interval
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT interval '5 minutes' $$;
COMMENT ON FUNCTION fs.max_future_skew() IS 'The clock skew allowed between writers and the database: event_ts may be at most this far in the future.';

CREATE OR REPLACE FUNCTION fs.install_history_triggers(p_version_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_table text := (SELECT offline_table FROM fs.feature_view_version WHERE version_id = p_version_id);
    v_old   regclass;
BEGIN
    -- created_ts is the store's clock: writers may insert every column but that one, so
    -- a supplied value is refused (42501) on every path, plain SQL and COPY included,
    -- and the column default stamps the row.
    EXECUTE format('REVOKE INSERT ON fs_offline.%I FROM fs_writer', v_table);
    EXECUTE format('GRANT INSERT (%s) ON fs_offline.%I TO fs_writer',
                   (SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum)
                      FROM pg_attribute a
                     WHERE a.attrelid = format('fs_offline.%I', v_table)::regclass AND a.attnum > 0
                       AND NOT a.attisdropped AND a.attname <> 'created_ts'), v_table);
    -- One row per entity and moment in a transaction (0008): a version made before gets
    -- its index made unique here, on migrate, where its history allows.
    IF NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = format('fs_offline.%I', v_table)::regclass AND i.indisunique) THEN
        SELECT i.indexrelid::regclass INTO v_old
          FROM pg_index i WHERE i.indrelid = format('fs_offline.%I', v_table)::regclass LIMIT 1;
        BEGIN
            EXECUTE format('CREATE UNIQUE INDEX ON fs_offline.%I (%s event_ts DESC, created_ts DESC)', v_table,
                           (SELECT coalesce(string_agg(format('%I, ', k.name), ''), '') FROM fs.key_columns(p_version_id) k));
            IF v_old IS NOT NULL THEN
                EXECUTE format('DROP INDEX %s', v_old);
            END IF;
        EXCEPTION WHEN unique_violation THEN
            RAISE NOTICE 'fs_offline.% holds two rows of one entity and moment written together; they keep resolving by physical order', v_table;
        END;
    END IF;
    -- Readers reach partitions directly (training joins probe them one by one); rights
    -- on the parent are not inherited.
    EXECUTE (SELECT coalesce(string_agg(format('GRANT SELECT ON %s TO fs_reader', i.inhrelid::regclass), '; '), 'SELECT 1')
               FROM pg_inherits i WHERE i.inhparent = format('fs_offline.%I', v_table)::regclass);
END
$$;
COMMENT ON FUNCTION fs.install_history_triggers(integer) IS 'Sets what a version''s history table enforces beyond its constraints (writers never set created_ts; readers read its partitions); re-run for every version on migrate.';
