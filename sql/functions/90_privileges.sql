-- 90_privileges: who may call which catalog function. Applied last, after every
-- function exists. Generated tables and views are granted where they are created
-- (40_tables.sql). Role ladder: fs_admin > fs_writer > fs_reader > fs_serving.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA fs FROM PUBLIC;

-- Defining features: fs_admin. These are SECURITY DEFINER, so admins create tables
-- without owning the schemas.
GRANT EXECUTE ON FUNCTION fs.apply(jsonb, boolean) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.apply_entity(jsonb) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.apply_feature_view(jsonb) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.apply_feature_service(jsonb) TO fs_admin;

-- Reading the catalog: fs_reader (analysts, BI tools). These run as the caller.
GRANT SELECT ON ALL TABLES IN SCHEMA fs TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.row_count(text, integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.list_feature_views() TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.describe_feature_view(text, integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.resolve_feature_ref(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.sql_type(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.normalize_dtype(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.vector_dimension(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.is_numeric_dtype(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.check_name(text, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.reserved_columns() TO fs_reader;
