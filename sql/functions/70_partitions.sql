-- 70_partitions: time partitions of history tables, and their upkeep.
-- Owns: fs.period_start, fs.partition_name, fs.periods_between, fs.max_new_partitions,
--       fs.ensure_partitions (create missing range partitions, bounded, moving rows out of
--       the default partition first),
--       fs.drop_expired_partitions (retention), fs.forget_online_without_history,
--       fs.fold_history_stats, fs.maintain.
-- Periods are computed in UTC whatever the session's TimeZone.

CREATE OR REPLACE FUNCTION fs.period_start(p_granularity text, p_ts timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT date_trunc(p_granularity, p_ts, 'UTC') $$;
COMMENT ON FUNCTION fs.period_start(text, timestamptz) IS 'Start (UTC) of the day/week/month/year partition period holding p_ts.';

CREATE OR REPLACE FUNCTION fs.partition_name(p_version_id integer, p_offline_table text, p_start timestamptz)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- <table>_YYYYMMDD; long view names with many versions fall back to a short name.
    SELECT CASE WHEN length(p_offline_table) + 9 <= 63
                THEN p_offline_table || '_' || to_char(p_start AT TIME ZONE 'UTC', 'YYYYMMDD')
                ELSE format('fs_v%s_%s', p_version_id, to_char(p_start AT TIME ZONE 'UTC', 'YYYYMMDD')) END
$$;
COMMENT ON FUNCTION fs.partition_name(integer, text, timestamptz) IS 'Name of the history partition of a version that starts at p_start.';

CREATE OR REPLACE FUNCTION fs.max_new_partitions()
RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- The database's own setting (ALTER DATABASE … SET fspg.max_new_partitions = N), not
    -- the session's: a writer must not lift the bound with SET.
    SELECT coalesce((SELECT split_part(c, '=', 2)::integer
                       FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) c
                      WHERE s.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                        AND s.setrole = 0 AND c ~ '^fspg\.max_new_partitions=\d{1,6}$'), 400)
$$;
COMMENT ON FUNCTION fs.max_new_partitions() IS 'How many history partitions one call may create (default 400; ALTER DATABASE … SET fspg.max_new_partitions = N). Rows of periods beyond it wait in the default partition until fspg maintain.';

CREATE OR REPLACE FUNCTION fs.periods_between(p_granularity text, p_from timestamptz, p_to timestamptz)
RETURNS timestamptz[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(p ORDER BY p), '{}')
      FROM generate_series(fs.period_start(p_granularity, p_from), p_to, ('1 ' || p_granularity)::interval) p
     WHERE p_from IS NOT NULL AND p_to IS NOT NULL
$$;
COMMENT ON FUNCTION fs.periods_between(text, timestamptz, timestamptz) IS 'Start of every partition period from the one holding p_from up to p_to.';

