-- 99_reconcile: bring objects generated for existing versions up to the current code
-- after an upgrade (triggers and trigger functions are replaced in place, missing serving
-- functions made). Runs last on every migrate;
-- everything it calls is idempotent.

SELECT fs.install_history_triggers(version_id), fs.install_online_sync(version_id)
  FROM fs.feature_view_version ORDER BY version_id;

-- Column comments for versions and views made before every column had one (only those:
-- a comment takes a lock on its table, and a store has many).
SELECT fs.comment_version_tables(vv.version_id)
  FROM fs.feature_view_version vv
 WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute a
                WHERE a.attrelid IN (format('fs_offline.%I', vv.offline_table)::regclass,
                                     format('fs_online.%I', vv.online_table)::regclass)
                  AND a.attnum > 0 AND NOT a.attisdropped AND col_description(a.attrelid, a.attnum) IS NULL)
 ORDER BY vv.version_id;
SELECT fs.comment_current_views(fv.view_id)
  FROM fs.feature_view fv
 WHERE fv.current_version IS NOT NULL
   AND EXISTS (SELECT FROM pg_catalog.pg_attribute a
                WHERE a.attrelid IN (format('fs_offline.%I', fv.name)::regclass, format('fs_online.%I', fv.name)::regclass)
                  AND a.attnum > 0 AND NOT a.attisdropped AND col_description(a.attrelid, a.attnum) IS NULL)
 ORDER BY fv.view_id;

-- Feature services defined before their generated functions existed (0003) get them.
SELECT fs.create_service_functions(sv.service_version_id)
  FROM fs.feature_service_version sv JOIN fs.feature_service s USING (service_id)
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = 'fs_serving' AND p.proname = fs.versioned_name(s.name, sv.version))
 ORDER BY sv.service_version_id;

-- The dual-write triggers of views with staged or previous versions, written by the
-- current code (75_rollout.sql).
SELECT fs.install_stage_writes(fv.view_id)
  FROM fs.feature_view fv
 WHERE fv.previous_version IS NOT NULL
    OR EXISTS (SELECT 1 FROM fs.feature_view_version vv WHERE vv.view_id = fv.view_id AND vv.staged)
 ORDER BY fv.view_id;

-- CDC trigger functions, written by the current code (85_cdc.sql); one that cannot be
-- (its view changed under it) keeps the old one and says so.
DO $cdc$
DECLARE
    v_name text;
BEGIN
    FOR v_name IN SELECT name FROM fs.source_database WHERE kind = 'cdc' ORDER BY name LOOP
        BEGIN
            PERFORM fs.install_cdc_trigger(v_name);
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'CDC source % keeps its trigger function: %', v_name, SQLERRM;
        END;
    END LOOP;
END
$cdc$;
