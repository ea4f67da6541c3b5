-- 90_privileges: who may call which fs function. Applied after every function exists.
-- Generated tables and views are granted where they are created (40_tables.sql).
-- Role ladder: fs_admin > fs_writer > fs_reader > fs_serving; each has what is below.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA fs FROM PUBLIC;

-- fs_admin defines features and runs upkeep. SECURITY DEFINER functions, so admins
-- create tables without owning the schemas.
GRANT EXECUTE ON FUNCTION fs.apply(jsonb, boolean) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.apply_entity(jsonb) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.apply_feature_view(jsonb) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.apply_feature_service(jsonb) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.maintain(integer) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.drop_expired_partitions(integer) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.fold_history_stats(integer) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.forget(text, jsonb, text) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.materialize(text) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.ensure_publication() TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.replica_ddl() TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.replica_slots() TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.online_drift(text) TO fs_reader;

-- fs_writer ingests. fs.ingest runs as the caller (it reads the caller's staging
-- table); only partition creation runs as the owner.
GRANT EXECUTE ON FUNCTION fs.ingest(text, regclass, text, text, text, numeric, boolean) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.batch_by_key(text, text) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.ingest_query(integer, regclass, timestamptz) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.log_direct_batch(bigint, text, text, text, jsonb, timestamptz, text) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.replay_quarantine(bigint, text, text) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.push(text, jsonb, text, text, text) TO fs_writer;
-- The bookkeeping functions fs.ingest calls as the writer. They log only open batches
-- (issued, not yet logged) and count what reached history and quarantine themselves.
GRANT EXECUTE ON FUNCTION fs.record_batch(bigint, integer, text, text, jsonb, timestamptz, text, bigint) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.record_quarantine(bigint, integer, jsonb) TO fs_writer;
-- Bounded whoever calls it (fs.max_new_partitions per call, plausible periods only).
GRANT EXECUTE ON FUNCTION fs.ensure_partitions(integer, timestamptz[]) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.periods_between(text, timestamptz, timestamptz) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.max_new_partitions() TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.is_trusted_type(oid) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.trusted_type(text) TO fs_reader;

