-- 0004_training: reproducible training sets, registered models, stored feature
-- statistics and drift thresholds. Forward-only.

CREATE SCHEMA fs_training;
COMMENT ON SCHEMA fs_training IS 'fspg training sets: each version''s stored spine (<name>__v<N>__spine) and its point-in-time join as a view (<name>__v<N>; <name> is the current version)';
REVOKE ALL ON SCHEMA fs_training FROM PUBLIC;
GRANT USAGE ON SCHEMA fs_training TO fs_reader;

CREATE TABLE fs.training_set (
    training_set_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    description     text,
    current_version integer,
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE fs.training_set IS 'Named training sets; each has immutable versions.';

CREATE TABLE fs.training_set_version (
    ts_version_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    training_set_id  integer NOT NULL REFERENCES fs.training_set ON DELETE CASCADE,
    version          integer NOT NULL CHECK (version > 0),
    refs             text[] NOT NULL,
    timestamp_column text NOT NULL,
    spine_source     text NOT NULL,
    spine_table      text NOT NULL,
    spine_hash       text NOT NULL,
    as_of            timestamptz NOT NULL,
    row_count        bigint NOT NULL,
    content_hash     text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text NOT NULL DEFAULT current_user,
    UNIQUE (training_set_id, version)
);
COMMENT ON TABLE fs.training_set_version IS 'A training set version: its stored spine, the pinned features (refs, view@version.feature), as_of, and the row count and content hash its join gave; rebuilding gives the same.';

CREATE TABLE fs.training_set_feature (
    ts_version_id integer NOT NULL REFERENCES fs.training_set_version ON DELETE CASCADE,
    position      smallint NOT NULL,
    feature_id    integer NOT NULL REFERENCES fs.feature,
    PRIMARY KEY (ts_version_id, position)
);
COMMENT ON TABLE fs.training_set_feature IS 'The pinned features of each training set version, in column order.';

CREATE TABLE fs.model (
    model_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE fs.model IS 'Registered models; each has versions bound to the features they were trained with.';

CREATE TABLE fs.model_version (
    model_version_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id         integer NOT NULL REFERENCES fs.model ON DELETE CASCADE,
    version          integer NOT NULL CHECK (version > 0),
    ts_version_id    integer REFERENCES fs.training_set_version,
    experiment       text,
    params           jsonb NOT NULL DEFAULT '{}',
    metrics          jsonb NOT NULL DEFAULT '{}',
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text NOT NULL DEFAULT current_user,
    UNIQUE (model_id, version)
);
COMMENT ON TABLE fs.model_version IS 'Model versions: the training set (if any) and experiment each was made in, its params and metrics; active ones pin their feature view versions.';

CREATE TABLE fs.model_feature (
    model_version_id integer NOT NULL REFERENCES fs.model_version ON DELETE CASCADE,
    position         smallint NOT NULL,
    feature_id       integer NOT NULL REFERENCES fs.feature,
    PRIMARY KEY (model_version_id, position)
);
COMMENT ON TABLE fs.model_feature IS 'The exact features (pinned view versions) each model version consumes, in input order.';

CREATE TABLE fs.feature_stats (
    stats_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_id     integer NOT NULL REFERENCES fs.feature_view_version ON DELETE CASCADE,
    feature_id     integer NOT NULL REFERENCES fs.feature ON DELETE CASCADE,
    source         text NOT NULL CHECK (source IN ('history', 'online')),
    range_start    timestamptz,
    range_end      timestamptz,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    row_count      bigint NOT NULL,
    nulls          bigint NOT NULL,
    min            double precision,
    max            double precision,
    mean           double precision,
    stddev         double precision,
    quantiles      double precision[],
    distinct_count bigint,
    histogram      jsonb
);
CREATE INDEX ON fs.feature_stats (feature_id, source, computed_at DESC);
COMMENT ON TABLE fs.feature_stats IS 'Statistics of one feature over a time range of its history (or of its online table): count, nulls, min/max/mean/stddev, quantiles p0..p100 (101 values), distinct values, histogram (numeric: 10 equal-width bins; text/bool: the most frequent values).';

CREATE TYPE fs.drift_row AS (
    feature         text,
    change          text,
    psi             double precision,
    mean_base       double precision,
    mean_new        double precision,
    mean_shift      double precision,
    null_rate_base  double precision,
    null_rate_new   double precision,
    null_rate_delta double precision,
    drifted         boolean,
    reasons         text[]
);
COMMENT ON TYPE fs.drift_row IS 'One feature of a drift report (compare_versions, training_serving_skew): schema change, PSI, mean shift in baseline stddevs, null rates, and the thresholds it crossed.';

-- Drift thresholds are monitoring settings, not part of a version's identity:
-- changing them updates the view in place.
ALTER TABLE fs.feature_view ADD COLUMN drift jsonb NOT NULL DEFAULT '{}';
COMMENT ON COLUMN fs.feature_view.drift IS 'Drift thresholds from the definition: {psi, mean_shift, null_rate_delta, features: {name: {...}}}.';

GRANT SELECT ON fs.training_set, fs.training_set_version, fs.training_set_feature,
                fs.model, fs.model_version, fs.model_feature, fs.feature_stats TO fs_reader;

-- History indexes gain created_ts: point-in-time lookups order by (event_ts, created_ts)
-- and no longer sort per lookup. Rebuilt for the versions that exist (catalog tables
-- only: this runs before sql/functions is re-applied).
DO $reindex$
DECLARE
    v_version record;
    v_index   regclass;
BEGIN
    FOR v_version IN
        SELECT vv.offline_table,
               (SELECT coalesce(string_agg(format('%I, ', k.name), '' ORDER BY k.position), '')
                  FROM fs.entity_key k WHERE k.entity_id = fv.entity_id) AS keys
          FROM fs.feature_view_version vv JOIN fs.feature_view fv USING (view_id)
    LOOP
        FOR v_index IN
            SELECT i.indexrelid::regclass FROM pg_catalog.pg_index i
             WHERE i.indrelid = format('fs_offline.%I', v_version.offline_table)::regclass
               AND pg_catalog.pg_get_indexdef(i.indexrelid) LIKE '%event_ts DESC)'
        LOOP
            EXECUTE format('DROP INDEX %s', v_index);
        END LOOP;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                        WHERE i.indrelid = format('fs_offline.%I', v_version.offline_table)::regclass
                          AND pg_catalog.pg_get_indexdef(i.indexrelid) LIKE '%event_ts DESC, created_ts DESC)') THEN
            EXECUTE format('CREATE INDEX ON fs_offline.%I (%s event_ts DESC, created_ts DESC)', v_version.offline_table, v_version.keys);
        END IF;
    END LOOP;
END
$reindex$;
