-- 99_reconcile: bring objects generated for existing versions up to the current code
-- after an upgrade (triggers are replaced in place). Runs last on every migrate;
-- everything it calls is idempotent.

SELECT fs.install_history_triggers(version_id), fs.install_online_sync(version_id)
  FROM fs.feature_view_version ORDER BY version_id;
