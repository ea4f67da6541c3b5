-- 95_comments: COMMENT ON every column of the catalog's tables and views, so BI tools
-- and psql's \d+ describe them. Re-applied on every migrate (COMMENT ON is idempotent);
-- a catalog column without a comment fails tests/test_comments.py. Columns commented
-- where their migration made them are left as they are.



COMMENT ON COLUMN fs.backfill.version_id IS 'The staged version being filled.';
COMMENT ON COLUMN fs.backfill.from_version_id IS 'The version its rows are copied from.';
COMMENT ON COLUMN fs.backfill.start_at IS 'First event time copied (inclusive; NULL: from the beginning).';
COMMENT ON COLUMN fs.backfill.end_at IS 'Event time copied up to (exclusive; NULL: to the boundary).';
COMMENT ON COLUMN fs.backfill.boundary IS 'Rows created after this moment were dual-written already and are not copied.';
COMMENT ON COLUMN fs.backfill.periods IS 'Partition periods to copy.';
COMMENT ON COLUMN fs.backfill.periods_done IS 'Partition periods copied so far (each in its own transaction; a rerun resumes after them).';
COMMENT ON COLUMN fs.backfill.rows_read IS 'Rows read from the source version.';
COMMENT ON COLUMN fs.backfill.inserted IS 'Rows written to the staged version.';
COMMENT ON COLUMN fs.backfill.quarantined IS 'Rows the staged version''s rules refused (in fs.quarantine).';
COMMENT ON COLUMN fs.backfill.started_at IS 'When the backfill began.';
COMMENT ON COLUMN fs.backfill.updated_at IS 'When the last period was copied.';
COMMENT ON COLUMN fs.backfill.finished_at IS 'When the last period and the online rebuild were done (NULL: not finished).';
COMMENT ON COLUMN fs.backfill.started_by IS 'The login that started it.';

COMMENT ON COLUMN fs.entity.entity_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.entity.name IS 'Entity name (user, merchant).';
COMMENT ON COLUMN fs.entity.description IS 'Free text for people.';
COMMENT ON COLUMN fs.entity.created_at IS 'When the row was made.';
COMMENT ON COLUMN fs.entity.created_by IS 'The login that made it (session_user).';

COMMENT ON COLUMN fs.entity_key.entity_id IS 'The entity (fs.entity).';
COMMENT ON COLUMN fs.entity_key.position IS 'Position in the key (1 = first column).';
COMMENT ON COLUMN fs.entity_key.name IS 'Key column name, as it appears in every table of the entity''s views.';
COMMENT ON COLUMN fs.entity_key.dtype IS 'Key column type (int, bigint, text, uuid, date).';

COMMENT ON COLUMN fs.erasure_log.erasure_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.erasure_log.view_name IS 'The feature view the entity was erased from (all versions).';
COMMENT ON COLUMN fs.erasure_log.entity_key IS 'The erased entity''s key, as given.';
COMMENT ON COLUMN fs.erasure_log.rows_deleted IS 'History rows deleted, summed over versions.';
COMMENT ON COLUMN fs.erasure_log.reason IS 'Why (the caller''s text, e.g. a request number).';
COMMENT ON COLUMN fs.erasure_log.erased_at IS 'When.';
COMMENT ON COLUMN fs.erasure_log.erased_by IS 'The login that erased it.';

COMMENT ON COLUMN fs.feature.feature_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.feature.version_id IS 'The feature view version (fs.feature_view_version.version_id).';
COMMENT ON COLUMN fs.feature.position IS 'Column position within the version.';
COMMENT ON COLUMN fs.feature.name IS 'Feature name (a column of the version''s history and online tables).';
COMMENT ON COLUMN fs.feature.dtype IS 'fspg dtype (float8, text, vector(16), ...).';
COMMENT ON COLUMN fs.feature.description IS 'Free text for people.';
COMMENT ON COLUMN fs.feature.rules IS 'Validation rules as JSON (not_null, min, max, allowed, regex, max_length).';

