-- 0003_serving: the schema of generated serving functions, and the registry of
-- serving replicas. Forward-only.

CREATE SCHEMA fs_serving;
COMMENT ON SCHEMA fs_serving IS 'fspg serving: one generated SQL function per feature service (and version), for prepared statements';
REVOKE ALL ON SCHEMA fs_serving FROM PUBLIC;
GRANT USAGE ON SCHEMA fs_serving TO fs_serving;

CREATE TABLE fs.replica (
    name         text PRIMARY KEY,
    dsn          text NOT NULL,
    subscription text NOT NULL UNIQUE,
    slot_name    text NOT NULL UNIQUE,
    added_at     timestamptz NOT NULL DEFAULT now(),
    added_by     text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE fs.replica IS 'Serving replicas subscribed to the online tables (publication fspg_online); the DSN is how fspg reaches them to keep their schema in step.';
REVOKE ALL ON fs.replica FROM fs_reader;
