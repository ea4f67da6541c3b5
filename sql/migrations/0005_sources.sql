-- 0005_sources: SQL-defined feature views (a source query per version), the windows
-- materialized from them, and registered source databases. Forward-only.

CREATE TABLE fs.view_source (
    version_id  integer PRIMARY KEY REFERENCES fs.feature_view_version ON DELETE CASCADE,
    query       text NOT NULL,
    refresh     interval CHECK (refresh > interval '0'),
    start_at    timestamptz,
    high_water  timestamptz,
    last_run_at timestamptz,
    last_error  text
);
COMMENT ON TABLE fs.view_source IS 'The source query of a SQL-defined feature view version, its refresh interval, where incremental runs start, and how far they got (high_water: end of the newest materialized window).';

CREATE TABLE fs.source_run (
    run_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_id   integer NOT NULL REFERENCES fs.feature_view_version ON DELETE CASCADE,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL CHECK (window_end > window_start),
    batch_id     bigint,
    rows_in      bigint NOT NULL,
    unchanged    bigint NOT NULL,
    inserted     bigint NOT NULL,
    quarantined  bigint NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    run_by       text NOT NULL DEFAULT session_user,
    CHECK (rows_in = unchanged + inserted + quarantined)
);
CREATE INDEX ON fs.source_run (version_id, window_start);
COMMENT ON TABLE fs.source_run IS 'Every materialization of a source window: rows the query gave = unchanged (already in history) + inserted + quarantined.';

CREATE TABLE fs.source_database (
    name         text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('fdw', 'cdc')),
    server_name  text,
    local_schema text,
    tables       text[] NOT NULL DEFAULT '{}',
    version_id   integer REFERENCES fs.feature_view_version,
    event_time   text,
    dsn          text,
    added_at     timestamptz NOT NULL DEFAULT now(),
    added_by     text NOT NULL DEFAULT session_user
);
COMMENT ON TABLE fs.source_database IS 'Databases registered as sources: postgres_fdw servers whose tables are imported into a local schema (fdw), and tables captured by logical replication into a feature view (cdc: server_name is the subscription, tables the mirrored table).';

GRANT SELECT ON fs.view_source, fs.source_run TO fs_reader;
-- CDC DSNs may carry passwords: admins only (like fs.replica).
GRANT SELECT (name, kind, server_name, local_schema, tables, version_id, event_time, added_at, added_by) ON fs.source_database TO fs_reader;
