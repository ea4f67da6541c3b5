-- 0001_catalog: schemas, group roles and the catalog tables.
-- Forward-only: never edit this file once released; change the schema in a new file.
-- Schema fs itself is created by the migration runner before alembic writes its
-- version table there (fspg/migrations/env.py).

CREATE SCHEMA fs_offline;
CREATE SCHEMA fs_online;
COMMENT ON SCHEMA fs IS 'fspg catalog and SQL API';
COMMENT ON SCHEMA fs_offline IS 'fspg offline history: one time-partitioned table per feature view version';
COMMENT ON SCHEMA fs_online IS 'fspg online serving: one latest-value table per feature view version, and a view per feature view';

-- Group roles. Roles are cluster-wide, so a second database on the same server finds
-- them already there; that is the one place this file tolerates existing objects.
-- Each role includes the next: fs_admin > fs_writer > fs_reader > fs_serving.
DO $roles$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['fs_serving', 'fs_reader', 'fs_writer', 'fs_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
        END IF;
    END LOOP;
END
$roles$;
GRANT fs_serving TO fs_reader;
GRANT fs_reader TO fs_writer;
GRANT fs_writer TO fs_admin;

-- pgvector is optional: vector features need it, everything else works without it.
DO $vector$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'vector')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'vector') THEN
        CREATE EXTENSION vector;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pgvector is available but this role may not create it; vector features stay unavailable until a superuser runs CREATE EXTENSION vector';
END
$vector$;

CREATE TABLE fs.entity (
    entity_id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE fs.entity IS 'Entities: the named join keys feature views are about (a user, a merchant).';

CREATE TABLE fs.entity_key (
    entity_id integer NOT NULL REFERENCES fs.entity ON DELETE CASCADE,
    position  smallint NOT NULL,
    name      text NOT NULL,
    dtype     text NOT NULL,
    PRIMARY KEY (entity_id, position),
    UNIQUE (entity_id, name)
);
COMMENT ON TABLE fs.entity_key IS 'Typed key columns of each entity, in key order (composite keys have several).';

CREATE TABLE fs.feature_view (
    view_id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    entity_id       integer REFERENCES fs.entity,
    owner           text,
    description     text,
    current_version integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE fs.feature_view IS 'Feature views: named groups of features about one entity (or global when entity_id is null).';

CREATE TABLE fs.feature_view_version (
    version_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    view_id       integer NOT NULL REFERENCES fs.feature_view ON DELETE CASCADE,
    version       integer NOT NULL CHECK (version > 0),
    definition    jsonb NOT NULL,
    ttl           interval,
    partition_by  text NOT NULL CHECK (partition_by IN ('day', 'week', 'month', 'year')),
    retention     interval,
    tags          jsonb NOT NULL DEFAULT '{}',
    offline_table text NOT NULL,
    online_table  text NOT NULL,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deprecated')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL DEFAULT current_user,
    UNIQUE (view_id, version)
);
COMMENT ON TABLE fs.feature_view_version IS 'Immutable versions of feature views; definition is the normalised schema that identifies the version.';

CREATE TABLE fs.feature (
    feature_id  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_id  integer NOT NULL REFERENCES fs.feature_view_version ON DELETE CASCADE,
    position    smallint NOT NULL,
    name        text NOT NULL,
    dtype       text NOT NULL,
    description text,
    rules       jsonb NOT NULL DEFAULT '{}',
    UNIQUE (version_id, name),
    UNIQUE (version_id, position)
);
COMMENT ON TABLE fs.feature IS 'Typed features of each feature view version, with their validation rules.';

CREATE TABLE fs.feature_service (
    service_id      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    description     text,
    current_version integer,
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE fs.feature_service IS 'Feature services: named lists of features that one model consumes.';

CREATE TABLE fs.feature_service_version (
    service_version_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id         integer NOT NULL REFERENCES fs.feature_service ON DELETE CASCADE,
    version            integer NOT NULL CHECK (version > 0),
    refs               jsonb NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text NOT NULL DEFAULT current_user,
    UNIQUE (service_id, version)
);
COMMENT ON TABLE fs.feature_service_version IS 'Versions of feature services; refs is the requested list as written.';

CREATE TABLE fs.feature_service_feature (
    service_version_id integer NOT NULL REFERENCES fs.feature_service_version ON DELETE CASCADE,
    position           smallint NOT NULL,
    feature_id         integer NOT NULL REFERENCES fs.feature,
    PRIMARY KEY (service_version_id, position)
);
COMMENT ON TABLE fs.feature_service_feature IS 'The features of each feature service version, resolved to pinned view versions.';

CREATE TABLE fs.lineage_edge (
    edge_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_kind text NOT NULL,
    source_name text NOT NULL,
    target_kind text NOT NULL,
    target_name text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_kind, source_name, target_kind, target_name)
);
COMMENT ON TABLE fs.lineage_edge IS 'Lineage: directed edges source -> feature view -> feature service -> training set -> model.';

GRANT USAGE ON SCHEMA fs TO fs_serving;
GRANT USAGE ON SCHEMA fs_online TO fs_serving;
GRANT USAGE ON SCHEMA fs_offline TO fs_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA fs TO fs_reader;
-- Functions are granted in sql/functions/90_privileges.sql; nothing there runs for PUBLIC.
REVOKE ALL ON SCHEMA fs, fs_offline, fs_online FROM PUBLIC;
