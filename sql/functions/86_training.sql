-- 86_training: point-in-time-correct joins of a spine against feature views, and the
-- named, versioned, reproducible training sets built from them.
-- Owns: fs.newest_rows_join (the join on Citus), fs.relation_columns, fs.is_spine_query, fs.spine_relation, fs.spine_select, fs.check_spine, fs.spine_keys,
--       fs.newest_row_lookup, fs.training_query, fs.training_set_sql, fs.content_hash, fs.create_training_set,
--       fs.check_training_set_name, fs.open_training_spine, fs.store_training_set,
--       fs.training_set_version_of, fs.training_set_query, fs.verify_training_set.
-- A stored spine is the store's table from the start: opened by the owner, filled by the
-- caller's transaction with the caller's rights, sealed by the owner (no SECURITY
-- DEFINER function here reads a relation a caller made).
-- For each spine row and each view: the newest history row with event_ts <= the spine's
-- timestamp and within the view's TTL (fs.ttl_condition, the rule every read uses),
-- created by as_of when given, ties broken by created_ts. Never a value from the future.
-- A stored training set keeps its spine rows and pins view versions and as_of, so its
-- join (the view fs_training.<name>__v<N>) gives the same rows whatever arrives later.

CREATE OR REPLACE FUNCTION fs.relation_columns(p_relation regclass)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}')
      FROM pg_attribute a WHERE a.attrelid = p_relation AND a.attnum > 0 AND NOT a.attisdropped
$$;
COMMENT ON FUNCTION fs.relation_columns(regclass) IS 'The column names of a table or view, in order.';

