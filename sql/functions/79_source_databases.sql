-- 79_source_databases: other PostgreSQL databases (and anything with a postgres_fdw
-- endpoint) as sources of SQL-defined feature views.
-- Owns: fs.add_source_database, fs.remove_source_database (of either kind).
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
    CREATE EXTENSION IF NOT EXISTS postgres_fdw;
    SELECT string_agg(format('%I %L', o.key, o.value), ', ') INTO v_options
      FROM jsonb_each_text(p_options) o WHERE o.key IN ('host', 'port', 'dbname', 'sslmode', 'connect_timeout');
    EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER postgres_fdw OPTIONS (%s)', v_server,
                   coalesce(v_options, '') || CASE WHEN p_options ? 'connect_timeout' THEN '' ELSE
                       CASE WHEN v_options IS NULL THEN '' ELSE ', ' END || 'connect_timeout ''5''' END);
    EXECUTE format('CREATE USER MAPPING FOR PUBLIC SERVER %I OPTIONS (%s)', v_server,
                   concat_ws(', ', format('user %L', p_user), CASE WHEN p_password IS NOT NULL THEN format('password %L', p_password) END));
    EXECUTE format('CREATE SCHEMA %I', v_schema);
    BEGIN
        EXECUTE format('IMPORT FOREIGN SCHEMA %I LIMIT TO (%s) FROM SERVER %I INTO %I', p_remote_schema,
                       (SELECT string_agg(format('%I', t), ', ') FROM unnest(p_tables) t), v_server, v_schema);
    EXCEPTION WHEN sqlclient_unable_to_establish_sqlconnection OR connection_exception OR fdw_error THEN
        RAISE EXCEPTION 'source %: the database does not answer: %', v_name, SQLERRM
            USING ERRCODE = 'YF019', HINT = 'Check the DSN and that the source accepts connections from the feature store''s server.';
    END;
    SELECT array_agg(c.relname::text ORDER BY c.relname) INTO v_tables
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = v_schema;
    IF v_tables IS NULL OR cardinality(v_tables) < cardinality(p_tables) THEN
        RAISE EXCEPTION 'source %: table(s) % not found in schema % there', v_name,
            (SELECT string_agg(t, ', ') FROM unnest(p_tables) t WHERE t <> ALL (coalesce(v_tables, '{}'))), p_remote_schema
            USING ERRCODE = 'YF006';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO fs_reader', v_schema);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO fs_writer', v_schema);
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', v_schema, format('fspg source %s: tables imported from %s', v_name, p_options::text));
    INSERT INTO fs.source_database (name, kind, server_name, local_schema, tables) VALUES (v_name, 'fdw', v_server, v_schema, v_tables);
    INSERT INTO fs.lineage_edge (source_kind, source_name, target_kind, target_name)
    SELECT 'source_database', v_name, 'table', format('%I.%I', v_schema, t) FROM unnest(v_tables) t
    ON CONFLICT DO NOTHING;
    RETURN QUERY SELECT v_name, v_schema, v_tables;
END
$$;
COMMENT ON FUNCTION fs.add_source_database(text, jsonb, text, text, text[], text) IS 'Registers a PostgreSQL database as source NAME: foreign server fs_src_NAME, the named tables imported into schema src_NAME (readable by writers).';

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
