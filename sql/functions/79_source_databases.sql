-- 79_source_databases: other PostgreSQL databases (and anything with a postgres_fdw
-- endpoint) as sources of SQL-defined feature views.
-- Owns: fs.add_source_database, fs.import_source_tables, fs.remove_source_database (of either kind).
-- A source database becomes a foreign server fs_src_<name> and a local schema
-- src_<name> holding its imported tables, so a source query reads src_orders.orders like a
-- local table. postgres_fdw ships with PostgreSQL; creating it needs the owner's rights,
-- hence SECURITY DEFINER. The user mapping is for PUBLIC: every fspg role that may run a
-- source query reads the source with the credentials given here (writers get SELECT).

CREATE OR REPLACE FUNCTION fs.add_source_database(p_name text, p_options jsonb, p_user text, p_password text,
                                                  p_tables text[], p_remote_schema text DEFAULT 'public')
RETURNS TABLE (name text, local_schema text, tables text[])
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
#variable_conflict use_column
DECLARE
    v_name    text := fs.check_name('source', p_name);
    v_server  text := 'fs_src_' || v_name;
    v_schema  text := 'src_' || v_name;
    v_options text;
    v_tables  text[];
BEGIN
    IF EXISTS (SELECT 1 FROM fs.source_database d WHERE d.name = v_name) THEN
        RAISE EXCEPTION 'source % exists already', v_name USING ERRCODE = 'YF004', HINT = 'fspg source remove it first.';
    END IF;
    IF p_tables IS NULL OR cardinality(p_tables) = 0 THEN
        RAISE EXCEPTION 'name the tables to import from source %', v_name USING ERRCODE = 'YF015';
    END IF;
    PERFORM fs.check_name('table', t) FROM unnest(p_tables) t;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgres_fdw') THEN
        RAISE EXCEPTION 'postgres_fdw is not installed in this database' USING ERRCODE = 'YF007',
            HINT = 'A superuser runs CREATE EXTENSION postgres_fdw; GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO fs_owner (fspg migrate does it when it may).';
    END IF;
    SELECT string_agg(format('%I %L', o.key, o.value), ', ') INTO v_options
      FROM jsonb_each_text(p_options) o WHERE o.key IN ('host', 'port', 'dbname', 'sslmode', 'connect_timeout');
    EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER postgres_fdw OPTIONS (%s)', v_server,
                   coalesce(v_options, '') || CASE WHEN p_options ? 'connect_timeout' THEN '' ELSE
                       CASE WHEN v_options IS NULL THEN '' ELSE ', ' END || 'connect_timeout ''5''' END);
    BEGIN
        EXECUTE format('CREATE USER MAPPING FOR PUBLIC SERVER %I OPTIONS (%s)', v_server,
                       concat_ws(', ', format('user %L', p_user), CASE WHEN p_password IS NOT NULL THEN format('password %L', p_password) END));
    EXCEPTION WHEN OTHERS THEN
        -- Raised again without the statement as context: it holds the password.
        RAISE EXCEPTION 'source %: the user mapping could not be made: %', v_name, SQLERRM USING ERRCODE = SQLSTATE;
    END;
    EXECUTE format('CREATE SCHEMA %I', v_schema);
    INSERT INTO fs.source_database (name, kind, server_name, local_schema, tables) VALUES (v_name, 'fdw', v_server, v_schema, p_tables);
    -- A source that takes no password can only be used through a mapping a superuser marks
    -- password_required 'false' (postgres_fdw's rule for other roles): the client does
    -- that between this call and fs.import_source_tables when it connects as one.
    RETURN QUERY SELECT v_name, v_schema, p_tables;
END
$$;
COMMENT ON FUNCTION fs.add_source_database(text, jsonb, text, text, text[], text) IS 'Registers a PostgreSQL database as source NAME: foreign server fs_src_NAME, its user mapping and schema src_NAME; fs.import_source_tables then imports the tables.';

CREATE OR REPLACE FUNCTION fs.import_source_tables(p_name text, p_remote_schema text DEFAULT 'public')
RETURNS TABLE (name text, local_schema text, tables text[])
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
#variable_conflict use_column
DECLARE
    v_source fs.source_database;
    v_tables text[];
BEGIN
    SELECT * INTO v_source FROM fs.source_database d WHERE d.name = p_name AND d.kind = 'fdw';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source % does not exist', p_name USING ERRCODE = 'YF006', HINT = 'fspg source ls lists them.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = v_source.local_schema) THEN
        RAISE EXCEPTION 'source % has its tables already', p_name USING ERRCODE = 'YF004';
    END IF;
    PERFORM fs.check_name('schema', p_remote_schema);
    BEGIN
        EXECUTE format('IMPORT FOREIGN SCHEMA %I LIMIT TO (%s) FROM SERVER %I INTO %I', p_remote_schema,
                       (SELECT string_agg(format('%I', t), ', ') FROM unnest(v_source.tables) t), v_source.server_name,
                       v_source.local_schema);
    EXCEPTION WHEN sqlclient_unable_to_establish_sqlconnection OR connection_exception OR fdw_error
                   OR sqlserver_rejected_establishment_of_sqlconnection OR invalid_authorization_specification THEN
        RAISE EXCEPTION 'source %: the database does not answer: %', p_name, SQLERRM
            USING ERRCODE = 'YF019', HINT = 'Check the DSN and that the source accepts connections from the feature store''s server.';
    END;
    SELECT array_agg(c.relname::text ORDER BY c.relname) INTO v_tables
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = v_source.local_schema;
    IF v_tables IS NULL OR cardinality(v_tables) < cardinality(v_source.tables) THEN
        RAISE EXCEPTION 'source %: table(s) % not found in schema % there', p_name,
            (SELECT string_agg(t, ', ') FROM unnest(v_source.tables) t WHERE t <> ALL (coalesce(v_tables, '{}'))), p_remote_schema
            USING ERRCODE = 'YF006';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO fs_reader', v_source.local_schema);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO fs_writer', v_source.local_schema);
    -- Source queries run as fs_source: it reads what this source imported.
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO fs_source', v_source.local_schema);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO fs_source', v_source.local_schema);
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', v_source.local_schema,
                   format('fspg source %s: tables imported from schema %s over server %s', p_name, p_remote_schema, v_source.server_name));
    UPDATE fs.source_database d SET tables = v_tables WHERE d.name = p_name;
    INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)
    SELECT 'source_database', p_name, 'table', format('%I.%I', v_source.local_schema, t) FROM unnest(v_tables) t
    ON CONFLICT DO NOTHING;
    RETURN QUERY SELECT p_name, v_source.local_schema, v_tables;