CREATE OR REPLACE FUNCTION fs.is_spine_query(p_spine text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT p_spine ~* '^\s*(select|with|values|table)\s' $$;
COMMENT ON FUNCTION fs.is_spine_query(text) IS 'Whether a spine argument is a query (SELECT, WITH, VALUES, TABLE) rather than a relation name.';

CREATE OR REPLACE FUNCTION fs.spine_relation(p_spine text)
RETURNS regclass
LANGUAGE plpgsql
SET client_min_messages = warning
-- No SET search_path: a spine query or table name is the caller's and resolves the way
-- the caller's own queries do. Every name below is qualified.
AS $$
BEGIN
    IF fs.is_spine_query(p_spine) THEN
        DROP VIEW IF EXISTS pg_temp.fs_spine_query;
        EXECUTE 'CREATE TEMP VIEW fs_spine_query AS ' || p_spine;
        RETURN 'pg_temp.fs_spine_query'::pg_catalog.regclass;
    END IF;
    RETURN p_spine::pg_catalog.regclass;
EXCEPTION
    WHEN syntax_error OR undefined_table OR undefined_column OR undefined_function OR ambiguous_column
         OR datatype_mismatch OR invalid_name OR invalid_schema_name THEN
        RAISE EXCEPTION 'spine %: %', pg_catalog.left(p_spine, 80), SQLERRM USING ERRCODE = 'YF015',
            HINT = 'A spine is a table or view name, or a SELECT yielding entity keys, a timestamp and labels.';
END
$$;
COMMENT ON FUNCTION fs.spine_relation(text) IS 'The spine as a relation: a table or view name as is, a SELECT/WITH/VALUES query as the temp view pg_temp.fs_spine_query.';

CREATE OR REPLACE FUNCTION fs.spine_select(p_source regclass, p_timestamp_column text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_columns text[] := '{}';
    v_type    text;
    v_col     record;
    v_has_ord boolean := false;
BEGIN
    PERFORM fs.check_name('timestamp column', p_timestamp_column);
    FOR v_col IN
        SELECT a.attname AS name, a.atttypid::regtype::text AS type
          FROM pg_attribute a WHERE a.attrelid = p_source AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
    LOOP
        IF v_col.name = 'fs_ord' THEN
            v_has_ord := true;
            CONTINUE;
        END IF;
        IF v_col.name <> p_timestamp_column THEN
            v_columns := v_columns || format('s.%I', v_col.name);
            CONTINUE;
        END IF;
        v_type := v_col.type;
        -- One instant per row, whatever the input carried: naive times are UTC (as
        -- everywhere in fspg), text may mix offsets and is read per row.
        v_columns := v_columns || CASE v_type
            WHEN 'timestamp with time zone' THEN format('s.%I', v_col.name)
            WHEN 'timestamp without time zone' THEN format('(s.%1$I AT TIME ZONE ''UTC'') AS %1$I', v_col.name)
            WHEN 'date' THEN format('(s.%1$I::timestamp AT TIME ZONE ''UTC'') AS %1$I', v_col.name)
            WHEN 'text' THEN format('(CASE WHEN s.%1$I ~ ''([+-]\d\d(:?\d\d)?|Z)$'' THEN s.%1$I::timestamptz'
                                    ' ELSE s.%1$I::timestamp AT TIME ZONE ''UTC'' END) AS %1$I', v_col.name)
            ELSE NULL END;
        IF v_columns[cardinality(v_columns)] IS NULL THEN
            RAISE EXCEPTION 'spine column % is %, not a timestamp', p_timestamp_column, v_type USING ERRCODE = 'YF010';
        END IF;
    END LOOP;
    IF v_type IS NULL THEN
        RAISE EXCEPTION 'the spine has no timestamp column %', p_timestamp_column
            USING ERRCODE = 'YF010', HINT = 'Name the spine''s timestamp column with timestamp_column.';
    END IF;
    -- A spine's order is its fs_ord when it brings one (a client upload), else the order
    -- the table or query yields.
    RETURN format('SELECT %s, %s AS fs_ord FROM %s s', array_to_string(v_columns, ', '),
                  CASE WHEN v_has_ord THEN 's.fs_ord' ELSE 'row_number() OVER ()' END, p_source);
END
$$;
COMMENT ON FUNCTION fs.spine_select(regclass, text) IS 'SELECT of a spine relation with its timestamp as timestamptz (naive = UTC) and its row order as fs_ord.';

CREATE OR REPLACE FUNCTION fs.spine_keys(p_refs text[])
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(DISTINCT k.name), '{}')
      FROM unnest(p_refs) x, fs.resolve_feature_ref(x) r
      JOIN fs.feature_view fv ON fv.name = r.view_name JOIN fs.entity_key k ON k.entity_id = fv.entity_id
$$;
COMMENT ON FUNCTION fs.spine_keys(text[]) IS 'The entity key columns a spine needs for these feature references.';

CREATE OR REPLACE FUNCTION fs.check_spine(p_source regclass, p_spine text, p_timestamp_column text, p_keys text[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_missing text;
    v_rows    text;
BEGIN
    SELECT string_agg(k, ', ' ORDER BY k) INTO v_missing
      FROM unnest(p_keys) k
     WHERE k <> ALL (fs.relation_columns(p_source));
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'the spine lacks key column(s) % that the requested views need', v_missing USING ERRCODE = 'YF010';
    END IF;
    EXECUTE format('SELECT string_agg(fs_ord::text, '', '' ORDER BY fs_ord) FROM (SELECT fs_ord FROM (%s) s WHERE %s ORDER BY fs_ord LIMIT 11) x',
                   p_spine, (SELECT string_agg(format('s.%I IS NULL', c), ' OR ') FROM unnest(p_timestamp_column || p_keys) c))
       INTO v_rows;
    IF v_rows IS NOT NULL THEN
        RAISE EXCEPTION 'spine rows with a NULL timestamp or key: %', regexp_replace(v_rows, '^((\d+, ){10})\d+$', '\1…')
            USING ERRCODE = 'YF015', HINT = format('Every row needs %s.', array_to_string(p_timestamp_column || p_keys, ', '));
    END IF;
END
$$;
COMMENT ON FUNCTION fs.check_spine(regclass, text, text, text[]) IS 'Raises YF010 when the spine relation lacks a key column the views need, YF015 naming the spine rows (by position) without their timestamp or a key.';

CREATE OR REPLACE FUNCTION fs.newest_row_lookup(p_version_id integer, p_features text[], p_at text,
                                                p_as_of timestamptz DEFAULT NULL, p_portable boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- Partition bounds are read as text and put back as literals: ISO with an offset reads
-- the same in every session.
SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
    v_version  fs.feature_view_version;
    v_where    text;
    v_columns  text;
    v_default  boolean;
    v_branches text;
    v_order    constant text := ' ORDER BY h.event_ts DESC, h.created_ts DESC LIMIT 1';
BEGIN
    SELECT * INTO v_version FROM fs.feature_view_version WHERE version_id = p_version_id;
    v_columns := (SELECT string_agg(format('h.%I', f), ', ') FROM unnest(p_features) f);
    -- The spine's key is cast to the key's type: a CSV spine brings text.
    v_where := coalesce((SELECT string_agg(format('h.%1$I = s.%1$I::%2$s', k.name, k.sql_type), ' AND ') || ' AND '
                           FROM fs.key_columns(p_version_id) k), '')
            || fs.ttl_condition(v_version.ttl, 'h.event_ts', p_at)
            || CASE WHEN p_as_of IS NULL THEN '' ELSE format(' AND h.created_ts <= %L::timestamptz', p_as_of) END;
    IF NOT p_portable THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM fs_offline.%I)', v_version.offline_table || '_default') INTO v_default;
    END IF;
    IF NOT p_portable AND NOT v_default THEN
        -- One branch per range partition, newest first, each skipped outright when the
        -- partition starts after the spine's moment (or ends before its TTL window); the
        -- first branch with a row answers. On the partitioned parent PostgreSQL would probe
        -- every older partition and merge them: this is about twice as fast.
        SELECT string_agg(format('(SELECT %s FROM fs_offline.%I h WHERE %s >= %L::timestamptz%s AND %s%s)',
                                 v_columns, p.relname, p_at, p.bounds[1],
                                 CASE WHEN v_version.ttl IS NULL THEN ''
                                      ELSE format(' AND %s < %L::timestamptz + %L::interval', p_at, p.bounds[2], v_version.ttl) END,
                                 v_where, v_order),
                          ' UNION ALL ' ORDER BY p.bounds[1]::timestamptz DESC)
          INTO v_branches
          FROM (SELECT c.relname, regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') AS bounds
                  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = format('fs_offline.%I', v_version.offline_table)::regclass) p
         WHERE p.bounds IS NOT NULL;
    END IF;
    IF v_branches IS NOT NULL THEN
        RETURN format('SELECT * FROM (%s) u LIMIT 1', v_branches);
    END IF;
    -- Rows in the default partition can be of any time, and a view outlives today's
    -- partitions: the parent table answers for both.
    RETURN format('SELECT %s FROM fs_offline.%I h WHERE %s%s', v_columns, v_version.offline_table, v_where, v_order);
END
$$;
COMMENT ON FUNCTION fs.newest_row_lookup(integer, text[], text, timestamptz, boolean) IS 'The LATERAL subquery that finds, for a spine row (p_at = its moment), the newest history row of a view version in effect then: per partition, newest first, unless the default partition holds rows or p_portable asks for SQL that outlives today''s partitions.';

CREATE OR REPLACE FUNCTION fs.newest_rows_join(p_version_id integer, p_features text[], p_spine text, p_timestamp_column text,
                                               p_as_of timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version fs.feature_view_version;
    v_column  text := fs.distribution_column(p_version_id);
BEGIN
    -- The point-in-time join on Citus, where no lateral join reaches a distributed table
    -- from the spine: every spine row is joined to its entity's history in effect then,
    -- and the newest per spine row kept. DISTINCT ON leads with the distribution column,
    -- so each worker does it for its own shards (the spine is sent to every worker).
    SELECT * INTO v_version FROM fs.feature_view_version WHERE version_id = p_version_id;
    RETURN format('SELECT DISTINCT ON (h.%1$I, x.fs_ord) x.fs_ord, %2$s FROM %3$s x JOIN fs_offline.%4$I h ON %5$s'
                  ' ORDER BY h.%1$I, x.fs_ord, h.event_ts DESC, h.created_ts DESC',
                  v_column,
                  (SELECT string_agg(format('h.%I', f), ', ') FROM unnest(p_features) f),
                  p_spine, v_version.offline_table,
                  (SELECT string_agg(format('h.%1$I = x.%1$I::%2$s', k.name, k.sql_type), ' AND ') FROM fs.key_columns(p_version_id) k)
                  || ' AND ' || fs.ttl_condition(v_version.ttl, 'h.event_ts', format('x.%I', p_timestamp_column))
                  || CASE WHEN p_as_of IS NULL THEN '' ELSE format(' AND h.created_ts <= %L::timestamptz', p_as_of) END);
END
$$;
COMMENT ON FUNCTION fs.newest_rows_join(integer, text[], text, text, timestamptz) IS 'The point-in-time join of a distributed view version (Citus): for every spine row (by fs_ord), the newest history row in effect at its moment, found on the workers.';

-- Earlier forms (0.1 had five arguments) would make calls ambiguous.
DROP FUNCTION IF EXISTS fs.training_query(text[], text, text, timestamptz, text[]);
DROP FUNCTION IF EXISTS fs.training_query(text[], text, text, timestamptz, text[], boolean);
CREATE OR REPLACE FUNCTION fs.training_query(p_refs text[], p_spine text, p_timestamp_column text DEFAULT 'event_ts',
                                             p_as_of timestamptz DEFAULT NULL, p_spine_columns text[] DEFAULT NULL,
                                             p_with_ord boolean DEFAULT false, p_portable boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    v_ids     integer[];
    v_view    record;
    v_i       integer := 0;
    v_alias   text;
    v_select  text[] := '{}';
    v_joins   text := '';
    v_missing text;
    v_features fs.work_feature[];
BEGIN
    IF p_refs IS NULL OR cardinality(p_refs) = 0 THEN
        RAISE EXCEPTION 'no features requested' USING ERRCODE = 'YF015';
    END IF;
    PERFORM fs.check_name('timestamp column', p_timestamp_column);
    SELECT array_agg(r.feature_id ORDER BY t.ord, r.feature_id) INTO v_ids
      FROM unnest(p_refs) WITH ORDINALITY AS t(ref, ord), fs.resolve_feature_ref(t.ref) r;
    -- An array, not a temp table: SECURITY DEFINER callers must not meet a caller's table.
    v_features := fs.work_features(v_ids);
    IF (SELECT count(DISTINCT version_id) FROM unnest(v_features)) <> (SELECT count(DISTINCT view_name) FROM unnest(v_features)) THEN
        RAISE EXCEPTION 'the request mixes versions of one feature view' USING ERRCODE = 'YF008';
    END IF;
    -- Every key the views need must be a spine column.
    SELECT string_agg(DISTINCT k.name, ', ') INTO v_missing
      FROM unnest(v_features) s JOIN fs.feature_view_version vv ON vv.version_id = s.version_id
      JOIN fs.feature_view fv ON fv.view_id = vv.view_id JOIN fs.entity_key k ON k.entity_id = fv.entity_id
     WHERE p_spine_columns IS NOT NULL AND k.name <> ALL (p_spine_columns);
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'the spine lacks key column(s) % that the requested views need', v_missing USING ERRCODE = 'YF010';
    END IF;

    FOR v_view IN
        SELECT s.version_id, s.view_name, vv.offline_table, vv.ttl, vv.distributed, min(s.ord) AS first
          FROM unnest(v_features) s JOIN fs.feature_view_version vv ON vv.version_id = s.version_id
         GROUP BY 1, 2, 3, 4, 5 ORDER BY first
    LOOP
        v_i := v_i + 1;
        v_alias := 'v' || v_i;
        IF v_view.distributed THEN
            v_joins := v_joins || format(' LEFT JOIN (%s) %s ON %s.fs_ord = s.fs_ord',
                fs.newest_rows_join(v_view.version_id, ARRAY(SELECT f.feature FROM unnest(v_features) f WHERE f.version_id = v_view.version_id),
                                    p_spine, p_timestamp_column, p_as_of),
                v_alias, v_alias);
        ELSE
            v_joins := v_joins || format(' LEFT JOIN LATERAL (%s) %s ON true',
                fs.newest_row_lookup(v_view.version_id, ARRAY(SELECT f.feature FROM unnest(v_features) f WHERE f.version_id = v_view.version_id),
                                     format('s.%I', p_timestamp_column), p_as_of, p_portable),
                v_alias);
        END IF;
        SELECT v_select || array_agg(format('%s.%I AS %I', v_alias, s.feature,
                   CASE WHEN (SELECT count(DISTINCT o.view_name) FROM unnest(v_features) o WHERE o.feature = s.feature) > 1
                        THEN s.view_name || '__' || s.feature ELSE s.feature END) ORDER BY s.ord)
          INTO v_select
          FROM unnest(v_features) s WHERE s.version_id = v_view.version_id;
    END LOOP;
    RETURN format('SELECT %s, %s%s FROM %s s%s ORDER BY s.fs_ord',
                  coalesce((SELECT string_agg(format('s.%I', c), ', ') FROM unnest(p_spine_columns) c WHERE c <> 'fs_ord'), 's.*'),
                  array_to_string(v_select, ', '), CASE WHEN p_with_ord THEN ', s.fs_ord' ELSE '' END, p_spine, v_joins);
END
$$;
COMMENT ON FUNCTION fs.training_query(text[], text, text, timestamptz, text[], boolean, boolean) IS 'SELECT of a point-in-time-correct training set: the spine relation (its columns, in its fs_ord order) joined to the requested features as they were at each row''s timestamp; p_portable for SQL that must outlive today''s partitions (a view).';

CREATE OR REPLACE FUNCTION fs.training_set_sql(p_spine text, p_features text[], p_timestamp_column text DEFAULT 'event_ts',
                                               p_as_of timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET client_min_messages = warning
-- No SET search_path: the spine is the caller's (see fs.spine_relation).
AS $$
DECLARE
    v_source  regclass := fs.spine_relation(p_spine);
    v_spine   text := fs.spine_select(v_source, p_timestamp_column);
BEGIN
    IF p_as_of IS NOT NULL THEN
        PERFORM fs.settle_as_of(p_as_of);
    END IF;
    PERFORM fs.check_spine(v_source, v_spine, p_timestamp_column, fs.spine_keys(p_features));
    RETURN fs.training_query(p_features, '(' || v_spine || ')', p_timestamp_column, p_as_of, fs.relation_columns(v_source));
END
$$;
COMMENT ON FUNCTION fs.training_set_sql(text, text[], text, timestamptz) IS 'The SELECT of a point-in-time-correct training set for a spine given as a table, a view or a query (checked: no NULL timestamps or keys); run it in the same session (psql: \gexec).';

CREATE OR REPLACE FUNCTION fs.content_hash(p_query text)
RETURNS TABLE (row_count bigint, content_hash text)
LANGUAGE plpgsql
-- Rows are hashed as their text: these settings make that text the same in every session.
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET DateStyle = 'ISO, YMD'
SET IntervalStyle = 'postgres'
SET extra_float_digits = 1
AS $$
BEGIN
    -- Hash the column names and types, then every row in fs_ord order. Rows are hashed in
    -- blocks of 65,536 so no intermediate string grows with the result.
    RETURN QUERY EXECUTE format(
        'WITH block AS (SELECT t.fs_ord / 65536 AS b, count(*) AS n,'
        '                      md5(string_agg(md5(t::text), '''' ORDER BY t.fs_ord)) AS h'
        '                 FROM (%s) t GROUP BY 1)'
        ' SELECT coalesce(sum(n), 0)::bigint, md5(%L || coalesce(string_agg(h, '''' ORDER BY b), '''')) FROM block',
        p_query, fs.query_signature(p_query));
END
$$;
COMMENT ON FUNCTION fs.content_hash(text) IS 'Row count and md5 fingerprint of a query''s rows (in fs_ord order) and column names and types; stable across sessions and servers.';

CREATE OR REPLACE FUNCTION fs.query_signature(p_query text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    v_signature text;
BEGIN
    -- Created fresh and dropped here (never IF EXISTS): it may run as the owner inside
    -- fs.store_training_set, where a caller's object of that name must not be used.
    EXECUTE 'CREATE TEMP VIEW fs_signature_probe AS ' || p_query;
    SELECT string_agg(format('%s %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum) INTO v_signature
      FROM pg_attribute a WHERE a.attrelid = 'pg_temp.fs_signature_probe'::regclass AND a.attnum > 0;
    DROP VIEW pg_temp.fs_signature_probe;
    RETURN v_signature;
END
$$;
COMMENT ON FUNCTION fs.query_signature(text) IS 'The column names and types a query yields, as text.';

CREATE OR REPLACE FUNCTION fs.training_set_version_of(p_name text, p_version integer DEFAULT NULL)
RETURNS fs.training_set_version
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row fs.training_set_version;
BEGIN
    SELECT tv.* INTO v_row FROM fs.training_set t JOIN fs.training_set_version tv USING (training_set_id)
     WHERE t.name = p_name AND tv.version = coalesce(p_version, t.current_version);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'training set % does not exist', p_name || coalesce('@' || p_version, '')
            USING ERRCODE = 'YF006', HINT = 'fspg training-set ls lists them; create_training_set makes one.';
    END IF;
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION fs.training_set_version_of(text, integer) IS 'The catalog row of training set name@version (the current version when version is NULL); YF006 when missing.';

CREATE OR REPLACE FUNCTION fs.check_training_set_name(p_name text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM fs.check_name('training set', p_name);
    IF p_name LIKE '%\_\_%' THEN
        RAISE EXCEPTION 'invalid training set name %', p_name
            USING ERRCODE = 'YF001', DETAIL = 'A double underscore separates a training set from its version.';
    END IF;
    RETURN p_name;
END
$$;
COMMENT ON FUNCTION fs.check_training_set_name(text) IS 'A valid training set name (fs.check_name, and no __, which separates it from its version), or YF001.';

CREATE OR REPLACE FUNCTION fs.open_training_spine(p_name text, p_columns text[], p_types oid[], p_typmods integer[])
RETURNS TABLE (version integer, spine_table text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_name    text := fs.check_training_set_name(p_name);
    v_bad     text;
    v_version integer;
    v_table   text;
BEGIN
    IF p_columns IS NULL OR cardinality(p_columns) = 0 OR cardinality(p_columns) <> cardinality(p_types)
       OR cardinality(p_columns) <> cardinality(p_typmods) OR NOT 'fs_ord' = ANY (p_columns) THEN
        RAISE EXCEPTION 'a training spine needs its columns, their types and fs_ord' USING ERRCODE = 'YF015';
    END IF;
    PERFORM fs.check_name('spine column', c) FROM unnest(p_columns) c;
    -- Built-in types (and pgvector's) only: a type a caller made could run its code as
    -- the owner when the table is written or read.
    SELECT string_agg(format('%s (%s)', c.name, coalesce(format_type(c.typ, NULL), c.typ::text)), ', ') INTO v_bad
      FROM unnest(p_columns, p_types) AS c(name, typ)
      LEFT JOIN pg_type t ON t.oid = c.typ
     WHERE t.oid IS NULL OR NOT fs.is_trusted_type(t.oid);
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'spine column(s) % have a type fspg does not store', v_bad
            USING ERRCODE = 'YF010', HINT = 'Cast spine columns to built-in types (bigint, text, timestamptz, numeric, ...).';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('fspg.training_set:' || v_name));
    SELECT coalesce(max(tv.version), 0) + 1 INTO v_version
      FROM fs.training_set t JOIN fs.training_set_version tv USING (training_set_id) WHERE t.name = v_name;
    v_table := fs.versioned_name(v_name, v_version) || '__spine';
    -- Created fresh (never IF NOT EXISTS): the table is the store's, and only this
    -- transaction, which cannot be seen by others until it commits, may fill it.
    EXECUTE format('CREATE TABLE fs_training.%I (%s)', v_table,
                   (SELECT string_agg(format('%I %s', c.name, format_type(c.typ, c.mod)), ', ' ORDER BY c.ord)
                      FROM unnest(p_columns, p_types, p_typmods) WITH ORDINALITY AS c(name, typ, mod, ord)));
    EXECUTE format('GRANT INSERT ON fs_training.%I TO fs_writer', v_table);
    RETURN QUERY SELECT v_version, v_table;
END
$$;
COMMENT ON FUNCTION fs.open_training_spine(text, text[], oid[], integer[]) IS 'Makes the spine table of training set name@N (N the next version) for the caller''s transaction to fill; fs.store_training_set then seals it.';

CREATE OR REPLACE FUNCTION fs.store_training_set(p_name text, p_version integer, p_timestamp_column text, p_refs text[],
                                                 p_as_of timestamptz, p_spine_source text, p_description text,
                                                 p_as_of_default boolean DEFAULT false)
RETURNS TABLE (name text, version integer, action text, row_count bigint, content_hash text, as_of timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
#variable_conflict use_column
DECLARE
    v_name       text := fs.check_training_set_name(p_name);
    v_table      text := fs.versioned_name(p_name, p_version);
    v_spine      regclass;
    v_spine_hash text;
    v_existing   fs.training_set_version;
    v_columns    text[];
    v_hash       record;
    v_hashed     boolean := false;
    v_set_id     integer;
    v_version_id integer;
BEGIN
    -- Only a spine fs.open_training_spine made in this transaction and not yet stored:
    -- never another set's tables, never a relation a caller made.
    v_spine := to_regclass(format('fs_training.%I', v_table || '__spine'));
    IF v_spine IS NULL OR (SELECT c.relowner <> (SELECT n.nspowner FROM pg_namespace n WHERE n.nspname = 'fs_training')
                             FROM pg_class c WHERE c.oid = v_spine)
       OR EXISTS (SELECT 1 FROM fs.training_set_version tv WHERE tv.spine_table = v_table || '__spine')
       OR (SELECT coalesce(max(tv.version), 0) + 1 FROM fs.training_set t JOIN fs.training_set_version tv USING (training_set_id)
            WHERE t.name = v_name) <> p_version THEN
        RAISE EXCEPTION 'training set %@% has no open spine', v_name, p_version
            USING ERRCODE = 'YF015', HINT = 'fs.create_training_set opens, fills and stores a spine in one call.';
    END IF;
    EXECUTE format('REVOKE INSERT ON fs_training.%I FROM fs_writer', v_table || '__spine');
    SELECT h.content_hash INTO v_spine_hash
      FROM fs.content_hash(format('SELECT * FROM fs_training.%I', v_table || '__spine')) h;
    -- The same definition (spine rows, pinned features, as_of) is the same version.
    SELECT tv.* INTO v_existing
      FROM fs.training_set t JOIN fs.training_set_version tv USING (training_set_id)
     WHERE t.name = v_name AND tv.refs = p_refs AND tv.timestamp_column = p_timestamp_column
       AND tv.spine_hash = v_spine_hash AND tv.as_of = p_as_of
     ORDER BY tv.version DESC LIMIT 1;
    IF NOT FOUND AND p_as_of_default THEN
        -- as_of left to "now" (a notebook run again): the same spine and features giving the
        -- same rows as a stored version are that version, not N+1 with the same hash.
        v_columns := fs.relation_columns(v_spine);
        SELECT * INTO v_hash FROM fs.content_hash(
            fs.training_query(p_refs, format('fs_training.%I', v_table || '__spine'), p_timestamp_column, p_as_of, v_columns, true));
        v_hashed := true;
        SELECT tv.* INTO v_existing
          FROM fs.training_set t JOIN fs.training_set_version tv USING (training_set_id)
         WHERE t.name = v_name AND tv.refs = p_refs AND tv.timestamp_column = p_timestamp_column
           AND tv.spine_hash = v_spine_hash AND tv.content_hash = v_hash.content_hash AND tv.row_count = v_hash.row_count
         ORDER BY tv.version DESC LIMIT 1;
    END IF;
    IF FOUND THEN
        EXECUTE format('DROP TABLE fs_training.%I', v_table || '__spine');
        RETURN QUERY SELECT v_name, v_existing.version, 'unchanged'::text, v_existing.row_count, v_existing.content_hash, v_existing.as_of;
        RETURN;
    END IF;

    EXECUTE format('ALTER TABLE fs_training.%I ADD PRIMARY KEY (fs_ord)', v_table || '__spine');
    EXECUTE format('ANALYZE fs_training.%I', v_table || '__spine');
    v_columns := fs.relation_columns(v_spine);
    EXECUTE format('CREATE VIEW fs_training.%I AS %s', v_table,
        fs.training_query(p_refs, format('fs_training.%I', v_table || '__spine'), p_timestamp_column, p_as_of, v_columns,
                          p_portable => true));
    EXECUTE format('DROP VIEW IF EXISTS fs_training.%I', v_name);
    EXECUTE format('CREATE VIEW fs_training.%I AS SELECT * FROM fs_training.%I', v_name, v_table);
    EXECUTE format('GRANT SELECT ON fs_training.%I, fs_training.%I, fs_training.%I TO fs_reader', v_table || '__spine', v_table, v_name);
    EXECUTE format('COMMENT ON TABLE fs_training.%I IS %L', v_table || '__spine',
                   format('Spine of training set %s@%s (from %s), in its row order fs_ord.', v_name, p_version, p_spine_source));
    EXECUTE format('COMMENT ON VIEW fs_training.%I IS %L', v_table,
                   format('Training set %s@%s: %s as of %s.', v_name, p_version, array_to_string(p_refs, ', '), p_as_of));
    EXECUTE format('COMMENT ON VIEW fs_training.%I IS %L', v_name, format('Training set %s, current version (%s).', v_name, p_version));

    IF NOT v_hashed THEN
        SELECT * INTO v_hash FROM fs.content_hash(
            fs.training_query(p_refs, format('fs_training.%I', v_table || '__spine'), p_timestamp_column, p_as_of, v_columns, true));
    END IF;

    INSERT INTO fs.training_set (name, description) VALUES (v_name, p_description)
    ON CONFLICT (name) DO UPDATE SET description = coalesce(EXCLUDED.description, fs.training_set.description)
    RETURNING training_set_id INTO v_set_id;
    INSERT INTO fs.training_set_version (training_set_id, version, refs, timestamp_column, spine_source, spine_table,
                                         spine_hash, as_of, row_count, content_hash, created_by)
    VALUES (v_set_id, p_version, p_refs, p_timestamp_column, p_spine_source, v_table || '__spine', v_spine_hash, p_as_of,
            v_hash.row_count, v_hash.content_hash, session_user)
    RETURNING ts_version_id INTO v_version_id;
    INSERT INTO fs.training_set_feature (ts_version_id, position, feature_id)
    SELECT v_version_id, p.ord, p.feature_id
      FROM fs.pinned_refs(p_refs) WITH ORDINALITY AS p(feature_id, ref, view_name, view_version, ord);
    UPDATE fs.training_set SET current_version = p_version WHERE training_set_id = v_set_id;
    INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)
    SELECT DISTINCT 'feature_view', format('%s@%s', fv.name, vv.version), 'training_set', format('%s@%s', v_name, p_version)
      FROM fs.training_set_feature tf JOIN fs.feature f USING (feature_id)
      JOIN fs.feature_view_version vv USING (version_id) JOIN fs.feature_view fv USING (view_id)
     WHERE tf.ts_version_id = v_version_id
    ON CONFLICT DO NOTHING;
    RETURN QUERY SELECT v_name, p_version, 'create'::text, v_hash.row_count, v_hash.content_hash, p_as_of;
END
$$;
COMMENT ON FUNCTION fs.store_training_set(text, integer, text, text[], timestamptz, text, text, boolean) IS 'Seals the spine fs.open_training_spine made and the caller filled as training set name@N, with its join view, content hash and catalog rows; drops it and returns the existing version when the definition is the same.';

CREATE OR REPLACE FUNCTION fs.create_training_set(p_name text, p_spine text, p_features text[],
                                                  p_timestamp_column text DEFAULT 'event_ts',
                                                  p_as_of timestamptz DEFAULT NULL, p_description text DEFAULT NULL)
RETURNS TABLE (name text, version integer, action text, row_count bigint, content_hash text, as_of timestamptz)
LANGUAGE plpgsql
SET client_min_messages = warning
-- Runs as the caller (no SET search_path either): the spine is read with the caller's
-- rights and names into a table the store made for it, which fs.store_training_set
-- then seals as the owner.
AS $$
DECLARE
    v_name   text := fs.check_training_set_name(p_name);
    v_as_of  timestamptz := coalesce(p_as_of, pg_catalog.clock_timestamp());
    v_refs   text[];
    v_source regclass;
    v_spine  text;
    v_open   record;
BEGIN
    IF p_features IS NULL OR pg_catalog.cardinality(p_features) = 0 THEN
        RAISE EXCEPTION 'no features requested' USING ERRCODE = 'YF015';
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('fspg.training_set:' || v_name));
    PERFORM fs.settle_as_of(v_as_of);
    -- Pin the references: view@version.feature, whatever is current later.
    v_refs := ARRAY(SELECT p.ref FROM fs.pinned_refs(p_features) p);
    v_source := fs.spine_relation(p_spine);
    v_spine := fs.spine_select(v_source, p_timestamp_column);
    PERFORM fs.check_spine(v_source, v_spine, p_timestamp_column, fs.spine_keys(v_refs));
    -- The spine's shape, from a view of the query (names and types from the catalog).
    EXECUTE 'CREATE TEMP VIEW fs_spine_shape AS ' || v_spine;
    SELECT o.* INTO v_open
      FROM (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum) AS names,
                   pg_catalog.array_agg(a.atttypid ORDER BY a.attnum) AS types,
                   pg_catalog.array_agg(a.atttypmod ORDER BY a.attnum) AS typmods
              FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = 'pg_temp.fs_spine_shape'::pg_catalog.regclass AND a.attnum > 0) c,
           fs.open_training_spine(v_name, c.names, c.types, c.typmods) o;
    DROP VIEW pg_temp.fs_spine_shape;
    EXECUTE pg_catalog.format('INSERT INTO fs_training.%I SELECT * FROM (%s) s ORDER BY s.fs_ord', v_open.spine_table, v_spine);
    RETURN QUERY SELECT * FROM fs.store_training_set(v_name, v_open.version, p_timestamp_column, v_refs, v_as_of,
        CASE WHEN fs.is_spine_query(p_spine) THEN p_spine
             WHEN (SELECT c.relpersistence FROM pg_catalog.pg_class c WHERE c.oid = v_source) = 't' THEN 'client upload'
             ELSE 'table ' || v_source::text END,
        p_description, p_as_of IS NULL);
END
$$;
COMMENT ON FUNCTION fs.create_training_set(text, text, text[], text, timestamptz, text) IS 'Builds training set name@N: stores the spine (a table, a view or a SELECT), pins the features and as_of (default: now, settled), and records the join''s row count and content hash. The same definition again returns the existing version.';

CREATE OR REPLACE FUNCTION fs.training_set_query(p_name text, p_version integer DEFAULT NULL, p_with_ord boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row fs.training_set_version := fs.training_set_version_of(p_name, p_version);
BEGIN
    -- The same rows as the view fs_training.<name>__v<N>, by the faster per-partition
    -- lookups of today's partitions (the view keeps the form that outlives them).
    RETURN fs.training_query(v_row.refs, format('fs_training.%I', v_row.spine_table), v_row.timestamp_column, v_row.as_of,
                             fs.relation_columns(format('fs_training.%I', v_row.spine_table)::regclass), p_with_ord);
END
$$;
COMMENT ON FUNCTION fs.training_set_query(text, integer, boolean) IS 'The SELECT that rebuilds training set name@version (the current one when version is NULL).';

CREATE OR REPLACE FUNCTION fs.verify_training_set(p_name text, p_version integer DEFAULT NULL)
RETURNS TABLE (name text, version integer, row_count bigint, content_hash text, recorded_hash text, identical boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_row  fs.training_set_version := fs.training_set_version_of(p_name, p_version);
    v_hash record;
BEGIN
    SELECT * INTO v_hash FROM fs.content_hash(fs.training_set_query(p_name, v_row.version, true));
    RETURN QUERY SELECT p_name, v_row.version, v_hash.row_count, v_hash.content_hash, v_row.content_hash,
                        v_hash.content_hash = v_row.content_hash AND v_hash.row_count = v_row.row_count;
END
$$;
COMMENT ON FUNCTION fs.verify_training_set(text, integer) IS 'Rebuilds training set name@version and compares its content hash with the one recorded at creation.';
