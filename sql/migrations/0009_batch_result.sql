-- 0009_batch_result: one result type for every function that reports a batch.
--
-- fs.ingest, fs.log_direct_batch and fs.replay_quarantine each declared their own result
-- columns (two without `unchanged`). They now return fs.batch_result. A function's return
-- type cannot change in place, so the old ones are dropped here (IF EXISTS: a fresh install
-- creates functions only after every migration); sql/functions/74_ingest.sql creates them
-- again, and 90_privileges.sql grants them again, in the same migration run.

CREATE TYPE fs.batch_result AS (
    batch_id     bigint,
    feature_view text,
    version      integer,
    rows_in      bigint,
    inserted     bigint,
    quarantined  bigint,
    reasons      jsonb,
    unchanged    bigint
);
ALTER TYPE fs.batch_result OWNER TO fs_owner;
COMMENT ON TYPE fs.batch_result IS 'What a batch did: rows_in = inserted + quarantined + unchanged, quarantined rows per broken rule (reasons).';

DROP FUNCTION IF EXISTS fs.ingest(text, regclass, text, text, text, numeric, boolean);
DROP FUNCTION IF EXISTS fs.log_direct_batch(bigint, text, text, text, jsonb, timestamptz, text);
DROP FUNCTION IF EXISTS fs.replay_quarantine(bigint, text, text);
