-- 0007_retries: a batch may carry a key; a second batch with the same key for the same
-- view version is the first one again, not a second copy of its rows. And erasure says
-- what it removed where. Forward-only.

ALTER TABLE fs.ingest_batch ADD COLUMN batch_key text;
COMMENT ON COLUMN fs.ingest_batch.batch_key IS 'The key a retried batch is recognised by (the caller''s, or a file''s content hash); unique per view version.';
CREATE UNIQUE INDEX ingest_batch_key_idx ON fs.ingest_batch (version_id, batch_key) WHERE batch_key IS NOT NULL;

-- Signatures that gained the key (and fs.ingest a tolerance of bad rows), and the
-- training-set store that recognises a re-run
-- (sql/functions re-creates them).
DROP FUNCTION IF EXISTS fs.record_batch(bigint, integer, text, text, jsonb, timestamptz);
DROP FUNCTION IF EXISTS fs.log_direct_batch(bigint, text, text, text, jsonb, timestamptz);
DROP FUNCTION IF EXISTS fs.ingest(text, regclass, text, text);
DROP FUNCTION IF EXISTS fs.store_training_set(text, integer, text, text[], timestamptz, text, text);

ALTER TABLE fs.erasure_log ADD COLUMN removed jsonb;
COMMENT ON COLUMN fs.erasure_log.removed IS 'What the erasure removed where: history and online rows per version, quarantined rows, rows of stored training-set spines.';
-- fs.source_probe also returns the query's column list (one parse per window, not two).
DROP FUNCTION IF EXISTS fs.source_probe(text, text, integer);
