-- 87_statistics: feature statistics per view version, drift between versions, and
-- training/serving skew.
-- Owns: fs.compute_stats, fs.quantile_cdf, fs.psi_numeric, fs.psi_categorical,
--       fs.drift_thresholds, fs.drift_report, fs.compare_versions, fs.training_serving_skew.
-- Statistics are computed in SQL over a time range of a version's history (or over its
-- online table: what is being served) and stored in fs.feature_stats. Quantiles are kept
-- at every percentile (101 values), which lets the population stability index compare
-- two distributions on the baseline's deciles without reading the data again.
-- Non-finite values (NaN, ±Infinity) count as nulls in statistics.

CREATE OR REPLACE FUNCTION fs.stat_expression(p_dtype text, p_column text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- How a feature is measured: numbers as float8, bools as 0/1, timestamps as epoch
    -- seconds, text as categories; vectors and arrays are only counted.
    SELECT CASE
        WHEN fs.is_numeric_dtype(p_dtype) THEN
            format('CASE WHEN %1$s::float8 IN (''NaN'', ''Infinity'', ''-Infinity'') THEN NULL ELSE %1$s::float8 END', p_column)
        WHEN p_dtype = 'bool' THEN format('%s::int::float8', p_column)
        WHEN p_dtype = 'timestamp' THEN format('extract(epoch FROM %s)::float8', p_column)
        ELSE p_column END
$$;
COMMENT ON FUNCTION fs.stat_expression(text, text) IS 'The SQL expression statistics measure for a feature of a dtype.';

CREATE OR REPLACE FUNCTION fs.compute_stats(p_view text, p_start timestamptz DEFAULT NULL, p_end timestamptz DEFAULT NULL,
                                            p_source text DEFAULT 'history')
RETURNS SETOF fs.feature_stats
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_version fs.feature_view_version := fs.resolve_version(p_view);
    v_feature record;
    v_from    text;
    v_x       text;
    v_row     fs.feature_stats;
    v_top     jsonb;
BEGIN
    IF p_source NOT IN ('history', 'online') THEN
        RAISE EXCEPTION 'statistics source must be history or online, got %', p_source USING ERRCODE = 'YF015';
    END IF;
    IF p_start > p_end THEN
        RAISE EXCEPTION 'statistics range starts after it ends (% > %)', p_start, p_end USING ERRCODE = 'YF015';
    END IF;
    v_from := CASE p_source
        WHEN 'history' THEN format('fs_offline.%I t WHERE true', v_version.offline_table)
        -- What is served: online values still within the TTL.
        ELSE format('fs_online.%I t WHERE true', v_version.online_table)
             || CASE WHEN v_version.ttl IS NULL THEN '' ELSE format(' AND t.event_ts > now() - %L::interval', v_version.ttl) END
        END
        || CASE WHEN p_start IS NULL THEN '' ELSE format(' AND t.event_ts >= %L::timestamptz', p_start) END
        || CASE WHEN p_end IS NULL THEN '' ELSE format(' AND t.event_ts <= %L::timestamptz', p_end) END;
    FOR v_feature IN SELECT f.feature_id, f.name, f.dtype FROM fs.feature f WHERE f.version_id = v_version.version_id ORDER BY f.position LOOP
        v_row := NULL;
        v_row.version_id := v_version.version_id;
        v_row.feature_id := v_feature.feature_id;
        v_row.source := p_source;
        v_row.range_start := p_start;
        v_row.range_end := p_end;
        v_x := fs.stat_expression(v_feature.dtype, format('t.%I', v_feature.name));
        IF fs.is_numeric_dtype(v_feature.dtype) OR v_feature.dtype IN ('bool', 'timestamp') THEN
            EXECUTE format('SELECT count(*), count(*) - count(x), min(x), max(x), avg(x), stddev_samp(x),'
                           ' percentile_cont(%s::float8[]) WITHIN GROUP (ORDER BY x),'
                           ' count(DISTINCT x) FROM (SELECT %s AS x FROM %s) s',
                           -- A literal list: Citus pushes no subquery in a select list down.
                           quote_literal((SELECT array_agg(p / 100.0) FROM generate_series(0, 100) p)::text), v_x, v_from)
               INTO v_row.row_count, v_row.nulls, v_row.min, v_row.max, v_row.mean, v_row.stddev, v_row.quantiles, v_row.distinct_count;
            IF v_row.max > v_row.min THEN
                EXECUTE format('SELECT jsonb_build_object(''kind'', ''bins'', ''edges'', (SELECT jsonb_agg((%1$s + (%2$s - %1$s) * i / 10.0)::float8 ORDER BY i) FROM generate_series(0, 10) i),'
                               ' ''counts'', (SELECT jsonb_agg(coalesce(c.n, 0) ORDER BY b) FROM generate_series(1, 10) b'
                               '   LEFT JOIN (SELECT least(width_bucket(x, %1$s, %2$s, 10), 10) AS bucket, count(*) AS n'
                               '                FROM (SELECT %3$s AS x FROM %4$s) s WHERE x IS NOT NULL GROUP BY 1) c ON c.bucket = b))',
                               v_row.min, v_row.max, v_x, v_from)
                   INTO v_row.histogram;
            ELSIF v_row.min IS NOT NULL THEN
                v_row.histogram := jsonb_build_object('kind', 'bins', 'edges', jsonb_build_array(v_row.min, v_row.max),
                                                      'counts', jsonb_build_array(v_row.row_count - v_row.nulls));
            END IF;
        ELSIF v_feature.dtype = 'text' THEN
            EXECUTE format('SELECT count(*), count(*) - count(x), count(DISTINCT x) FROM (SELECT %s AS x FROM %s) s', v_x, v_from)
               INTO v_row.row_count, v_row.nulls, v_row.distinct_count;
            EXECUTE format('SELECT coalesce(jsonb_object_agg(v, n), ''{}'') FROM (SELECT x AS v, count(*) AS n FROM (SELECT %s AS x FROM %s) s'
                           ' WHERE x IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20) top', v_x, v_from)
               INTO v_top;
            v_row.histogram := jsonb_build_object('kind', 'top', 'values', v_top,
                'other', v_row.row_count - v_row.nulls - coalesce((SELECT sum(value::bigint) FROM jsonb_each_text(v_top)), 0));
        ELSE
            EXECUTE format('SELECT count(*), count(*) - count(%s) FROM %s', v_x, v_from) INTO v_row.row_count, v_row.nulls;
        END IF;
        INSERT INTO fs.feature_stats (version_id, feature_id, source, range_start, range_end, row_count, nulls, min, max,
                                      mean, stddev, quantiles, distinct_count, histogram)
        VALUES (v_row.version_id, v_row.feature_id, v_row.source, v_row.range_start, v_row.range_end, v_row.row_count,
                v_row.nulls, v_row.min, v_row.max, v_row.mean, v_row.stddev, v_row.quantiles, v_row.distinct_count, v_row.histogram)
        RETURNING * INTO v_row;
        RETURN NEXT v_row;
    END LOOP;
END
$$;
COMMENT ON FUNCTION fs.compute_stats(text, timestamptz, timestamptz, text) IS 'Computes and stores statistics of every feature of view[@version] over history (event_ts within [start, end]) or over its online table (values within the TTL).';

CREATE OR REPLACE FUNCTION fs.quantile_cdf(p_quantiles double precision[], p_value double precision)
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n integer := cardinality(p_quantiles);
    v_k integer;
BEGIN
    -- p_quantiles[k] is the value at probability (k-1)/(n-1). The CDF at p_value is the
    -- probability of the last quantile <= p_value, interpolated towards the next one.
    IF p_value < p_quantiles[1] THEN
        RETURN 0;
    END IF;
    IF p_value >= p_quantiles[v_n] THEN
        RETURN 1;
    END IF;
    SELECT max(i) INTO v_k FROM generate_series(1, v_n) i WHERE p_quantiles[i] <= p_value;
    RETURN (v_k - 1 + CASE WHEN p_quantiles[v_k + 1] > p_quantiles[v_k]
                           THEN (p_value - p_quantiles[v_k]) / (p_quantiles[v_k + 1] - p_quantiles[v_k]) ELSE 0 END) / (v_n - 1);
END
$$;
COMMENT ON FUNCTION fs.quantile_cdf(double precision[], double precision) IS 'The cumulative share of values <= p_value, read from evenly spaced quantiles.';

CREATE OR REPLACE FUNCTION fs.psi_numeric(p_base double precision[], p_new double precision[])
RETURNS double precision
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- Bins are the baseline's deciles (fewer where values repeat); both shares come from
    -- the same CDF reading, floored at 1e-4 so an empty bin does not divide by zero.
    WITH edges AS (
        SELECT array_agg(e ORDER BY e) AS e
          FROM (SELECT DISTINCT p_base[1 + d * (cardinality(p_base) - 1) / 10] AS e FROM generate_series(1, 9) d) x),
    bins AS (
        SELECT greatest(coalesce(fs.quantile_cdf(p_base, e[i]), 1) - coalesce(fs.quantile_cdf(p_base, e[i - 1]), 0), 1e-4) AS a,
               greatest(coalesce(fs.quantile_cdf(p_new, e[i]), 1) - coalesce(fs.quantile_cdf(p_new, e[i - 1]), 0), 1e-4) AS b
          FROM edges, generate_series(1, cardinality(e) + 1) i)
    SELECT CASE WHEN p_base IS NULL OR p_new IS NULL THEN NULL ELSE sum((b - a) * ln(b / a)) END FROM bins
$$;
COMMENT ON FUNCTION fs.psi_numeric(double precision[], double precision[]) IS 'Population stability index of a new distribution against a baseline, both given as 101 quantiles; bins are the baseline''s deciles.';

CREATE OR REPLACE FUNCTION fs.psi_categorical(p_base jsonb, p_new jsonb)
RETURNS double precision
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- Categories are the most frequent values of either side plus "everything else".
    WITH counts AS (
        SELECT k, coalesce((p_base -> 'values' ->> k)::float8, 0) AS a, coalesce((p_new -> 'values' ->> k)::float8, 0) AS b
          FROM (SELECT jsonb_object_keys(p_base -> 'values') UNION SELECT jsonb_object_keys(p_new -> 'values')) c(k)
        UNION ALL
        SELECT NULL, (p_base ->> 'other')::float8, (p_new ->> 'other')::float8),
    shares AS (
        SELECT greatest(a / nullif(sum(a) OVER (), 0), 1e-4) AS a, greatest(b / nullif(sum(b) OVER (), 0), 1e-4) AS b FROM counts)
    SELECT CASE WHEN p_base IS NULL OR p_new IS NULL THEN NULL ELSE sum((b - a) * ln(b / a)) END FROM shares
$$;
COMMENT ON FUNCTION fs.psi_categorical(jsonb, jsonb) IS 'Population stability index of two top-value histograms (kind top).';

CREATE OR REPLACE FUNCTION fs.drift_thresholds(p_view_id integer, p_feature text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- Defaults: PSI 0.2 is the customary "significant shift"; a mean moving by a quarter
    -- of the baseline's standard deviation; five points more (or fewer) nulls.
    SELECT '{"psi": 0.2, "mean_shift": 0.25, "null_rate_delta": 0.05}'::jsonb
           || (fv.drift - 'features') || coalesce(fv.drift -> 'features' -> p_feature, '{}')
      FROM fs.feature_view fv WHERE fv.view_id = p_view_id
$$;
COMMENT ON FUNCTION fs.drift_thresholds(integer, text) IS 'Drift thresholds for one feature: defaults, then the view''s drift: settings, then the feature''s own.';

CREATE OR REPLACE FUNCTION fs.drift_report(p_base text, p_base_source text, p_new text, p_new_source text,
                                           p_start timestamptz DEFAULT NULL, p_end timestamptz DEFAULT NULL)
RETURNS SETOF fs.drift_row
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_base fs.feature_view_version := fs.resolve_version(p_base);
    v_new  fs.feature_view_version := fs.resolve_version(p_new);
    v_base_stats fs.feature_stats[];
    v_new_stats  fs.feature_stats[];
BEGIN
    -- Arrays, not temp tables: a caller could have made a table of that name first.
    -- The time range applies to history; an online table is measured as it serves now.
    v_base_stats := ARRAY(SELECT s FROM fs.compute_stats(p_base,
        CASE WHEN p_base_source = 'history' THEN p_start END, CASE WHEN p_base_source = 'history' THEN p_end END, p_base_source) s);
    v_new_stats := ARRAY(SELECT s FROM fs.compute_stats(p_new,
        CASE WHEN p_new_source = 'history' THEN p_start END, CASE WHEN p_new_source = 'history' THEN p_end END, p_new_source) s);
    RETURN QUERY
    WITH pairs AS (
        SELECT coalesce(fb.name, fn.name) AS feature, fb.dtype AS dtype_base, fn.dtype AS dtype_new,
               fb.rules AS rules_base, fn.rules AS rules_new, b AS sb, n AS sn,
               fs.drift_thresholds(v_new.view_id, coalesce(fn.name, fb.name)) AS t
          FROM (SELECT * FROM fs.feature WHERE version_id = v_base.version_id) fb
          FULL JOIN (SELECT * FROM fs.feature WHERE version_id = v_new.version_id) fn ON fn.name = fb.name
          LEFT JOIN unnest(v_base_stats) b ON b.feature_id = fb.feature_id
          LEFT JOIN unnest(v_new_stats) n ON n.feature_id = fn.feature_id),
    measured AS (
        SELECT p.feature,
               CASE WHEN p.dtype_base IS NULL THEN 'added'
                    WHEN p.dtype_new IS NULL THEN 'removed'
                    WHEN p.dtype_base <> p.dtype_new THEN format('dtype %s -> %s', p.dtype_base, p.dtype_new)
                    WHEN p.rules_base <> p.rules_new THEN format('rules %s -> %s', p.rules_base, p.rules_new) END AS change,
               CASE WHEN (p.sb).histogram ->> 'kind' = 'top' THEN fs.psi_categorical((p.sb).histogram, (p.sn).histogram)
                    ELSE fs.psi_numeric((p.sb).quantiles, (p.sn).quantiles) END AS psi,
               (p.sb).mean AS mean_base, (p.sn).mean AS mean_new,
               abs((p.sn).mean - (p.sb).mean) / nullif((p.sb).stddev, 0) AS mean_shift,
               (p.sb).nulls::float8 / nullif((p.sb).row_count, 0) AS null_rate_base,
               (p.sn).nulls::float8 / nullif((p.sn).row_count, 0) AS null_rate_new,
               p.t
          FROM pairs p)
    SELECT m.feature, m.change, m.psi, m.mean_base, m.mean_new, m.mean_shift, m.null_rate_base, m.null_rate_new,
           m.null_rate_new - m.null_rate_base,
           cardinality(r.reasons) > 0, r.reasons
      FROM measured m,
           LATERAL (SELECT array_remove(ARRAY[
                        CASE WHEN m.change IS NOT NULL THEN 'schema: ' || m.change END,
                        CASE WHEN m.psi > (m.t ->> 'psi')::float8 THEN format('psi %s > %s', round(m.psi::numeric, 3), m.t ->> 'psi') END,
                        CASE WHEN m.mean_shift > (m.t ->> 'mean_shift')::float8
                             THEN format('mean moved %s stddev > %s', round(m.mean_shift::numeric, 3), m.t ->> 'mean_shift') END,
                        CASE WHEN abs(m.null_rate_new - m.null_rate_base) > (m.t ->> 'null_rate_delta')::float8
                             THEN format('null rate %s -> %s', round(m.null_rate_base::numeric, 3), round(m.null_rate_new::numeric, 3)) END],
                        NULL) AS reasons) r
     ORDER BY m.feature;
END
$$;
COMMENT ON FUNCTION fs.drift_report(text, text, text, text, timestamptz, timestamptz) IS 'Per feature: schema change, PSI, mean shift (in baseline stddevs) and null-rate delta of p_new (view@v, history or online) against p_base, flagged against the view''s drift thresholds; the statistics are stored.';

CREATE OR REPLACE FUNCTION fs.compare_versions(p_view text, p_base integer, p_new integer,
                                               p_start timestamptz DEFAULT NULL, p_end timestamptz DEFAULT NULL)
RETURNS SETOF fs.drift_row
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_base  fs.feature_view_version := fs.resolve_version(format('%s@%s', p_view, p_base));
    v_new   fs.feature_view_version := fs.resolve_version(format('%s@%s', p_view, p_new));
    v_start timestamptz := p_start;
    v_end   timestamptz := p_end;
    v_range record;
BEGIN
    IF p_start IS NULL AND p_end IS NULL THEN
        -- Compare like with like: the event-time range both versions cover.
        EXECUTE format('SELECT greatest(a.lo, b.lo) AS lo, least(a.hi, b.hi) AS hi'
                       '  FROM (SELECT min(event_ts) lo, max(event_ts) hi FROM fs_offline.%I) a,'
                       '       (SELECT min(event_ts) lo, max(event_ts) hi FROM fs_offline.%I) b',
                       v_base.offline_table, v_new.offline_table) INTO v_range;
        IF v_range.lo <= v_range.hi THEN
            v_start := v_range.lo;
            v_end := v_range.hi;
        END IF;
    END IF;
    RETURN QUERY SELECT * FROM fs.drift_report(format('%s@%s', p_view, p_base), 'history', format('%s@%s', p_view, p_new), 'history', v_start, v_end);
END
$$;
COMMENT ON FUNCTION fs.compare_versions(text, integer, integer, timestamptz, timestamptz) IS 'Drift of version p_new of a feature view against p_base, over the event-time range both cover (or [start, end]).';

CREATE OR REPLACE FUNCTION fs.training_serving_skew(p_view text, p_start timestamptz DEFAULT NULL, p_end timestamptz DEFAULT NULL)
RETURNS SETOF fs.drift_row
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- Training time is history (over [start, end] when given); serving time is what the
    -- online table serves now.
    SELECT * FROM fs.drift_report(p_view, 'history', p_view, 'online', p_start, p_end)
$$;
COMMENT ON FUNCTION fs.training_serving_skew(text, timestamptz, timestamptz) IS 'Skew between what a view version was trained on (history) and what it serves (online values within the TTL), per feature.';
