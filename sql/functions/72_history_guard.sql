-- 72_history_guard: what history tables do beyond their CHECK constraints.
-- Owns: fs.max_future_skew, fs.record_sql_write (trigger function),
--       fs.install_history_triggers.
-- The rules, the 1970 floor and the future bound are CHECK constraints (40_tables.sql),
-- so plain SQL INSERT and COPY are held to them like fs.ingest. What is left here is
-- bookkeeping: rows written by plain SQL (batch_id NULL) are counted in
-- fs.history_stats by a row trigger that fspg's own batches (batch_id set, counted by
-- the ingest functions) never fire.

CREATE OR REPLACE FUNCTION fs.max_future_skew()
RETURNS interval
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT interval '5 minutes' $$;
COMMENT ON FUNCTION fs.max_future_skew() IS 'The clock skew allowed between writers and the database: event_ts may be at most this far in the future.';

CREATE OR REPLACE FUNCTION fs.record_sql_write()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO fs.history_stats (version_id, rows, min_event_ts, max_event_ts)
    VALUES (TG_ARGV[0]::integer, 1, NEW.event_ts, NEW.event_ts);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION fs.record_sql_write() IS 'Row trigger of history tables for plain SQL writes (batch_id NULL): counts the row in fs.history_stats.';

CREATE OR REPLACE FUNCTION fs.install_history_triggers(p_version_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_table text := (SELECT offline_table FROM fs.feature_view_version WHERE version_id = p_version_id);
BEGIN
    EXECUTE format('CREATE OR REPLACE TRIGGER record_sql_write AFTER INSERT ON fs_offline.%I'
                   ' FOR EACH ROW WHEN (NEW.batch_id IS NULL) EXECUTE FUNCTION fs.record_sql_write(%L)',
                   v_table, p_version_id);
    -- ALWAYS: also when rows arrive through a logical replication apply worker (CDC).
    EXECUTE format('ALTER TABLE fs_offline.%I ENABLE ALWAYS TRIGGER record_sql_write', v_table);
END
$$;
COMMENT ON FUNCTION fs.install_history_triggers(integer) IS 'Creates (or replaces) the triggers of a version''s history table; re-run for every version on migrate.';