COMMENT ON COLUMN fs.feature_service.service_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.feature_service.name IS 'Service name (fs_serving.<name> serves it).';
COMMENT ON COLUMN fs.feature_service.description IS 'Free text for people.';
COMMENT ON COLUMN fs.feature_service.current_version IS 'The version fs_serving.<name> follows.';
COMMENT ON COLUMN fs.feature_service.created_at IS 'When the row was made.';

COMMENT ON COLUMN fs.feature_service_feature.service_version_id IS 'The service version.';
COMMENT ON COLUMN fs.feature_service_feature.position IS 'Column position in the service''s lookups.';
COMMENT ON COLUMN fs.feature_service_feature.feature_id IS 'The pinned feature (fs.feature), hence its view version.';

COMMENT ON COLUMN fs.feature_service_version.service_version_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.feature_service_version.service_id IS 'The service (fs.feature_service).';
COMMENT ON COLUMN fs.feature_service_version.version IS 'Version number, from 1.';
COMMENT ON COLUMN fs.feature_service_version.refs IS 'The references as written (view.feature, view@2.*).';
COMMENT ON COLUMN fs.feature_service_version.created_at IS 'When the row was made.';
COMMENT ON COLUMN fs.feature_service_version.created_by IS 'The login that made it (session_user).';

COMMENT ON COLUMN fs.feature_services.name IS 'Service name.';
COMMENT ON COLUMN fs.feature_services.version IS 'Service version.';
COMMENT ON COLUMN fs.feature_services.is_current IS 'Whether fs_serving.<name> follows this version.';
COMMENT ON COLUMN fs.feature_services.description IS 'Free text for people.';
COMMENT ON COLUMN fs.feature_services.position IS 'Column position in lookups.';
COMMENT ON COLUMN fs.feature_services.feature_view IS 'Feature view of the feature.';
COMMENT ON COLUMN fs.feature_services.feature_view_version IS 'Pinned view version.';
COMMENT ON COLUMN fs.feature_services.feature IS 'Feature name.';
COMMENT ON COLUMN fs.feature_services.dtype IS 'fspg dtype.';

COMMENT ON COLUMN fs.feature_stats.stats_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.feature_stats.version_id IS 'The feature view version (fs.feature_view_version.version_id).';
COMMENT ON COLUMN fs.feature_stats.feature_id IS 'The feature (fs.feature).';
COMMENT ON COLUMN fs.feature_stats.source IS 'What was measured: history or online.';
COMMENT ON COLUMN fs.feature_stats.range_start IS 'First event time measured (NULL: from the beginning).';
COMMENT ON COLUMN fs.feature_stats.range_end IS 'Last event time measured (NULL: to the end).';
COMMENT ON COLUMN fs.feature_stats.computed_at IS 'When the statistics were computed.';
COMMENT ON COLUMN fs.feature_stats.row_count IS 'Rows measured.';
COMMENT ON COLUMN fs.feature_stats.nulls IS 'NULL values (NaN and infinities count as NULL).';
COMMENT ON COLUMN fs.feature_stats.min IS 'Smallest value.';
COMMENT ON COLUMN fs.feature_stats.max IS 'Largest value.';
COMMENT ON COLUMN fs.feature_stats.mean IS 'Mean.';
COMMENT ON COLUMN fs.feature_stats.stddev IS 'Sample standard deviation.';
COMMENT ON COLUMN fs.feature_stats.quantiles IS 'The 101 percentiles p0..p100 (numbers).';
COMMENT ON COLUMN fs.feature_stats.distinct_count IS 'Distinct values.';
COMMENT ON COLUMN fs.feature_stats.histogram IS '10 bins for numbers; the 20 most frequent values for text (JSON).';

COMMENT ON COLUMN fs.feature_view.view_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.feature_view.name IS 'Feature view name.';
COMMENT ON COLUMN fs.feature_view.entity_id IS 'The entity it is about (NULL: a global view).';
COMMENT ON COLUMN fs.feature_view.owner IS 'The team or person responsible.';
COMMENT ON COLUMN fs.feature_view.description IS 'Free text for people.';
COMMENT ON COLUMN fs.feature_view.created_at IS 'When the row was made.';
COMMENT ON COLUMN fs.feature_view.updated_at IS 'When owner, description, retention, refresh or drift thresholds last changed in place.';

