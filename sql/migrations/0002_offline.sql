-- 0002_offline: the ingest log, quarantine, history statistics, erasure and maintenance
-- logs of the offline store. Forward-only.

-- fs.rule_checks gained a column-expression argument (sql/functions/30_rules.sql);
-- IF EXISTS because a fresh install reaches this file before any function exists.
DROP FUNCTION IF EXISTS fs.rule_checks(text, text, jsonb);

-- fs.ingest takes the batch id first (history rows and quarantine rows carry it) and
-- writes the log row last, when the counts are known.
CREATE SEQUENCE fs.ingest_batch_id_seq;
CREATE TABLE fs.ingest_batch (
    batch_id         bigint PRIMARY KEY DEFAULT nextval('fs.ingest_batch_id_seq'),
    version_id       integer NOT NULL REFERENCES fs.feature_view_version,
    mode             text NOT NULL CHECK (mode IN ('quarantine', 'strict')),
    source           text,
    rows_in          bigint NOT NULL,
    inserted         bigint NOT NULL,
    quarantined      bigint NOT NULL,
    reasons          jsonb NOT NULL DEFAULT '{}',
    columns          jsonb NOT NULL,
    min_event_ts     timestamptz,
    max_event_ts     timestamptz,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    created_by       text NOT NULL DEFAULT current_user,
    application_name text DEFAULT current_setting('application_name', true),
    CHECK (rows_in = inserted + quarantined)
);
COMMENT ON TABLE fs.ingest_batch IS 'One row per committed ingest batch: rows in = inserted + quarantined, reasons by rule, who and when.';
CREATE INDEX ON fs.ingest_batch (version_id, batch_id DESC);

CREATE TABLE fs.quarantine (
    batch_id       bigint NOT NULL REFERENCES fs.ingest_batch DEFERRABLE INITIALLY DEFERRED,
    row_number     bigint NOT NULL,
    version_id     integer NOT NULL REFERENCES fs.feature_view_version,
    data           jsonb NOT NULL,
    reasons        text[] NOT NULL CHECK (cardinality(reasons) > 0),
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    replayed_batch_id bigint REFERENCES fs.ingest_batch,
    PRIMARY KEY (batch_id, row_number)
);
COMMENT ON TABLE fs.quarantine IS 'Rows an ingest refused, as staged, with every rule they broke; replay re-validates them.';
CREATE INDEX ON fs.quarantine (version_id) WHERE replayed_batch_id IS NULL;

-- Deltas, one row per INSERT statement into a history table (and negative ones when
-- retention or forget removes rows): exact counts without count(*) and without a hot
-- row that concurrent writers would queue on. fs.maintain folds them together.
CREATE TABLE fs.history_stats (
    version_id   integer NOT NULL REFERENCES fs.feature_view_version ON DELETE CASCADE,
    rows         bigint NOT NULL,
    min_event_ts timestamptz,
    max_event_ts timestamptz,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE fs.history_stats IS 'Row-count and event-time deltas of history tables, folded by fs.maintain.';
CREATE INDEX ON fs.history_stats (version_id);

CREATE TABLE fs.erasure_log (
    erasure_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    view_name   text NOT NULL,
    entity_key  jsonb NOT NULL,
    rows_deleted bigint NOT NULL,
    reason      text,
    erased_at   timestamptz NOT NULL DEFAULT now(),
    erased_by   text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE fs.erasure_log IS 'Every fs.forget call: which entity was erased from which view, how many rows, by whom.';

CREATE TABLE fs.maintenance_log (
    entry_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_id  integer REFERENCES fs.feature_view_version ON DELETE SET NULL,
    action      text NOT NULL,
    detail      text NOT NULL,
    done_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE fs.maintenance_log IS 'Partitions created, rows moved out of default partitions, partitions dropped by retention.';

ALTER SEQUENCE fs.ingest_batch_id_seq OWNED BY fs.ingest_batch.batch_id;
GRANT USAGE ON SEQUENCE fs.ingest_batch_id_seq TO fs_writer;
GRANT SELECT ON fs.ingest_batch, fs.quarantine, fs.history_stats, fs.erasure_log, fs.maintenance_log TO fs_reader;
GRANT INSERT ON fs.ingest_batch, fs.quarantine, fs.history_stats TO fs_writer;
GRANT UPDATE (replayed_batch_id) ON fs.quarantine TO fs_writer;
