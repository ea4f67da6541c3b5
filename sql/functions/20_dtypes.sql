-- 20_dtypes: the feature and key data types fspg accepts and their SQL types.
-- Owns: fs.normalize_dtype, fs.sql_type, fs.vector_dimension, fs.is_trusted_type,
--       fs.trusted_type (type names from callers or stored rows, read through the catalog).
-- A dtype is written the way users write it in a definitions file (float8, vector(16),
-- text[]); normalize_dtype turns aliases into one spelling so versions compare equal.

CREATE OR REPLACE FUNCTION fs.normalize_dtype(p_dtype text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_dtype text := lower(regexp_replace(coalesce(p_dtype, ''), '\s+', '', 'g'));
    v_base  text;
    v_array boolean := false;
    v_dim   bigint;
BEGIN
    IF v_dtype LIKE '%[]' THEN
        v_array := true;
        v_base := left(v_dtype, -2);
    ELSE
        v_base := v_dtype;
    END IF;

    IF v_base ~ '^vector\(\d{1,9}\)$' THEN
        v_dim := substring(v_base FROM '\d+')::bigint;
        IF v_dim < 1 OR v_dim > 16000 THEN
            RAISE EXCEPTION 'vector dimension % is out of range', v_dim
                USING ERRCODE = 'YF005',
                      DETAIL = 'pgvector stores vectors of 1 to 16000 dimensions.',
                      HINT = 'Declare e.g. vector(16).';
        END IF;
        IF v_array THEN
            RAISE EXCEPTION 'arrays of vectors are not supported: %', p_dtype USING ERRCODE = 'YF003';
        END IF;
        RETURN format('vector(%s)', v_dim);
    END IF;

    v_base := CASE v_base
        WHEN 'bool' THEN 'bool'  WHEN 'boolean' THEN 'bool'
        WHEN 'int' THEN 'int'    WHEN 'int4' THEN 'int'   WHEN 'integer' THEN 'int'
        WHEN 'bigint' THEN 'bigint' WHEN 'int8' THEN 'bigint'
        WHEN 'float4' THEN 'float4' WHEN 'real' THEN 'float4'
        WHEN 'float8' THEN 'float8' WHEN 'float' THEN 'float8' WHEN 'doubleprecision' THEN 'float8'
        WHEN 'numeric' THEN 'numeric'
        WHEN 'text' THEN 'text'  WHEN 'string' THEN 'text'
        WHEN 'timestamp' THEN 'timestamp' WHEN 'timestamptz' THEN 'timestamp'
        WHEN 'date' THEN 'date'
        WHEN 'uuid' THEN 'uuid'
        WHEN 'jsonb' THEN 'jsonb' WHEN 'json' THEN 'jsonb'
        ELSE NULL
    END;
    IF v_base IS NULL THEN
        RAISE EXCEPTION 'unknown dtype %', quote_literal(coalesce(p_dtype, ''))
            USING ERRCODE = 'YF003',
                  DETAIL = 'Known dtypes: bool, int, bigint, float4, float8, numeric, text, timestamp, date, uuid, jsonb, vector(n), and arrays of the scalar ones such as float8[].',
                  HINT = 'Timestamps are always stored with time zone (UTC).';
    END IF;
    RETURN v_base || CASE WHEN v_array THEN '[]' ELSE '' END;
END
$$;
COMMENT ON FUNCTION fs.normalize_dtype(text) IS 'Canonical spelling of a feature dtype; raises YF003 for unknown ones and YF005 for bad vector dimensions.';

CREATE OR REPLACE FUNCTION fs.vector_dimension(p_dtype text)
RETURNS integer
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT substring(p_dtype FROM '^vector\((\d+)\)$')::integer $$;
COMMENT ON FUNCTION fs.vector_dimension(text) IS 'The dimension of a vector(n) dtype, NULL for other dtypes.';

CREATE OR REPLACE FUNCTION fs.sql_type(p_dtype text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_dtype  text := fs.normalize_dtype(p_dtype);
    v_schema text;
    v_base   text := replace(v_dtype, '[]', '');
BEGIN
    IF fs.vector_dimension(v_dtype) IS NOT NULL THEN
        SELECT n.nspname INTO v_schema
          FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'vector';
        IF v_schema IS NULL THEN
            RAISE EXCEPTION 'dtype % needs the pgvector extension, which is not installed in this database', v_dtype
                USING ERRCODE = 'YF007',
                      HINT = 'Install pgvector on the server and run CREATE EXTENSION vector (the embedded server has it), or remove vector features.';
        END IF;
        RETURN format('%I.vector(%s)', v_schema, fs.vector_dimension(v_dtype));
    END IF;
    RETURN CASE v_base
        WHEN 'timestamp' THEN 'timestamptz'
        WHEN 'int' THEN 'integer'
        WHEN 'bool' THEN 'boolean'
        ELSE v_base
    END || CASE WHEN v_dtype LIKE '%[]' THEN '[]' ELSE '' END;
END
$$;
COMMENT ON FUNCTION fs.sql_type(text) IS 'The PostgreSQL column type of a dtype (timestamp is timestamptz; vector is schema-qualified pgvector).';

CREATE OR REPLACE FUNCTION fs.is_numeric_dtype(p_dtype text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT p_dtype IN ('int', 'bigint', 'float4', 'float8', 'numeric') $$;
COMMENT ON FUNCTION fs.is_numeric_dtype(text) IS 'True for dtypes that min/max rules apply to.';

CREATE OR REPLACE FUNCTION fs.is_valid_input(p_value text, p_type text)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_value IS NULL THEN
        RETURN true;
    END IF;
    IF current_setting('server_version_num')::integer >= 160000 THEN
        RETURN pg_input_is_valid(p_value, p_type);
    END IF;
    -- PostgreSQL 15 has no pg_input_is_valid: try the cast.
    BEGIN
        EXECUTE format('SELECT %L::%s', p_value, p_type);
        RETURN true;
    EXCEPTION WHEN data_exception THEN
        RETURN false;
    END;
END
$$;
COMMENT ON FUNCTION fs.is_valid_input(text, text) IS 'Whether a text value can be read as p_type (NULL can); used to quarantine rows instead of failing a batch.';

CREATE OR REPLACE FUNCTION fs.valid_input_sql(p_expr text, p_type text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- SQL text testing that the text expression p_expr reads as p_type. PostgreSQL 16+
    -- has pg_input_is_valid; it is written into the query itself, because called through
    -- one shared plpgsql expression it caches the first type it saw and misreads the next.
    SELECT CASE WHEN current_setting('server_version_num')::integer >= 160000
                THEN format('(%s IS NULL OR pg_input_is_valid(%s, %L))', p_expr, p_expr, p_type)
                ELSE format('fs.is_valid_input(%s, %L)', p_expr, p_type) END
$$;
COMMENT ON FUNCTION fs.valid_input_sql(text, text) IS 'SQL predicate text: p_expr (text) can be read as p_type.';

CREATE OR REPLACE FUNCTION fs.vector_schema()
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector'
$$;
COMMENT ON FUNCTION fs.vector_schema() IS 'The schema pgvector is installed in (NULL without pgvector): fspg qualifies its types and operators.';

CREATE OR REPLACE FUNCTION fs.is_trusted_type(p_type oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- Types fspg's SECURITY DEFINER functions may create columns of: PostgreSQL's own
    -- and pgvector's (and arrays of them). A type a caller made (a domain with a CHECK,
    -- say) would run the caller's code as the owner.
    SELECT EXISTS (
        SELECT 1 FROM pg_catalog.pg_type t
         WHERE t.oid = coalesce(nullif((SELECT e.typelem FROM pg_catalog.pg_type e WHERE e.oid = p_type AND e.typcategory = 'A'), 0), p_type)
           AND (t.typnamespace = 'pg_catalog'::regnamespace
                OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
                            WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid
                              AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
                              AND x.extname = 'vector')))
$$;
COMMENT ON FUNCTION fs.is_trusted_type(oid) IS 'Whether a type is built in or pgvector''s (or an array of one): the only types fspg creates columns of from what a caller describes.';

CREATE OR REPLACE FUNCTION fs.trusted_type(p_type text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_type regtype;
BEGIN
    -- The names fspg's own columns have, spelled as format_type spells them: known
    -- without a catalog lookup (this runs for every column of every batch logged).
    IF p_type IN ('bigint', 'integer', 'smallint', 'double precision', 'real', 'numeric', 'text', 'boolean', 'date',
                  'uuid', 'jsonb', 'timestamp with time zone', 'timestamp without time zone', 'bigint[]', 'integer[]',
                  'double precision[]', 'real[]', 'text[]', 'boolean[]') THEN
        RETURN p_type;
    END IF;
    -- Anything else is read through the catalog, never pasted: 'int); DROP ...' is not a type name.
    BEGIN
        v_type := p_type::regtype;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'unknown type %', quote_literal(p_type) USING ERRCODE = 'YF010';
    END;
    IF NOT fs.is_trusted_type(v_type) THEN
        RAISE EXCEPTION 'type % is not a built-in type', v_type::text
            USING ERRCODE = 'YF010', HINT = 'fspg only stores built-in and pgvector types.';
    END IF;
    RETURN format_type(v_type, NULL);
END
$$;
COMMENT ON FUNCTION fs.trusted_type(text) IS 'A type name resolved through the catalog and spelled by format_type (without a type modifier), or YF010 when it is unknown or not built in.';
