-- 10_names: identifier rules shared by every function that builds SQL.
-- Owns: fs.check_name, fs.versioned_name, fs.parse_ref, fs.cdc_name, the reserved column
-- names, and the SQLSTATE catalogue below. Every other file (and the Python client) builds
-- and reads these names through them.
--
-- SQLSTATEs raised by fspg (class YF, mapped to Python in fspg/errors.py):
--   YF001 invalid name            YF005 invalid rule
--   YF002 reserved name           YF006 undefined catalog object
--   YF003 unknown dtype           YF007 pgvector missing
--   YF004 duplicate name          YF008 malformed definition
--   YF010 missing/uncastable batch column
--   YF011 unknown batch column              YF014 as_of in the future / not settled
--   YF012 strict batch rejected             YF015 invalid argument
--   YF016 object in use (deprecation refused)  YF017 conflicting registration
--   YF018 a source query failed             YF019 a source database does not answer

CREATE OR REPLACE FUNCTION fs.check_name(p_kind text, p_name text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- 48 characters leave room for the __v<N> and partition suffixes under 63.
    IF p_name IS NULL OR p_name !~ '^[a-z_][a-z0-9_]*$' OR length(p_name) > 48 THEN
        RAISE EXCEPTION 'invalid % name %', p_kind, coalesce(quote_literal(p_name), 'NULL')
            USING ERRCODE = 'YF001',
                  DETAIL = 'Names must match ^[a-z_][a-z0-9_]{0,47}$: lower-case letters, digits and underscores, starting with a letter or underscore, at most 48 characters.',
                  HINT = 'Use snake_case, e.g. spend_7d.';
    END IF;
    RETURN p_name;
END
$$;
COMMENT ON FUNCTION fs.check_name(text, text) IS 'Returns the name if it is a valid fspg identifier, else raises YF001.';

CREATE OR REPLACE FUNCTION fs.versioned_name(p_name text, p_version integer)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT p_name || '__v' || p_version $$;
COMMENT ON FUNCTION fs.versioned_name(text, integer) IS 'The name of version N of a view, service or training set: <name>__v<N> (tables, functions, views).';

CREATE OR REPLACE FUNCTION fs.parse_ref(p_ref text, p_kind text DEFAULT 'object', OUT name text, OUT version integer)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- Unbounded repetition, then the lengths: a counted one ({0,47}) costs PostgreSQL's
    -- regex engine ~30 us a call, and this runs on every write's path.
    v_parts text[] := regexp_match(p_ref, '^([a-z_][a-z0-9_]*)(?:@([1-9][0-9]*))?$');
BEGIN
    IF v_parts IS NULL OR length(v_parts[1]) > 48 OR length(v_parts[2]) > 9 THEN
        RAISE EXCEPTION 'invalid % reference %', p_kind, coalesce(quote_literal(p_ref), 'NULL')
            USING ERRCODE = 'YF001', HINT = 'Write NAME or NAME@N with N a positive number, e.g. user_stats@2.';
    END IF;
    name := v_parts[1];
    version := v_parts[2]::integer;
END
$$;
COMMENT ON FUNCTION fs.parse_ref(text, text) IS 'Splits NAME or NAME@N into the name and the version (NULL: the current one); YF001 if malformed.';

CREATE OR REPLACE FUNCTION fs.cdc_name(p_source text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 'fspg_cdc_' || fs.check_name('source', p_source) $$;
COMMENT ON FUNCTION fs.cdc_name(text) IS 'The publication, subscription and replication slot name of CDC source p_source.';

CREATE OR REPLACE FUNCTION fs.reserved_columns()
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ARRAY['event_ts', 'created_ts', 'batch_id', 'global_key', 'value_age'] $$;
COMMENT ON FUNCTION fs.reserved_columns() IS 'Column names fspg uses itself in history and online tables; features and keys may not take them.';
