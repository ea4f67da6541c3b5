-- 40_tables: the tables and views generated for each feature view version.
-- Owns: fs.create_version_tables, fs.point_current_views, fs.comment_version_tables, fs.comment_current_views.
-- Every object made here is granted here, to the fs_* roles, in the same transaction:
--   fs_offline.<view>__v<N>   history, range-partitioned by event_ts, CHECKs from the rules
--   fs_online.<view>__v<N>    latest value per entity (primary key = entity key)
--   fs_offline.<view>, fs_online.<view>   views over the current version

CREATE OR REPLACE FUNCTION fs.key_columns(p_version_id integer)
RETURNS TABLE (name text, dtype text, sql_type text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.name, k.dtype, fs.sql_type(k.dtype)
      FROM fs.feature_view_version v
      JOIN fs.feature_view fv ON fv.view_id = v.view_id
      JOIN fs.entity_key k ON k.entity_id = fv.entity_id
     WHERE v.version_id = p_version_id
     ORDER BY k.position
$$;
COMMENT ON FUNCTION fs.key_columns(integer) IS 'Entity key columns of a feature view version, in key order (none for a global view).';

CREATE OR REPLACE FUNCTION fs.create_version_tables(p_version_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_offline      text;
    v_online       text;
    v_keys         text[];
    v_key_cols     text;
    v_feature_cols text;
    v_checks       text := '';
    v_check        record;
BEGIN
    SELECT offline_table, online_table INTO v_offline, v_online
      FROM fs.feature_view_version WHERE version_id = p_version_id;

    SELECT array_agg(k.name), string_agg(format('%I %s NOT NULL', k.name, k.sql_type), ', ')
      INTO v_keys, v_key_cols
      FROM fs.key_columns(p_version_id) k;
    v_keys := coalesce(v_keys, '{}');

    SELECT string_agg(format('%I %s', f.name, fs.sql_type(f.dtype)), ', ' ORDER BY f.position)
      INTO v_feature_cols
      FROM fs.feature f WHERE f.version_id = p_version_id;

    FOR v_check IN
        SELECT c.* FROM fs.feature f, fs.feature_constraint(f.name, f.dtype, f.rules) c
         WHERE f.version_id = p_version_id ORDER BY f.position
    LOOP
        v_checks := v_checks || format(', CONSTRAINT %I CHECK (%s)', v_check.constraint_name, v_check.expression);
    END LOOP;
    -- A text key longer than an index entry should hold is refused on every path, as
    -- fs.ingest quarantines it (<key>__max_length).
    SELECT v_checks || coalesce(string_agg(format(', CONSTRAINT %I CHECK (octet_length(%I) <= %s)',
                                                  k.name || '__max_length', k.name, fs.max_key_bytes()), ''), '')
      INTO v_checks
      FROM fs.key_columns(p_version_id) k WHERE k.sql_type = 'text';

    -- History: append-only, bitemporal. A correction is a second row for the same
    -- (entity, event_ts) with a later created_ts; one transaction writes at most one row
    -- per entity and moment (the unique index below), so "newest (event_ts, created_ts)
    -- wins" picks one row for every reader.
    EXECUTE format(
        'CREATE TABLE fs_offline.%I (%s event_ts timestamptz NOT NULL, created_ts timestamptz NOT NULL DEFAULT now(), batch_id bigint, %s,'
        ' CONSTRAINT event_ts__not_before_1970 CHECK (event_ts >= ''1970-01-01 00:00+00''),'
        -- now() in a CHECK: rows only ever get older, so a re-check (a restore) still passes.
        ' CONSTRAINT event_ts__not_in_future CHECK (event_ts <= now() + %L::interval)%s) PARTITION BY RANGE (event_ts)',
        v_offline, coalesce(v_key_cols || ',', ''), v_feature_cols, fs.max_future_skew(), v_checks);
    -- Rows outside every range partition land here instead of failing the write.
    EXECUTE format('CREATE TABLE fs_offline.%I PARTITION OF fs_offline.%I DEFAULT',
                   v_offline || '_default', v_offline);
    -- Newest-first per entity, corrections (ties on event_ts) newest-learned first: the
    -- order of every point-in-time read, so a lookup is one index descent without a sort.
    EXECUTE format('CREATE UNIQUE INDEX ON fs_offline.%I (%s event_ts DESC, created_ts DESC)', v_offline,
                   (SELECT coalesce(string_agg(format('%I, ', k), ''), '') FROM unnest(v_keys) k));

    -- Online: newest value per entity. A global view has one row, keyed by global_key.
    EXECUTE format(
        'CREATE TABLE fs_online.%I (%s, event_ts timestamptz NOT NULL, created_ts timestamptz NOT NULL, %s, PRIMARY KEY (%s))',
        v_online,
        coalesce(v_key_cols, 'global_key boolean NOT NULL DEFAULT true CHECK (global_key)'),
        v_feature_cols,
        CASE WHEN cardinality(v_keys) > 0
             THEN (SELECT string_agg(format('%I', k), ', ') FROM unnest(v_keys) k)
             ELSE 'global_key' END);

    EXECUTE format('GRANT SELECT ON fs_offline.%I TO fs_reader', v_offline);
    -- INSERT (every column but created_ts) is granted by fs.install_history_triggers.
    EXECUTE format('GRANT SELECT ON fs_online.%I TO fs_serving', v_online);

    -- Nearest-neighbour indexes declared on vector features, on the online table.
    FOR v_check IN
        SELECT f ->> 'name' AS name, f #>> '{index,metric}' AS metric
          FROM fs.feature_view_version vv, jsonb_array_elements(vv.definition -> 'features') f
         WHERE vv.version_id = p_version_id AND f ? 'index'
    LOOP
        EXECUTE format('CREATE INDEX ON fs_online.%I USING hnsw (%I %I.%I)', v_online, v_check.name, fs.vector_schema(),
                       CASE v_check.metric WHEN 'cosine' THEN 'vector_cosine_ops' WHEN 'ip' THEN 'vector_ip_ops' ELSE 'vector_l2_ops' END);
    END LOOP;

    PERFORM fs.install_history_triggers(p_version_id);
    PERFORM fs.install_online_sync(p_version_id);
    PERFORM fs.comment_version_tables(p_version_id);
    -- A distributed store distributes each new version as it is made ([F10]).
    IF fs.is_distributed() THEN
        PERFORM fs.distribute_version(p_version_id);
    END IF;
END
$$;
COMMENT ON FUNCTION fs.create_version_tables(integer) IS 'Creates, grants and comments the offline and online tables of a new feature view version.';

CREATE OR REPLACE FUNCTION fs.comment_version_tables(p_version_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_feature record;
    v_key record;
    v_what text;
BEGIN
    SELECT fv.name, fv.description, fv.owner, vv.version, vv.offline_table, vv.online_table, vv.tags
      INTO v
      FROM fs.feature_view_version vv JOIN fs.feature_view fv USING (view_id)
     WHERE vv.version_id = p_version_id;
    v_what := format('%s@%s', v.name, v.version)
           || coalesce(': ' || v.description, '')
           || coalesce(' (owner: ' || v.owner || ')', '')
           || CASE WHEN v.tags <> '{}' THEN ' tags ' || v.tags::text ELSE '' END;
    EXECUTE format('COMMENT ON TABLE fs_offline.%I IS %L', v.offline_table, 'History of ' || v_what);
    EXECUTE format('COMMENT ON TABLE fs_online.%I IS %L', v.online_table, 'Latest values of ' || v_what);
    FOREACH v_what IN ARRAY ARRAY['fs_offline', 'fs_online'] LOOP
        EXECUTE format('COMMENT ON COLUMN %I.%I.event_ts IS %L', v_what,
                       CASE v_what WHEN 'fs_offline' THEN v.offline_table ELSE v.online_table END,
                       'When the value became true (UTC).');
        EXECUTE format('COMMENT ON COLUMN %I.%I.created_ts IS %L', v_what,
                       CASE v_what WHEN 'fs_offline' THEN v.offline_table ELSE v.online_table END,
                       'When the store learned the value (UTC); as-of reads filter on it.');
        FOR v_key IN SELECT * FROM fs.key_columns(p_version_id) LOOP
            EXECUTE format('COMMENT ON COLUMN %I.%I.%I IS %L', v_what,
                           CASE v_what WHEN 'fs_offline' THEN v.offline_table ELSE v.online_table END,
                           v_key.name, format('Entity key (%s).', v_key.dtype));
        END LOOP;
        FOR v_feature IN SELECT * FROM fs.feature WHERE version_id = p_version_id LOOP
            EXECUTE format('COMMENT ON COLUMN %I.%I.%I IS %L', v_what,
                           CASE v_what WHEN 'fs_offline' THEN v.offline_table ELSE v.online_table END,
                           v_feature.name,
                           coalesce(v_feature.description || ' ', '') || format('[%s]', v_feature.dtype)
                           || CASE WHEN v_feature.rules <> '{}' THEN ' rules ' || v_feature.rules::text ELSE '' END);
        END LOOP;
    END LOOP;
    EXECUTE format('COMMENT ON COLUMN fs_offline.%I.batch_id IS %L', v.offline_table,
                   'Ingest batch that wrote the row (NULL for plain SQL writes).');
    IF NOT EXISTS (SELECT FROM fs.key_columns(p_version_id)) THEN
        EXECUTE format('COMMENT ON COLUMN fs_online.%I.global_key IS %L', v.online_table,
                       'Always true: a global view has one online row.');
    END IF;
END
$$;
COMMENT ON FUNCTION fs.comment_version_tables(integer) IS 'Writes COMMENT ON text for the tables and columns of a version, from the catalog.';

CREATE OR REPLACE FUNCTION fs.point_current_views(p_view_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    SELECT fv.name, fv.description, vv.version, vv.version_id, vv.offline_table, vv.online_table INTO v
      FROM fs.feature_view fv
      JOIN fs.feature_view_version vv ON vv.view_id = fv.view_id AND vv.version = fv.current_version
     WHERE fv.view_id = p_view_id;
    -- Columns change between versions, which CREATE OR REPLACE VIEW cannot do.
    EXECUTE format('DROP VIEW IF EXISTS fs_offline.%I', v.name);
    EXECUTE format('DROP VIEW IF EXISTS fs_online.%I', v.name);
    EXECUTE format('CREATE VIEW fs_offline.%I AS SELECT * FROM fs_offline.%I', v.name, v.offline_table);
    -- The online view applies the TTL (expired values read NULL) and shows each value's age.
    EXECUTE format('CREATE VIEW fs_online.%I AS SELECT %s o.event_ts, o.created_ts, now() - o.event_ts AS value_age, %s FROM fs_online.%I o',
                   v.name,
                   (SELECT coalesce(string_agg(format('o.%I, ', k.name), ''), '') FROM fs.key_columns(v.version_id) k),
                   fs.online_columns_sql(v.version_id, 'o'), v.online_table);
    EXECUTE format('GRANT SELECT ON fs_offline.%I TO fs_reader', v.name);
    EXECUTE format('GRANT SELECT ON fs_online.%I TO fs_serving', v.name);
    EXECUTE format('COMMENT ON VIEW fs_offline.%I IS %L', v.name,
                   format('History of %s, current version %s', v.name, v.version) || coalesce(': ' || v.description, ''));
    EXECUTE format('COMMENT ON VIEW fs_online.%I IS %L', v.name,
                   format('Latest values of %s, current version %s', v.name, v.version) || coalesce(': ' || v.description, ''));
    PERFORM fs.comment_current_views(p_view_id);
END
$$;
COMMENT ON FUNCTION fs.point_current_views(integer) IS 'Re-creates fs_offline.<view> and fs_online.<view> over the current version.';

CREATE OR REPLACE FUNCTION fs.comment_current_views(p_view_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_column record;
BEGIN
    SELECT fv.name, vv.offline_table, vv.online_table INTO v
      FROM fs.feature_view fv
      JOIN fs.feature_view_version vv ON vv.view_id = fv.view_id AND vv.version = fv.current_version
     WHERE fv.view_id = p_view_id;
    -- The views' columns say what the served version's columns say (BI tools show the view).
    FOR v_column IN
        SELECT s.schema, a.attname, col_description(a.attrelid, a.attnum) AS description
          FROM (VALUES ('fs_offline', v.offline_table), ('fs_online', v.online_table)) AS s(schema, tab)
          JOIN pg_attribute a ON a.attrelid = format('%I.%I', s.schema, s.tab)::regclass
         WHERE a.attnum > 0 AND NOT a.attisdropped
           AND EXISTS (SELECT FROM pg_attribute b
                        WHERE b.attrelid = format('%I.%I', s.schema, v.name)::regclass AND b.attname = a.attname)
    LOOP
        EXECUTE format('COMMENT ON COLUMN %I.%I.%I IS %L', v_column.schema, v.name, v_column.attname,
                       v_column.description
                       || CASE WHEN v_column.schema = 'fs_online' AND v_column.attname NOT IN ('event_ts', 'created_ts')
                                    AND v_column.description NOT LIKE 'Entity key%' THEN ' NULL once older than the TTL.'
                               ELSE '' END);
    END LOOP;
    EXECUTE format('COMMENT ON COLUMN fs_online.%I.value_age IS %L', v.name, 'How old the value is: now() - event_ts.');
END
$$;
COMMENT ON FUNCTION fs.comment_current_views(integer) IS 'Copies the served version''s column comments onto fs_offline.<view> and fs_online.<view>.';
