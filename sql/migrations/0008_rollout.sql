-- 0008_rollout: staged versions. A changed definition makes a version that is written
-- but not served until promoted; the version served before stays written so a rollback
-- loses nothing. Backfills keep their progress so they resume. And one rule for rows
-- of one entity and moment: new versions' history holds at most one row per entity,
-- event_ts and created_ts. Forward-only.

ALTER TABLE fs.feature_view_version ADD COLUMN staged boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN fs.feature_view_version.staged IS 'Written (every write to the view lands here too) but not served until fspg promote.';
ALTER TABLE fs.feature_view ADD COLUMN previous_version integer;
COMMENT ON COLUMN fs.feature_view.current_version IS 'The promoted version: what serving, services and unpinned reads use.';
COMMENT ON COLUMN fs.feature_view.previous_version IS 'The version promoted before the current one, still written: what fspg rollback serves again.';

CREATE TABLE fs.promotion (
    promotion_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    view_id      integer NOT NULL REFERENCES fs.feature_view ON DELETE CASCADE,
    from_version integer,
    to_version   integer NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('promote', 'rollback')),
    forced       boolean NOT NULL DEFAULT false,
    promoted_at  timestamptz NOT NULL DEFAULT now(),
    promoted_by  text NOT NULL DEFAULT session_user
);
COMMENT ON TABLE fs.promotion IS 'Every switch of a view''s served version: promotions and rollbacks, who and when.';

CREATE TABLE fs.backfill (
    version_id      integer PRIMARY KEY REFERENCES fs.feature_view_version ON DELETE CASCADE,
    from_version_id integer NOT NULL REFERENCES fs.feature_view_version ON DELETE CASCADE,
    start_at        timestamptz,
    end_at          timestamptz,
    boundary        timestamptz NOT NULL,
    periods         timestamptz[] NOT NULL,
    periods_done    integer NOT NULL DEFAULT 0,
    rows_read       bigint NOT NULL DEFAULT 0,
    inserted        bigint NOT NULL DEFAULT 0,
    quarantined     bigint NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz,
    started_by      text NOT NULL DEFAULT session_user
);
COMMENT ON TABLE fs.backfill IS 'Progress of filling a staged version from another one, one partition period per step (boundary: rows created before it are copied; later ones arrived by dual writes).';

ALTER TABLE fs.promotion OWNER TO fs_owner;
ALTER TABLE fs.backfill OWNER TO fs_owner;

-- fs.apply also says which version serves each view afterwards (sql/functions re-creates it).
DROP FUNCTION IF EXISTS fs.apply(jsonb, boolean);

-- A batch may skip rows history already holds (insert_batch(skip_unchanged=True)): they
-- are counted, so every batch still accounts for every row.
ALTER TABLE fs.ingest_batch ADD COLUMN unchanged bigint NOT NULL DEFAULT 0;
ALTER TABLE fs.ingest_batch DROP CONSTRAINT ingest_batch_check;
ALTER TABLE fs.ingest_batch ADD CONSTRAINT ingest_batch_check CHECK (rows_in = inserted + quarantined + unchanged);
COMMENT ON COLUMN fs.ingest_batch.unchanged IS 'Rows the batch skipped because history already held them as the newest for their entity and moment.';
DROP FUNCTION IF EXISTS fs.ingest(text, regclass, text, text, text, numeric);
DROP FUNCTION IF EXISTS fs.record_batch(bigint, integer, text, text, jsonb, timestamptz, text);
-- (Again, for databases that ran an early 0007 without it; sql/functions re-creates it.)
DROP FUNCTION IF EXISTS fs.source_probe(text, text, integer);