END
$$;
COMMENT ON FUNCTION fs.import_source_tables(text, text) IS 'Imports the tables of source NAME (fs.add_source_database) into schema src_NAME, readable by writers and by fs_source.';

CREATE OR REPLACE FUNCTION fs.remove_source_database(p_name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    v_source fs.source_database;
BEGIN
    SELECT * INTO v_source FROM fs.source_database d WHERE d.name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source % does not exist', p_name USING ERRCODE = 'YF006', HINT = 'fspg source ls lists them.';
    END IF;
    IF v_source.kind = 'fdw' THEN
        EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', v_source.local_schema);
        EXECUTE format('DROP SERVER IF EXISTS %I CASCADE', v_source.server_name);
    ELSE
        -- CDC: the client has dropped the subscription (and the slot on the source) first.
        EXECUTE format('DROP TABLE IF EXISTS %I.%I', v_source.local_schema, v_source.tables[1]);
        EXECUTE format('DROP FUNCTION IF EXISTS fs.%I()', 'cdc_' || p_name);
    END IF;
    DELETE FROM fs.source_database d WHERE d.name = p_name;
END
$$;
COMMENT ON FUNCTION fs.remove_source_database(text) IS 'Drops source NAME: a foreign server with its user mapping and imported tables, or a CDC source''s mirror table and trigger function (after the client dropped its subscription).';