COMMENT ON COLUMN fs.feature_view_stats.feature_view IS 'Feature view name.';
COMMENT ON COLUMN fs.feature_view_stats.version IS 'Version.';
COMMENT ON COLUMN fs.feature_view_stats.is_current IS 'Whether it is the promoted (serving) version.';
COMMENT ON COLUMN fs.feature_view_stats.rows IS 'History rows.';
COMMENT ON COLUMN fs.feature_view_stats.oldest_event IS 'Oldest event_ts in history.';
COMMENT ON COLUMN fs.feature_view_stats.newest_event IS 'Newest event_ts in history.';
COMMENT ON COLUMN fs.feature_view_stats.last_ingest_at IS 'When the last batch finished.';
COMMENT ON COLUMN fs.feature_view_stats.batches IS 'Batches ingested.';
COMMENT ON COLUMN fs.feature_view_stats.quarantined_rows IS 'Quarantined rows waiting for a replay.';

COMMENT ON COLUMN fs.feature_view_version.version_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.feature_view_version.view_id IS 'The feature view (fs.feature_view).';
COMMENT ON COLUMN fs.feature_view_version.version IS 'Version number, from 1.';
COMMENT ON COLUMN fs.feature_view_version.definition IS 'The normalised definition (JSON) this version was made from.';
COMMENT ON COLUMN fs.feature_view_version.ttl IS 'How long a value serves and joins after its event time.';
COMMENT ON COLUMN fs.feature_view_version.partition_by IS 'History partition period: day, week, month or year.';
COMMENT ON COLUMN fs.feature_view_version.retention IS 'How long history is kept (NULL: forever).';
COMMENT ON COLUMN fs.feature_view_version.tags IS 'Tags as JSON (the experiment or model the version is made for).';
COMMENT ON COLUMN fs.feature_view_version.offline_table IS 'History table in fs_offline.';
COMMENT ON COLUMN fs.feature_view_version.online_table IS 'Latest-value table in fs_online.';
COMMENT ON COLUMN fs.feature_view_version.status IS 'active or deprecated.';
COMMENT ON COLUMN fs.feature_view_version.created_at IS 'When the row was made.';
COMMENT ON COLUMN fs.feature_view_version.created_by IS 'The login that made it (session_user).';

COMMENT ON COLUMN fs.feature_views.name IS 'Feature view name.';
COMMENT ON COLUMN fs.feature_views.current_version IS 'The promoted (serving) version.';
COMMENT ON COLUMN fs.feature_views.entity IS 'Entity name (NULL: global).';
COMMENT ON COLUMN fs.feature_views.keys IS 'Key columns and types.';
COMMENT ON COLUMN fs.feature_views.owner IS 'Responsible team or person.';
COMMENT ON COLUMN fs.feature_views.description IS 'Free text for people.';
COMMENT ON COLUMN fs.feature_views.ttl IS 'Time to live of a value.';
COMMENT ON COLUMN fs.feature_views.partition_by IS 'History partition period.';
COMMENT ON COLUMN fs.feature_views.retention IS 'History retention.';
COMMENT ON COLUMN fs.feature_views.tags IS 'Tags (JSON).';
COMMENT ON COLUMN fs.feature_views.versions IS 'Number of versions.';
COMMENT ON COLUMN fs.feature_views.offline_table IS 'History table of the promoted version.';
COMMENT ON COLUMN fs.feature_views.online_table IS 'Online table of the promoted version.';
COMMENT ON COLUMN fs.feature_views.created_at IS 'When the row was made.';
COMMENT ON COLUMN fs.feature_views.updated_at IS 'Last in-place change.';

COMMENT ON COLUMN fs.features.feature_view IS 'Feature view name.';
COMMENT ON COLUMN fs.features.version IS 'Version.';
COMMENT ON COLUMN fs.features.is_current IS 'Whether it is the promoted version.';
COMMENT ON COLUMN fs.features.position IS 'Column position.';
COMMENT ON COLUMN fs.features.feature IS 'Feature name.';
COMMENT ON COLUMN fs.features.dtype IS 'fspg dtype.';
COMMENT ON COLUMN fs.features.description IS 'Free text for people.';
COMMENT ON COLUMN fs.features.rules IS 'Validation rules (JSON).';
COMMENT ON COLUMN fs.features.tags IS 'The version''s tags (JSON).';

