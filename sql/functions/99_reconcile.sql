-- 99_reconcile: bring objects generated for existing versions up to the current code
-- after an upgrade (triggers are replaced in place, missing serving functions made). Runs last on every migrate;
-- everything it calls is idempotent.

SELECT fs.install_history_triggers(version_id), fs.install_online_sync(version_id)
  FROM fs.feature_view_version ORDER BY version_id;

-- Feature services defined before their generated functions existed (0003) get them.
SELECT fs.create_service_functions(sv.service_version_id)
  FROM fs.feature_service_version sv JOIN fs.feature_service s USING (service_id)
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = 'fs_serving' AND p.proname = format('%s__v%s', s.name, sv.version))
 ORDER BY sv.service_version_id;
