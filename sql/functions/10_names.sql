-- 10_names: identifier rules shared by every function that builds SQL.
-- Owns: fs.check_name, the reserved column names, and the SQLSTATE catalogue below.
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
    IF p_name IS NULL OR p_name !~ '^[a-z_][a-z0-9_]{0,47}$' THEN
        RAISE EXCEPTION 'invalid % name %', p_kind, coalesce(quote_literal(p_name), 'NULL')
            USING ERRCODE = 'YF001',
                  DETAIL = 'Names must match ^[a-z_][a-z0-9_]{0,47}$: lower-case letters, digits and underscores, starting with a letter or underscore, at most 48 characters.',
                  HINT = 'Use snake_case, e.g. spend_7d.';
    END IF;
    RETURN p_name;
END
$$;
COMMENT ON FUNCTION fs.check_name(text, text) IS 'Returns the name if it is a valid fspg identifier, else raises YF001.';

CREATE OR REPLACE FUNCTION fs.reserved_columns()
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ARRAY['event_ts', 'created_ts', 'batch_id', 'global_key', 'value_age'] $$;
COMMENT ON FUNCTION fs.reserved_columns() IS 'Column names fspg uses itself in history and online tables; features and keys may not take them.';