COMMENT ON COLUMN fs.history_stats.version_id IS 'The feature view version (fs.feature_view_version.version_id).';
COMMENT ON COLUMN fs.history_stats.rows IS 'History rows added by the batch (negative after deletions).';
COMMENT ON COLUMN fs.history_stats.min_event_ts IS 'Oldest event time written.';
COMMENT ON COLUMN fs.history_stats.max_event_ts IS 'Newest event time written.';
COMMENT ON COLUMN fs.history_stats.recorded_at IS 'When.';
COMMENT ON COLUMN fs.history_stats.batch_id IS 'The batch (NULL for plain SQL writes).';

COMMENT ON COLUMN fs.ingest_batch.batch_id IS 'Surrogate key: the batch id users see.';
COMMENT ON COLUMN fs.ingest_batch.version_id IS 'The feature view version (fs.feature_view_version.version_id).';
COMMENT ON COLUMN fs.ingest_batch.mode IS 'quarantine (bad rows set aside) or strict (all or nothing).';
COMMENT ON COLUMN fs.ingest_batch.source IS 'Where the rows came from (a file, client, CDC, backfill).';
COMMENT ON COLUMN fs.ingest_batch.rows_in IS 'Rows received: inserted + quarantined + unchanged.';
COMMENT ON COLUMN fs.ingest_batch.inserted IS 'Rows written to history.';
COMMENT ON COLUMN fs.ingest_batch.quarantined IS 'Rows set aside in fs.quarantine.';
COMMENT ON COLUMN fs.ingest_batch.reasons IS 'Quarantined rows per broken rule (JSON).';
COMMENT ON COLUMN fs.ingest_batch.columns IS 'The batch''s columns and types as sent (JSON).';
COMMENT ON COLUMN fs.ingest_batch.min_event_ts IS 'Oldest event time in the batch.';
COMMENT ON COLUMN fs.ingest_batch.max_event_ts IS 'Newest event time in the batch.';
COMMENT ON COLUMN fs.ingest_batch.started_at IS 'When the batch began.';
COMMENT ON COLUMN fs.ingest_batch.finished_at IS 'When it committed.';
COMMENT ON COLUMN fs.ingest_batch.created_by IS 'The login that sent it.';
COMMENT ON COLUMN fs.ingest_batch.application_name IS 'The client''s application_name.';

COMMENT ON COLUMN fs.lineage.source_kind IS 'Kind of the upstream object.';
COMMENT ON COLUMN fs.lineage.source_name IS 'Upstream object.';
COMMENT ON COLUMN fs.lineage.target_kind IS 'Kind of the downstream object.';
COMMENT ON COLUMN fs.lineage.target_name IS 'Downstream object.';
COMMENT ON COLUMN fs.lineage.created_at IS 'When the edge was recorded.';

COMMENT ON COLUMN fs.lineage_edge.edge_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.lineage_edge.source_kind IS 'Kind of the upstream object (table, feature_view, ...).';
COMMENT ON COLUMN fs.lineage_edge.source_name IS 'Upstream object.';
COMMENT ON COLUMN fs.lineage_edge.target_kind IS 'Kind of the downstream object.';
COMMENT ON COLUMN fs.lineage_edge.target_name IS 'Downstream object.';
COMMENT ON COLUMN fs.lineage_edge.created_at IS 'When the edge was recorded.';

COMMENT ON COLUMN fs.maintenance_log.entry_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.maintenance_log.version_id IS 'The feature view version (fs.feature_view_version.version_id).';
COMMENT ON COLUMN fs.maintenance_log.action IS 'What upkeep did (partition created or dropped, default rows moved, rows expired).';
COMMENT ON COLUMN fs.maintenance_log.detail IS 'Details (JSON).';
COMMENT ON COLUMN fs.maintenance_log.done_at IS 'When.';