CREATE OR REPLACE FUNCTION fs.ensure_partitions(p_version_id integer, p_periods timestamptz[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_table   text;
    v_gran    text;
    v_keep    interval;
    v_floor   timestamptz;
    v_start   timestamptz;
    v_end     timestamptz;
    v_name    text;
    v_moved   bigint;
    v_created integer := 0;
    v_holding text;
BEGIN
    SELECT offline_table, partition_by, retention INTO v_table, v_gran, v_keep
      FROM fs.feature_view_version WHERE version_id = p_version_id;
    IF v_table IS NULL OR p_periods IS NULL THEN
        RETURN 0;
    END IF;
    -- A period that ended before the view's retention began gets no partition.
    v_floor := greatest('1970-01-01 00:00+00'::timestamptz,
                        coalesce(now() - v_keep - ('1 ' || v_gran)::interval, '-infinity'::timestamptz));
    -- One creator per version at a time; the others find the partitions made.
    PERFORM pg_advisory_xact_lock(hashtext('fspg.partitions'), p_version_id);
    -- Bounded whoever calls: plausible periods only (from 1970, or the view's retention,
    -- to the future bound), newest first, at most fs.max_new_partitions() new ones. Rows
    -- of the periods left out land in the default partition; fspg maintain adopts them.
    FOR v_start IN
        SELECT DISTINCT fs.period_start(v_gran, p) AS period FROM unnest(p_periods) p
         WHERE p >= v_floor AND p <= now() + fs.max_future_skew() + ('1 ' || v_gran)::interval * 3
         ORDER BY 1 DESC
    LOOP
        v_name := fs.partition_name(p_version_id, v_table, v_start);
        CONTINUE WHEN to_regclass(format('fs_offline.%I', v_name)) IS NOT NULL;
        EXIT WHEN v_created >= fs.max_new_partitions();
        v_end := v_start + ('1 ' || v_gran)::interval;
        EXECUTE format('SELECT count(*) FROM fs_offline.%I WHERE event_ts >= %L AND event_ts < %L',
                       v_table || '_default', v_start, v_end) INTO v_moved;
        IF v_moved = 0 THEN
            EXECUTE format('CREATE TABLE fs_offline.%I PARTITION OF fs_offline.%I FOR VALUES FROM (%L) TO (%L)',
                           v_name, v_table, v_start, v_end);
        ELSIF (SELECT vv.distributed FROM fs.feature_view_version vv WHERE vv.version_id = p_version_id) THEN
            -- On Citus a table attached to a distributed parent is not moved to the
            -- workers with its rows: the rows wait in a temp table while the partition is
            -- made (distributed with its parent) and then go back through the parent.
            -- The holding table's name is this call's own: a caller cannot have made it first.
            v_holding := 'fs_moving_' || md5(random()::text || clock_timestamp()::text);
            EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS WITH moved AS (DELETE FROM fs_offline.%I'
                           ' WHERE event_ts >= %L AND event_ts < %L RETURNING *) SELECT * FROM moved',
                           v_holding, v_table || '_default', v_start, v_end);
            EXECUTE format('CREATE TABLE fs_offline.%I PARTITION OF fs_offline.%I FOR VALUES FROM (%L) TO (%L)',
                           v_name, v_table, v_start, v_end);
            EXECUTE format('INSERT INTO fs_offline.%I SELECT * FROM pg_temp.%I', v_table, v_holding);
            EXECUTE format('DROP TABLE pg_temp.%I', v_holding);
            INSERT INTO fs.maintenance_log (version_id, action, detail)
            VALUES (p_version_id, 'move from default', format('%s rows into %s', v_moved, v_name));
        ELSE
            -- Rows that arrived before their partition existed: move them in, then attach.
            EXECUTE format('CREATE TABLE fs_offline.%I (LIKE fs_offline.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           v_name, v_table);
            EXECUTE format('WITH moved AS (DELETE FROM fs_offline.%I WHERE event_ts >= %L AND event_ts < %L RETURNING *)'
                           ' INSERT INTO fs_offline.%I SELECT * FROM moved',
                           v_table || '_default', v_start, v_end, v_name);
            EXECUTE format('ALTER TABLE fs_offline.%I ATTACH PARTITION fs_offline.%I FOR VALUES FROM (%L) TO (%L)',
                           v_table, v_name, v_start, v_end);
            INSERT INTO fs.maintenance_log (version_id, action, detail)
            VALUES (p_version_id, 'move from default', format('%s rows into %s', v_moved, v_name));
        END IF;
        -- Readers (training sets) name partitions directly; their rights are not inherited.
        EXECUTE format('GRANT SELECT ON fs_offline.%I TO fs_reader', v_name);
        INSERT INTO fs.maintenance_log (version_id, action, detail)
        VALUES (p_version_id, 'create partition', format('%s [%s, %s)', v_name, v_start, v_end));
        v_created := v_created + 1;
    END LOOP;
    RETURN v_created;
END
$$;
COMMENT ON FUNCTION fs.ensure_partitions(integer, timestamptz[]) IS 'Creates the missing history partitions of a version for the periods holding p_periods (plausible ones only, newest first, at most fs.max_new_partitions()), moving rows out of the default partition; returns how many it created.';

CREATE OR REPLACE FUNCTION fs.drop_expired_partitions(p_version_id integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_retention interval;
    v_part      record;
    v_rows      bigint;
    v_dropped   integer := 0;
    v_cut       timestamptz;
BEGIN
    SELECT retention INTO v_retention FROM fs.feature_view_version WHERE version_id = p_version_id;
    IF v_retention IS NULL THEN
        RETURN 0;
    END IF;
    FOR v_part IN
        SELECT c.relname, (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper_bound
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
          JOIN fs.feature_view_version v ON i.inhparent = format('fs_offline.%I', v.offline_table)::regclass
         WHERE v.version_id = p_version_id AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
    LOOP
        CONTINUE WHEN v_part.upper_bound > now() - v_retention;
        EXECUTE format('SELECT count(*) FROM fs_offline.%I', v_part.relname) INTO v_rows;
        EXECUTE format('DROP TABLE fs_offline.%I', v_part.relname);
        INSERT INTO fs.history_stats (version_id, rows) VALUES (p_version_id, -v_rows);
        INSERT INTO fs.maintenance_log (version_id, action, detail)
        VALUES (p_version_id, 'drop partition', format('%s (%s rows, ended %s, retention %s)',
                                                       v_part.relname, v_rows, v_part.upper_bound, v_retention));
        v_dropped := v_dropped + 1;
        v_cut := greatest(v_cut, v_part.upper_bound);
    END LOOP;
    IF v_cut IS NOT NULL THEN
        PERFORM fs.forget_online_without_history(p_version_id, v_cut);
    END IF;
    RETURN v_dropped;
END
$$;
COMMENT ON FUNCTION fs.drop_expired_partitions(integer) IS 'Drops the history partitions of a version that ended before now() - retention; logs each.';

CREATE OR REPLACE FUNCTION fs.forget_online_without_history(p_version_id integer, p_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v       fs.feature_view_version;
    v_match text;
    v_gone  bigint;
BEGIN
    -- After retention removed history: an online value whose every history row is gone
    -- goes too (only values older than the cut can be affected).
    SELECT * INTO v FROM fs.feature_view_version WHERE version_id = p_version_id;
    v_match := coalesce((SELECT string_agg(format('h.%1$I = o.%1$I', k.name), ' AND ') FROM fs.key_columns(p_version_id) k), 'true');
    EXECUTE format('DELETE FROM fs_online.%1$I o WHERE o.event_ts < %3$L AND NOT EXISTS (SELECT 1 FROM fs_offline.%2$I h WHERE %4$s)',
                   v.online_table, v.offline_table, p_before, v_match);
    GET DIAGNOSTICS v_gone = ROW_COUNT;
    RETURN v_gone;
END
$$;
COMMENT ON FUNCTION fs.forget_online_without_history(integer, timestamptz) IS 'Deletes online values older than p_before whose entity has no history left (after retention).';

CREATE OR REPLACE FUNCTION fs.fold_history_stats(p_version_id integer)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WITH gone AS (DELETE FROM fs.history_stats WHERE version_id = p_version_id RETURNING *)
    INSERT INTO fs.history_stats (version_id, rows, min_event_ts, max_event_ts)
    SELECT p_version_id, sum(rows), min(min_event_ts), max(max_event_ts) FROM gone HAVING count(*) > 0;
END
$$;
COMMENT ON FUNCTION fs.fold_history_stats(integer) IS 'Folds the statistics deltas of a version into one row.';

CREATE OR REPLACE FUNCTION fs.maintain(p_ahead integer DEFAULT 2)
RETURNS TABLE (feature_view text, version integer, partitions_created integer, partitions_dropped integer,
               default_rows_moved bigint, rows_expired bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v        record;
    v_periods timestamptz[];
    v_default text;
BEGIN
    FOR v IN
        SELECT vv.version_id, fv.name, vv.version, vv.offline_table, vv.partition_by, vv.retention
          FROM fs.feature_view_version vv JOIN fs.feature_view fv USING (view_id)
         WHERE vv.status = 'active' ORDER BY fv.name, vv.version
    LOOP
        feature_view := v.name;
        version := v.version;
        partitions_created := 0;
        rows_expired := 0;
        v_default := v.offline_table || '_default';
        -- Rows parked in the default partition: past retention they go, the rest get
        -- partitions of their own (only periods that have rows).
        IF v.retention IS NOT NULL THEN
            EXECUTE format('DELETE FROM fs_offline.%I WHERE event_ts < %L', v_default, now() - v.retention);
            GET DIAGNOSTICS rows_expired = ROW_COUNT;
            IF rows_expired > 0 THEN
                PERFORM fs.forget_online_without_history(v.version_id, now() - v.retention);
                INSERT INTO fs.history_stats (version_id, rows) VALUES (v.version_id, -rows_expired);
                INSERT INTO fs.maintenance_log (version_id, action, detail)
                VALUES (v.version_id, 'expire default rows', format('%s rows older than %s', rows_expired, v.retention));
            END IF;
        END IF;
        EXECUTE format('SELECT count(*) FROM fs_offline.%I', v_default) INTO default_rows_moved;
        EXECUTE format('SELECT array_agg(DISTINCT fs.period_start(%L, event_ts)) FROM fs_offline.%I',
                       v.partition_by, v_default) INTO v_periods;
        partitions_created := partitions_created + fs.ensure_partitions(v.version_id, v_periods);
        -- And partitions ahead, so ingest of current data never has to create one.
        partitions_created := partitions_created + fs.ensure_partitions(
            v.version_id, fs.periods_between(v.partition_by, now(), now() + p_ahead * ('1 ' || v.partition_by)::interval));
        partitions_dropped := fs.drop_expired_partitions(v.version_id);
        PERFORM fs.fold_history_stats(v.version_id);
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION fs.maintain(integer) IS 'Partition upkeep for every active version: expire and adopt default-partition rows, create p_ahead periods ahead, drop partitions past retention, fold stats. fspg maintain and pg_cron call it.';