-- fs_reader reads the catalog and history (analysts, BI tools). These run as the caller.
GRANT SELECT ON ALL TABLES IN SCHEMA fs TO fs_reader;
-- Replicas and sources are the admins' to see and manage (their DSNs never hold a
-- password; the user mapping and the subscription do, which only their owners read).
REVOKE ALL ON fs.replica FROM fs_reader;
REVOKE ALL ON fs.source_database FROM fs_reader;
GRANT SELECT ON fs.replica, fs.source_database TO fs_admin;
GRANT SELECT (name, kind, server_name, local_schema, tables, version_id, event_time, added_at, added_by)
    ON fs.source_database TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.row_count(text, integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.list_feature_views() TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.describe_feature_view(text, integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.resolve_feature_ref(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.resolve_version(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.view_columns(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.key_columns(integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.sql_type(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.normalize_dtype(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.vector_dimension(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.vector_schema() TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.is_numeric_dtype(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.is_valid_input(text, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.valid_input_sql(text, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.integer_fits(text, text, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.check_name(text, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.check_batch_columns(text, text[]) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.cdc_name(text) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.reserved_columns() TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.rule_checks(text, text, jsonb, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.normalize_rules(text, text, jsonb) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.normalize_vector_index(text, text, jsonb) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.feature_constraint(text, text, jsonb) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.max_future_skew() TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.period_start(text, timestamptz) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.partition_name(integer, text, timestamptz) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.ttl_condition(interval, text, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.online_columns_sql(integer, text, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.online_upsert_sql(integer, text, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.report_batch_rows(bigint, timestamptz, timestamptz) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.dual_write(integer, bigint) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.placement(text) TO fs_reader;
-- Checks for a superuser itself, saying so (it creates roles on the workers).
GRANT EXECUTE ON FUNCTION fs.distribute(text[], integer) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.is_distributed() TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.distribution_column(integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.work_features(integer[]) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.serving_query(integer[]) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.online_query(text[]) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.service_statement(text, integer) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.nearest_query(text, text, integer, text[]) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.nearest(text, text, real[], integer) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.online_columns_sql(integer, text, text) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.resolve_version(text) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.parse_ref(text, text) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.versioned_name(text, integer) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.resolve_feature_ref(text) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.ttl_condition(interval, text, text) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.sql_type(text) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.normalize_dtype(text) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.vector_dimension(text) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.key_columns(integer) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.settle_as_of(timestamptz, interval) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.select_list(integer, text[], text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.load_batch_query(text, timestamptz, integer, text[], timestamptz, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.history_query(text, timestamptz, timestamptz, text[], timestamptz, text) TO fs_reader;

-- Training sets, models, statistics (F4). Writers build training sets (the spine is
-- read as themselves), register models and compute statistics; admins
-- deprecate view versions; readers read, rebuild and verify.
GRANT EXECUTE ON FUNCTION fs.relation_columns(regclass) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.spine_relation(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.spine_select(regclass, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.spine_keys(text[]) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.check_spine(regclass, text, text, text[]) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.training_query(text[], text, text, timestamptz, text[], boolean, boolean) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.newest_row_lookup(integer, text[], text, timestamptz, boolean) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.content_hash(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.query_signature(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.training_set_version_of(text, integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.verify_training_set(text, integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.training_set_query(text, integer, boolean) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.create_training_set(text, text, text[], text, timestamptz, text) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.check_training_set_name(text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.open_training_spine(text, text[], oid[], integer[]) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.store_training_set(text, integer, text, text[], timestamptz, text, text, boolean) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.pinned_refs(text[]) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.model_version_refs(integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.model_refs(text, integer) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.register_model(text, integer, text, text[], text, jsonb, jsonb, text) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.archive_model(text, integer) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.deprecate_feature_view(text) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.lineage(text, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.normalize_drift(text, jsonb) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.stat_expression(text, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.quantile_cdf(double precision[], double precision) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.psi_numeric(double precision[], double precision[]) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.psi_categorical(jsonb, jsonb) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.drift_thresholds(integer, text) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.compute_stats(text, timestamptz, timestamptz, text) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.drift_report(text, text, text, text, timestamptz, timestamptz) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.compare_versions(text, integer, integer, timestamptz, timestamptz) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.training_serving_skew(text, timestamptz, timestamptz) TO fs_writer;
GRANT SELECT ON fs.models, fs.training_sets TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.training_set_sql(text, text[], text, timestamptz) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.is_spine_query(text) TO fs_reader;

-- Sources (F5). Writers materialize and run due refreshes; the source query runs as
-- fs_source whoever calls (78_sources.sql). Only materialize records a run; a failed
-- window's note (record_source_error) is the one thing a writer states itself.
GRANT EXECUTE ON FUNCTION fs.normalize_source(text, jsonb) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.source_schedule_changed(integer, jsonb) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.due_sources() TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.materialize_source(text, timestamptz, timestamptz) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.record_source_error(integer, text) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.run_due_sources() TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.schedule_with_pg_cron(text) TO fs_admin;
GRANT SELECT ON fs.source_status TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.add_source_database(text, jsonb, text, text, text[], text) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.import_source_tables(text, text) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.remove_source_database(text) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.cdc_prepare(text, text, text, text, jsonb, text[], text) TO fs_admin;

-- Rollout (F7): admins promote, roll back and backfill; everyone reads where versions stand.
GRANT EXECUTE ON FUNCTION fs.promote(text, boolean) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.rollback(text) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.backfill_chunk(text, integer, timestamptz, timestamptz) TO fs_admin;
GRANT EXECUTE ON FUNCTION fs.version_stage(integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.ingest_query(integer, jsonb, text, timestamptz, boolean) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.serving_epoch() TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.offer_to_staged(integer, regclass, text, text, bigint) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.stage_targets(integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.max_features() TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.max_key_bytes() TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.hold_served_version(text, boolean) TO fs_writer;
GRANT EXECUTE ON FUNCTION fs.open_batch(text, text, integer) TO fs_writer;

-- Serving (F9): a feature server's health check says which schema it talks to.
GRANT SELECT ON fs.alembic_version TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.lookup_columns(text[], text, integer) TO fs_serving;
GRANT EXECUTE ON FUNCTION fs.served_column_name(fs.work_feature[], text, text) TO fs_serving;

-- The catalog site (F9) reads the catalog as the caller: readers may build it.
GRANT EXECUTE ON FUNCTION fs.row_estimate(regclass) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.site_version(integer, integer) TO fs_reader;
GRANT EXECUTE ON FUNCTION fs.site_catalog(integer) TO fs_reader;