COMMENT ON COLUMN fs.model.model_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.model.name IS 'Model name.';
COMMENT ON COLUMN fs.model.description IS 'Free text for people.';
COMMENT ON COLUMN fs.model.created_at IS 'When the row was made.';

COMMENT ON COLUMN fs.model_feature.model_version_id IS 'The model version.';
COMMENT ON COLUMN fs.model_feature.position IS 'Feature position.';
COMMENT ON COLUMN fs.model_feature.feature_id IS 'The pinned feature (fs.feature).';

COMMENT ON COLUMN fs.model_version.model_version_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.model_version.model_id IS 'The model (fs.model).';
COMMENT ON COLUMN fs.model_version.version IS 'Model version number.';
COMMENT ON COLUMN fs.model_version.ts_version_id IS 'The stored training set version it was trained on (NULL: features given directly).';
COMMENT ON COLUMN fs.model_version.experiment IS 'The experiment (run) id it came from.';
COMMENT ON COLUMN fs.model_version.params IS 'Hyper-parameters (JSON).';
COMMENT ON COLUMN fs.model_version.metrics IS 'Evaluation metrics (JSON).';
COMMENT ON COLUMN fs.model_version.status IS 'active or archived.';
COMMENT ON COLUMN fs.model_version.created_at IS 'When the row was made.';
COMMENT ON COLUMN fs.model_version.created_by IS 'The login that made it (session_user).';

COMMENT ON COLUMN fs.models.model IS 'Model name.';
COMMENT ON COLUMN fs.models.version IS 'Model version.';
COMMENT ON COLUMN fs.models.status IS 'active or archived.';
COMMENT ON COLUMN fs.models.experiment IS 'Experiment (run) id.';
COMMENT ON COLUMN fs.models.training_set IS 'Training set NAME@V it was trained on.';
COMMENT ON COLUMN fs.models.features IS 'Pinned feature references.';
COMMENT ON COLUMN fs.models.params IS 'Hyper-parameters (JSON).';
COMMENT ON COLUMN fs.models.metrics IS 'Evaluation metrics (JSON).';
COMMENT ON COLUMN fs.models.description IS 'Free text for people.';
COMMENT ON COLUMN fs.models.created_at IS 'When the row was made.';
COMMENT ON COLUMN fs.models.created_by IS 'The login that made it (session_user).';

COMMENT ON COLUMN fs.promotion.promotion_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.promotion.view_id IS 'The feature view.';
COMMENT ON COLUMN fs.promotion.from_version IS 'Version served before.';
COMMENT ON COLUMN fs.promotion.to_version IS 'Version served after.';
COMMENT ON COLUMN fs.promotion.kind IS 'promote or rollback.';
COMMENT ON COLUMN fs.promotion.forced IS 'Whether readiness checks were overridden (--force).';
COMMENT ON COLUMN fs.promotion.promoted_at IS 'When.';
COMMENT ON COLUMN fs.promotion.promoted_by IS 'The login that switched it.';

COMMENT ON COLUMN fs.quarantine.batch_id IS 'The batch the row arrived in.';
COMMENT ON COLUMN fs.quarantine.row_number IS 'Its position in the batch (from 1).';
COMMENT ON COLUMN fs.quarantine.version_id IS 'The feature view version (fs.feature_view_version.version_id).';
COMMENT ON COLUMN fs.quarantine.data IS 'The row as it arrived (JSON).';
COMMENT ON COLUMN fs.quarantine.reasons IS 'Every rule it broke (<feature>__<rule>).';
COMMENT ON COLUMN fs.quarantine.quarantined_at IS 'When.';
COMMENT ON COLUMN fs.quarantine.replayed_batch_id IS 'The replay batch that took it (NULL: waiting).';

COMMENT ON COLUMN fs.replica.name IS 'Replica name.';
COMMENT ON COLUMN fs.replica.dsn IS 'Its DSN, without a password.';
COMMENT ON COLUMN fs.replica.subscription IS 'Subscription on the replica.';
COMMENT ON COLUMN fs.replica.slot_name IS 'Replication slot on the primary.';
COMMENT ON COLUMN fs.replica.added_at IS 'When.';
COMMENT ON COLUMN fs.replica.added_by IS 'The login that added it.';

