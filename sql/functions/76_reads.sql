-- 76_reads: reading history. The point-in-time rule lives here once, as SQL text the
-- readers (load_batch, history ranges, and later training sets) are built from.
-- Owns: fs.ttl_condition, fs.settle_as_of, fs.load_batch_query, fs.history_query.
-- The *_query functions return a SELECT statement; the client streams it to Arrow,
-- and an analyst can run it with EXECUTE or copy it into a BI tool.

CREATE OR REPLACE FUNCTION fs.ttl_condition(p_ttl interval, p_event text, p_at text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- A value is in effect at p_at if it became true no later than p_at and, with a
    -- TTL, less than ttl before p_at. Offline reads, online reads and training sets all
    -- use this one predicate, so they never disagree about expiry.
    SELECT format('%1$s <= %2$s', p_event, p_at)
        || CASE WHEN p_ttl IS NULL THEN '' ELSE format(' AND %1$s > %2$s - %3$L::interval', p_event, p_at, p_ttl) END
$$;
COMMENT ON FUNCTION fs.ttl_condition(interval, text, text) IS 'SQL predicate "value at p_event is in effect at p_at" under a TTL (none when p_ttl is NULL).';

CREATE OR REPLACE FUNCTION fs.settle_as_of(p_as_of timestamptz, p_timeout interval DEFAULT '30 seconds')
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_deadline timestamptz := clock_timestamp() + p_timeout;
    v_open     text;
BEGIN
    IF p_as_of > clock_timestamp() THEN
        RAISE EXCEPTION 'as_of % is in the future', p_as_of
            USING ERRCODE = 'YF014', HINT = 'as_of is a moment the store has already reached; leave it out for "now".';
    END IF;
    -- created_ts is the writing transaction's start time. A transaction that started
    -- before as_of and commits after it would add rows "created" before as_of later,
    -- so a read as of that moment must wait until all such writers have ended.
    LOOP
        -- pg_stat_activity is a snapshot per transaction unless cleared.
        PERFORM pg_stat_clear_snapshot();
        SELECT string_agg(format('pid %s (since %s)', pid, xact_start), ', ') INTO v_open
          FROM pg_catalog.pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND backend_xid IS NOT NULL AND xact_start <= p_as_of;
        EXIT WHEN v_open IS NULL;
        IF clock_timestamp() > v_deadline THEN
            RAISE EXCEPTION 'as_of % is not settled: writing transactions that started before it are still open: %', p_as_of, v_open
                USING ERRCODE = 'YF014', HINT = 'Wait for them to end, or choose an earlier as_of.';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN p_as_of;
END
$$;
COMMENT ON FUNCTION fs.settle_as_of(timestamptz, interval) IS 'Waits until no writing transaction that began before p_as_of is still open, so reads as of p_as_of are final; raises YF014 for a future as_of or on timeout.';

CREATE OR REPLACE FUNCTION fs.select_list(p_version_id integer, p_features text[], p_alias text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_unknown text;
BEGIN
    SELECT string_agg(x, ', ') INTO v_unknown FROM unnest(p_features) x
     WHERE NOT EXISTS (SELECT 1 FROM fs.feature f WHERE f.version_id = p_version_id AND f.name = x);
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown feature(s) %', v_unknown
            USING ERRCODE = 'YF006',
                  HINT = 'Features: ' || (SELECT string_agg(f.name, ', ' ORDER BY f.position) FROM fs.feature f WHERE f.version_id = p_version_id);
    END IF;
    -- Vectors leave as real[] and numerics as float8, types every Arrow reader knows
    -- (the exact numeric stays in the table for SQL users).
    RETURN (SELECT string_agg(CASE WHEN fs.vector_dimension(f.dtype) IS NOT NULL
                                   THEN format('%s.%I::real[] AS %I', p_alias, f.name, f.name)
                                   WHEN f.dtype IN ('numeric', 'numeric[]')
                                   THEN format('%s.%I::%s AS %I', p_alias, f.name, replace(f.dtype, 'numeric', 'float8'), f.name)
                                   ELSE format('%s.%I', p_alias, f.name) END, ', ' ORDER BY f.position)
              FROM fs.feature f
             WHERE f.version_id = p_version_id AND (p_features IS NULL OR f.name = ANY (p_features)));
END
$$;
COMMENT ON FUNCTION fs.select_list(integer, text[], text) IS 'The feature columns of a version (all, or p_features) for a SELECT over alias p_alias.';

CREATE OR REPLACE FUNCTION fs.load_batch_query(p_view text, p_at timestamptz DEFAULT NULL, p_limit integer DEFAULT NULL,
                                               p_features text[] DEFAULT NULL, p_as_of timestamptz DEFAULT NULL,
                                               p_entities text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version fs.feature_view_version := fs.resolve_version(p_view);
    v_keys    text[];
    v_keylist text;
    v_at      text := CASE WHEN p_at IS NULL THEN 'now()' ELSE format('%L::timestamptz', p_at) END;
    v_where   text;
    v_cols    text;
BEGIN
    IF p_limit IS NOT NULL AND p_limit < 0 THEN
        RAISE EXCEPTION 'limit must be 0 or more, got %', p_limit USING ERRCODE = 'YF015';
    END IF;
    SELECT array_agg(k.name) INTO v_keys FROM fs.key_columns(v_version.version_id) k;
    v_keylist := (SELECT string_agg(format('h.%I', k), ', ') FROM unnest(v_keys) k);
    v_cols := fs.select_list(v_version.version_id, p_features, 'h');
    v_where := fs.ttl_condition(v_version.ttl, 'h.event_ts', v_at)
            || CASE WHEN p_as_of IS NULL THEN '' ELSE format(' AND h.created_ts <= %L::timestamptz', p_as_of) END;

    IF v_keys IS NULL THEN
        -- A global view: the one value in effect.
        RETURN format('SELECT h.event_ts, %s FROM fs_offline.%I h WHERE %s ORDER BY h.event_ts DESC, h.created_ts DESC LIMIT %s',
                      v_cols, v_version.offline_table, v_where, CASE WHEN p_limit = 0 THEN 0 ELSE 1 END);
    END IF;
    IF p_entities IS NOT NULL AND v_version.distributed THEN
        -- On Citus no lateral join reaches a distributed table from a local list: the
        -- newest row per listed entity is found on the workers (DISTINCT ON the
        -- distribution column runs per shard), then joined to the list here.
        RETURN format(
            'SELECT %1$s, h.event_ts, %2$s FROM %3$s e LEFT JOIN ('
            ' SELECT DISTINCT ON (%4$s) * FROM fs_offline.%5$I h WHERE (%4$s) IN (SELECT %6$s FROM %3$s) AND %7$s'
            ' ORDER BY %4$s, h.event_ts DESC, h.created_ts DESC) h ON %8$s ORDER BY e.fs_ord%9$s',
            (SELECT string_agg(format('e.%I', k), ', ') FROM unnest(v_keys) k),
            v_cols, p_entities, v_keylist, v_version.offline_table,
            (SELECT string_agg(format('%I', k), ', ') FROM unnest(v_keys) k), v_where,
            (SELECT string_agg(format('h.%1$I = e.%1$I', k), ' AND ') FROM unnest(v_keys) k),
            coalesce(' LIMIT ' || p_limit, ''));
    END IF;
    IF p_entities IS NOT NULL THEN
        -- Given entities: one row each, in the order given, NULL features where no value
        -- is in effect (as online lookups answer).
        RETURN format(
            'SELECT %s, h.event_ts, %s FROM %s e LEFT JOIN LATERAL ('
            ' SELECT * FROM fs_offline.%I h WHERE %s AND %s ORDER BY h.event_ts DESC, h.created_ts DESC LIMIT 1'
            ') h ON true ORDER BY e.fs_ord%s',
            (SELECT string_agg(format('e.%I', k), ', ') FROM unnest(v_keys) k),
            v_cols, p_entities, v_version.offline_table,
            (SELECT string_agg(format('h.%1$I = e.%1$I', k), ' AND ') FROM unnest(v_keys) k), v_where,
            coalesce(' LIMIT ' || p_limit, ''));
    END IF;
    RETURN format('SELECT DISTINCT ON (%1$s) %1$s, h.event_ts, %2$s FROM fs_offline.%3$I h WHERE %4$s'
                  ' ORDER BY %1$s, h.event_ts DESC, h.created_ts DESC%5$s',
                  v_keylist, v_cols, v_version.offline_table, v_where, coalesce(' LIMIT ' || p_limit, ''));
END
$$;
COMMENT ON FUNCTION fs.load_batch_query(text, timestamptz, integer, text[], timestamptz, text) IS 'SELECT of the values in effect at p_at (default now): newest row per entity with event_ts <= p_at within the TTL, created by p_as_of when given; optionally only the entities in relation p_entities (key columns + fs_ord).';

CREATE OR REPLACE FUNCTION fs.history_query(p_view text, p_start timestamptz DEFAULT NULL, p_end timestamptz DEFAULT NULL,
                                            p_features text[] DEFAULT NULL, p_as_of timestamptz DEFAULT NULL,
                                            p_entities text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version fs.feature_view_version := fs.resolve_version(p_view);
    v_keys    text[];
    v_where   text[] := '{}';
BEGIN
    SELECT array_agg(k.name) INTO v_keys FROM fs.key_columns(v_version.version_id) k;
    IF p_start IS NOT NULL THEN v_where := v_where || format('h.event_ts >= %L::timestamptz', p_start); END IF;
    IF p_end IS NOT NULL THEN v_where := v_where || format('h.event_ts < %L::timestamptz', p_end); END IF;
    IF p_as_of IS NOT NULL THEN v_where := v_where || format('h.created_ts <= %L::timestamptz', p_as_of); END IF;
    IF p_entities IS NOT NULL AND v_keys IS NOT NULL THEN
        v_where := v_where || format('(%s) IN (SELECT %s FROM %s)',
                                     (SELECT string_agg(format('h.%I', k), ', ') FROM unnest(v_keys) k),
                                     (SELECT string_agg(format('%I', k), ', ') FROM unnest(v_keys) k), p_entities);
    END IF;
    RETURN format('SELECT %s h.event_ts, h.created_ts, h.batch_id, %s FROM fs_offline.%I h%s ORDER BY %s h.event_ts, h.created_ts',
                  coalesce((SELECT string_agg(format('h.%I', k), ', ') FROM unnest(v_keys) k) || ',', ''),
                  fs.select_list(v_version.version_id, p_features, 'h'), v_version.offline_table,
                  CASE WHEN cardinality(v_where) > 0 THEN ' WHERE ' || array_to_string(v_where, ' AND ') ELSE '' END,
                  coalesce((SELECT string_agg(format('h.%I', k), ', ') FROM unnest(v_keys) k) || ',', ''));
END
$$;
COMMENT ON FUNCTION fs.history_query(text, timestamptz, timestamptz, text[], timestamptz, text) IS 'SELECT of raw history rows of view[@version] with event_ts in [p_start, p_end), created by p_as_of when given, optionally only for the entities in relation p_entities.';