COMMENT ON COLUMN fs.rollout_status.feature_view IS 'Feature view name.';
COMMENT ON COLUMN fs.rollout_status.version IS 'Version.';
COMMENT ON COLUMN fs.rollout_status.stage IS 'promoted, staged, previous or retired.';
COMMENT ON COLUMN fs.rollout_status.backfilled IS 'Whether a backfill finished.';
COMMENT ON COLUMN fs.rollout_status.backfill_progress IS 'Partition periods done / all.';
COMMENT ON COLUMN fs.rollout_status.backfill_inserted IS 'Rows the backfill wrote.';
COMMENT ON COLUMN fs.rollout_status.backfill_quarantined IS 'Rows the backfill quarantined.';
COMMENT ON COLUMN fs.rollout_status.created_at IS 'When the version was made.';
COMMENT ON COLUMN fs.rollout_status.promoted_at IS 'When it was last promoted.';

COMMENT ON COLUMN fs.source_database.name IS 'Source name.';
COMMENT ON COLUMN fs.source_database.kind IS 'fdw (postgres_fdw) or cdc (logical replication).';
COMMENT ON COLUMN fs.source_database.server_name IS 'Foreign server (fdw).';
COMMENT ON COLUMN fs.source_database.local_schema IS 'Schema holding its imported or mirrored tables.';
COMMENT ON COLUMN fs.source_database.tables IS 'Tables imported or captured.';
COMMENT ON COLUMN fs.source_database.version_id IS 'The view version a CDC source feeds.';
COMMENT ON COLUMN fs.source_database.event_time IS 'CDC: the column holding each change''s event time.';
COMMENT ON COLUMN fs.source_database.dsn IS 'DSN without a password.';
COMMENT ON COLUMN fs.source_database.added_at IS 'When.';
COMMENT ON COLUMN fs.source_database.added_by IS 'The login that added it.';

COMMENT ON COLUMN fs.source_run.run_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.source_run.version_id IS 'The feature view version (fs.feature_view_version.version_id).';
COMMENT ON COLUMN fs.source_run.window_start IS 'Window start (event time, inclusive).';
COMMENT ON COLUMN fs.source_run.window_end IS 'Window end (exclusive).';
COMMENT ON COLUMN fs.source_run.batch_id IS 'The batch it wrote.';
COMMENT ON COLUMN fs.source_run.rows_in IS 'Rows from the query: unchanged + inserted + quarantined.';
COMMENT ON COLUMN fs.source_run.unchanged IS 'Rows history already held.';
COMMENT ON COLUMN fs.source_run.inserted IS 'Rows written.';
COMMENT ON COLUMN fs.source_run.quarantined IS 'Rows set aside.';
COMMENT ON COLUMN fs.source_run.started_at IS 'When the run began.';
COMMENT ON COLUMN fs.source_run.finished_at IS 'When it committed.';
COMMENT ON COLUMN fs.source_run.run_by IS 'The login that ran it.';

COMMENT ON COLUMN fs.source_status.feature_view IS 'Feature view name.';
COMMENT ON COLUMN fs.source_status.version IS 'Version.';
COMMENT ON COLUMN fs.source_status.refresh IS 'How often it runs when due.';
COMMENT ON COLUMN fs.source_status.start_at IS 'Where the first run begins.';
COMMENT ON COLUMN fs.source_status.high_water IS 'Event time up to which the query has run.';
COMMENT ON COLUMN fs.source_status.last_run_at IS 'When it last ran.';
COMMENT ON COLUMN fs.source_status.last_error IS 'The last run''s error (NULL: none).';
COMMENT ON COLUMN fs.source_status.runs IS 'Runs so far.';
COMMENT ON COLUMN fs.source_status.rows_inserted IS 'Rows written over all runs.';
COMMENT ON COLUMN fs.source_status.query IS 'The source query.';

COMMENT ON COLUMN fs.training_set.training_set_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.training_set.name IS 'Training set name.';
COMMENT ON COLUMN fs.training_set.description IS 'Free text for people.';
COMMENT ON COLUMN fs.training_set.current_version IS 'The version fs_training.<name> returns.';
COMMENT ON COLUMN fs.training_set.created_at IS 'When the row was made.';

COMMENT ON COLUMN fs.training_set_feature.ts_version_id IS 'The training set version.';
COMMENT ON COLUMN fs.training_set_feature.position IS 'Column position.';
COMMENT ON COLUMN fs.training_set_feature.feature_id IS 'The pinned feature (fs.feature).';

COMMENT ON COLUMN fs.training_set_version.ts_version_id IS 'Surrogate key.';
COMMENT ON COLUMN fs.training_set_version.training_set_id IS 'The training set.';
COMMENT ON COLUMN fs.training_set_version.version IS 'Version number.';
COMMENT ON COLUMN fs.training_set_version.refs IS 'Feature references as requested.';
COMMENT ON COLUMN fs.training_set_version.timestamp_column IS 'The spine''s timestamp column.';
COMMENT ON COLUMN fs.training_set_version.spine_source IS 'Where the spine came from (data, a table, a query).';
COMMENT ON COLUMN fs.training_set_version.spine_table IS 'The stored spine''s table in fs_training.';
COMMENT ON COLUMN fs.training_set_version.spine_hash IS 'Hash of the spine''s rows.';
COMMENT ON COLUMN fs.training_set_version.as_of IS 'Only history rows created by this moment are joined.';
COMMENT ON COLUMN fs.training_set_version.row_count IS 'Rows of the set.';
COMMENT ON COLUMN fs.training_set_version.content_hash IS 'Hash of the set''s rows (verify compares it).';
COMMENT ON COLUMN fs.training_set_version.created_at IS 'When the row was made.';
COMMENT ON COLUMN fs.training_set_version.created_by IS 'The login that made it (session_user).';

COMMENT ON COLUMN fs.training_sets.training_set IS 'Training set name.';
COMMENT ON COLUMN fs.training_sets.version IS 'Version.';
COMMENT ON COLUMN fs.training_sets.current IS 'Whether it is the current version.';
COMMENT ON COLUMN fs.training_sets.as_of IS 'History cut-off.';
COMMENT ON COLUMN fs.training_sets.row_count IS 'Rows.';
COMMENT ON COLUMN fs.training_sets.content_hash IS 'Hash of the rows.';
COMMENT ON COLUMN fs.training_sets.features IS 'Pinned feature references.';
COMMENT ON COLUMN fs.training_sets.timestamp_column IS 'Spine timestamp column.';
COMMENT ON COLUMN fs.training_sets.spine_source IS 'Where the spine came from.';
COMMENT ON COLUMN fs.training_sets.relation IS 'SQL view returning its rows.';
COMMENT ON COLUMN fs.training_sets.description IS 'Free text for people.';
COMMENT ON COLUMN fs.training_sets.created_at IS 'When the row was made.';
COMMENT ON COLUMN fs.training_sets.created_by IS 'The login that made it (session_user).';

COMMENT ON COLUMN fs.view_source.version_id IS 'The feature view version (fs.feature_view_version.version_id).';
COMMENT ON COLUMN fs.view_source.query IS 'The SQL the view''s rows come from.';
COMMENT ON COLUMN fs.view_source.refresh IS 'How often a due run happens.';
COMMENT ON COLUMN fs.view_source.start_at IS 'Where the first incremental run begins.';
COMMENT ON COLUMN fs.view_source.high_water IS 'Event time up to which the query has run.';
COMMENT ON COLUMN fs.view_source.last_run_at IS 'When it last ran.';
COMMENT ON COLUMN fs.view_source.last_error IS 'The last run''s error (NULL: none).';

-- [F10] Citus.
COMMENT ON COLUMN fs.feature_view_version.distributed IS 'Its history and online tables are Citus distributed tables (fspg distribute).';
COMMENT ON COLUMN fs.distribution.singleton IS 'Always true: the table holds one row.';
COMMENT ON COLUMN fs.distribution.shard_count IS 'Shards of every distributed table (one count keeps them co-located).';
COMMENT ON COLUMN fs.distribution.distributed_at IS 'When the store was first distributed.';
COMMENT ON COLUMN fs.distribution.distributed_by IS 'Who distributed it.';
