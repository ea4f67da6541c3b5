-- The statements the fspg client sends, by name (read by fspg/statements.py).
--
-- Each entry: a `-- name: NAME` line, one line saying what it does, then the SQL
-- (psycopg placeholders, %% for a literal %). Most are one call of an fs.* function;
-- statements whose identifiers vary are composed with psycopg.sql where they are sent.
-- tests/test_statements.py checks that every entry is used and no module holds SQL text.

-- name: add_source_database
-- Add a source database (postgres_fdw server and user mapping) and import tables.
SELECT * FROM fs.add_source_database(%(name)s, %(options)s, %(user)s, %(password)s, %(tables)s, %(schema)s);

-- name: apply
-- Apply a definitions document, or plan it (dry run): one row per step.
SELECT kind, name, version, action, serving FROM fs.apply(%(definitions)s, %(dry_run)s);

-- name: archive_model
-- Archive a model version.
SELECT fs.archive_model(%(name)s, %(version)s);

-- name: backfill_step
-- Copy one more partition period into a staged version; its progress.
SELECT version_id, periods_done, cardinality(periods) AS periods, rows_read, inserted, quarantined, finished_at FROM fs.backfill_chunk(%(ref)s, %(from_version)s, %(start)s, %(end)s);

-- name: batch_by_key
-- The batch a batch key was first used for on this view version.
SELECT b.batch_id, fv.name, vv.version, b.rows_in, b.inserted, b.quarantined, b.reasons, b.unchanged FROM fs.batch_by_key(%(view)s, %(key)s) b LEFT JOIN fs.feature_view_version vv ON vv.version_id = b.version_id LEFT JOIN fs.feature_view fv ON fv.view_id = vv.view_id;

-- name: batches
-- The newest ingest batches, of one view or all.
SELECT b.batch_id, fv.name AS feature_view, vv.version, b.mode, b.rows_in, b.inserted, b.quarantined,
       b.reasons, b.source, b.created_by, b.started_at, b.finished_at,
       round(extract(epoch FROM b.finished_at - b.started_at)::numeric, 3)::float8 AS seconds
  FROM fs.ingest_batch b
  JOIN fs.feature_view_version vv USING (version_id)
  JOIN fs.feature_view fv USING (view_id)
 WHERE %(view)s::text IS NULL OR fv.name = %(view)s
 ORDER BY b.batch_id DESC
 LIMIT %(limit)s;

-- name: cdc_name
-- Check a CDC source's name; its publication, subscription and slot name.
SELECT fs.cdc_name(%(name)s);

-- name: cdc_prepare
-- Record a CDC source and make its mirror table, trigger and catalog rows.
SELECT fs.cdc_prepare(%(name)s, %(table)s, %(view)s, %(event_time)s, %(columns)s, %(keys)s, %(dsn)s);

-- name: cdc_schema_to_lend
-- Whether the mirror's schema exists and fs_owner may not yet create in it.
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %(schema)s) AND NOT has_schema_privilege('fs_owner', %(schema)s, 'CREATE');

-- name: cdc_source_table
-- On the source: a table's oid, replica identity, column types and primary key.
SELECT c.oid, c.relreplident,
       (SELECT json_object_agg(a.attname, format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum))
          FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         WHERE i.indrelid = c.oid AND i.indisprimary) AS keys
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND c.relkind IN ('r', 'p');

-- name: cdc_sources
-- The CDC sources: names, subscriptions, mirror tables, DSNs.
SELECT name, server_name, local_schema, tables, dsn FROM fs.source_database WHERE kind = 'cdc' ORDER BY name;

-- name: cdc_subscription_state
-- A subscription's state: enabled, positions received and flushed, error counts.
SELECT s.subenabled AS enabled, st.received_lsn::text, st.latest_end_lsn::text, st.last_msg_receipt_time,
       coalesce(ss.apply_error_count, 0) AS apply_errors, coalesce(ss.sync_error_count, 0) AS sync_errors
  FROM pg_subscription s
  LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL
  LEFT JOIN pg_stat_subscription_stats ss ON ss.subid = s.oid
 WHERE s.subname = %(sub)s;

-- name: change_data_capture
-- Whether Citus names shard changes by their distributed table in logical decoding.
SHOW citus.enable_change_data_capture;

-- name: check_replica_name
-- Check a replica's name.
SELECT fs.check_name('replica', %(name)s);

-- name: check_batch_columns
-- Raise the error that says which of a batch's columns do not fit the view (unknown, or a key or event_ts missing).
SELECT fs.check_batch_columns(%(view)s, %(columns)s);

-- (fs.ingest, fs.log_direct_batch and fs.replay_quarantine return fs.batch_result rows:
-- batch_id, feature_view, version, rows_in, inserted, quarantined, reasons, unchanged.)

-- name: compare_versions
-- Drift of one version of a view against another, per feature.
SELECT * FROM fs.compare_versions(%(view)s, %(base)s, %(new)s, %(start)s, %(end)s);

-- name: compute_stats
-- Compute, store and return statistics of every feature of a view version.
SELECT f.name AS feature, s.source, s.row_count, s.nulls, s.min, s.max, s.mean, s.stddev, s.quantiles,       s.distinct_count, s.histogram, s.range_start, s.range_end, s.computed_at  FROM fs.compute_stats(%(view)s, %(start)s, %(end)s, %(source)s) s JOIN fs.feature f USING (feature_id) ORDER BY f.position;

-- name: create_slot
-- Create a logical replication slot (pgoutput).
SELECT pg_create_logical_replication_slot(%s, 'pgoutput');

-- name: create_training_set
-- Store a training set version and return it with the view that rebuilds it.
SELECT c.name, c.version, c.action, c.row_count, c.content_hash, c.as_of, format('fs_training.%%I', fs.versioned_name(c.name, c.version)) FROM fs.create_training_set(%s, %s, %s, %s, %s, %s) c;

-- name: current_and_session_user
-- Who the session is and whom it acts as.
SELECT current_user, session_user;

-- name: current_wal_lsn
-- The primary's WAL position now (how far a replica must have received to be current).
SELECT pg_current_wal_lsn()::text;

-- name: database_exists
-- Whether a database exists.
SELECT 1 FROM pg_database WHERE datname = %s;

-- name: ddl_stays_here
-- DDL on this Citus node stays on it (not propagated to the other nodes).
SET citus.enable_ddl_propagation = off;

-- name: deprecate_feature_view
-- Deprecate a feature view version (refused while an active model uses it).
SELECT fs.deprecate_feature_view(%(view)s);

-- name: describe_feature_view
-- One feature view version in full, as JSON.
SELECT fs.describe_feature_view(%(name)s, %(version)s) AS description;

-- name: discard_temp
-- A reused side connection drops the temp tables of its last user (entities, spines).
DISCARD TEMP;

-- name: distribute
-- Distribute views over the Citus workers (all when views is NULL).
SELECT * FROM fs.distribute(%(views)s, %(shard_count)s);

-- name: distributed_online_tables
-- Online tables of versions distributed over the Citus workers.
SELECT online_table FROM fs.feature_view_version WHERE distributed ORDER BY version_id;

-- name: drop_inactive_slot
-- Drop a replication slot if it exists and nobody holds it.
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s AND NOT active;

-- name: drop_slot
-- Drop a replication slot if it exists.
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s;

-- name: dual_write
-- Copy a batch written to a distributed promoted version into its staged versions (Citus).
SELECT fs.dual_write(%(version_id)s, %(batch_id)s);

-- name: enable_change_data_capture
-- Turn Citus's change data capture on for this server (a replica subscribes to its shards).
ALTER SYSTEM SET citus.enable_change_data_capture = on;

-- name: ensure_partitions
-- Create the history partitions the batch's days need.
SELECT fs.ensure_partitions(%(version_id)s, %(days)s::timestamptz[]);

-- name: ensure_publication
-- Create the publication of the online tables if missing.
SELECT fs.ensure_publication();

-- name: export_snapshot
-- Export this transaction's snapshot for other sessions.
SELECT pg_export_snapshot();

-- name: forget
-- Erase one entity from every version of a view (logged).
SELECT fs.forget(%(view)s, %(entity)s, %(reason)s);

-- name: forget_replica
-- Forget a serving replica.
DELETE FROM fs.replica WHERE name = %(name)s;

-- name: generic_plans
-- Serving statements keep their generic plan (custom plans measured 3x slower), except on Citus, which routes a lookup to its shard by planning it with the keys in hand.
SELECT set_config('plan_cache_mode', CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN 'auto' ELSE 'force_generic_plan' END, false);

-- name: has_replicas
-- Whether serving replicas are registered (fs_admin may read it).
SELECT EXISTS (SELECT 1 FROM fs.replica);

-- name: has_source
-- Whether a view version is defined by a source query.
SELECT EXISTS (SELECT 1 FROM fs.view_source s WHERE s.version_id = (fs.resolve_version(%(view)s)).version_id);

-- name: history_query
-- The SELECT of load_history, as text.
SELECT fs.history_query(%(view)s, %(start)s, %(end)s, %(features)s, %(as_of)s, %(entities)s);

-- name: import_source_tables
-- Import a source database's tables again.
SELECT * FROM fs.import_source_tables(%(name)s, %(schema)s);

-- name: ingest_staged
-- Validate a staged batch and append it: good rows to history, bad ones to quarantine.
SELECT * FROM fs.ingest(%(view)s, %(staging)s::regclass, %(mode)s, %(source)s, %(batch_key)s, %(max_quarantined)s::numeric, %(skip_unchanged)s);

-- name: is_distributed
-- Whether the store is distributed over Citus workers.
SELECT fs.is_distributed();

-- name: is_superuser
-- Whether the current role is a superuser.
SELECT rolsuper FROM pg_roles WHERE rolname = current_user;

-- name: key_columns
-- The key columns of a view version, in key order.
SELECT name FROM fs.view_columns(%(view)s) WHERE role = 'key';

-- name: lineage
-- Lineage of an object, upstream and/or downstream.
SELECT * FROM fs.lineage(%(object)s, %(direction)s);

-- name: list_feature_views
-- Every feature view with its current version, owner, features and rows.
SELECT * FROM fs.list_feature_views();

-- name: load_batch_query
-- The point-in-time SELECT of load_batch, as text.
SELECT fs.load_batch_query(%(view)s, %(at)s, %(limit)s, %(features)s, %(as_of)s, %(entities)s);

-- name: local_shards
-- The shards of a distributed table that this Citus worker holds.
SELECT shard_name(s.logicalrelid, s.shardid) FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = %(table)s::regclass AND p.groupid = (SELECT groupid FROM pg_dist_local_group) ORDER BY s.shardid;

-- name: log_direct_batch
-- Log a batch copied straight into history (the history trigger counted its rows).
SELECT * FROM fs.log_direct_batch(%(batch_id)s, %(view)s, %(mode)s, %(source)s, %(columns)s, %(started)s, %(batch_key)s);

-- name: log_opened_batch
-- Log the batch opened in this transaction (fspg.open_batch) after a direct or pipelined write.
SELECT * FROM fs.log_direct_batch(current_setting('fspg.open_batch')::bigint, %(view)s, %(mode)s, %(source)s, %(columns)s, %(started)s);

-- name: lookup_columns
-- For each feature of a lookup: its result column, view, feature, TTL in seconds and event-time column.
SELECT column_name, view_name, feature_name, ttl_seconds, event_ts_column FROM fs.lookup_columns(%(refs)s, %(service)s, %(version)s);

-- name: maintain
-- Partition upkeep and retention for every active version.
SELECT * FROM fs.maintain(%(ahead)s);

-- name: materialize_source
-- Run a SQL-defined view's query for a window through the validated write path.
SELECT * FROM fs.materialize_source(%(view)s, %(start)s, %(end)s);

-- name: may_subscribe
-- Whether the current role may create subscriptions, and whether the server is 16 or newer.
SELECT r.rolsuper OR (current_setting('server_version_num')::int >= 160000
                      AND pg_has_role(current_user, 'pg_create_subscription', 'USAGE')),
       current_setting('server_version_num')::int >= 160000
  FROM pg_roles r WHERE r.rolname = current_user;

-- name: model_refs
-- The pinned feature references of a model version (its newest active one by default).
SELECT fs.model_refs(%(name)s, %(version)s);

-- name: models
-- Registered model versions, of one model or all.
SELECT * FROM fs.models WHERE %(name)s::text IS NULL OR model = %(name)s ORDER BY model, version;

-- name: nearest_query
-- The nearest-neighbour SELECT of a vector feature, as text.
SELECT fs.nearest_query(%(view)s, %(feature)s, %(k)s, %(filters)s);

-- name: no_memoize
-- Training joins never hit a memo (measured: 5% slower with it).
SET enable_memoize = off;

-- name: online_query
-- The lookup statement for feature references, and its key columns.
SELECT query, key_names, key_types FROM fs.online_query(%(refs)s);

-- name: open_batch
-- Open a batch: its id, the version the view name means, that version's history table.
SELECT batch_id, version_id, offline_table FROM fs.open_batch(%(view)s, %(batch_key)s);

-- name: open_batch_for_version
-- Open a batch for the version the client expects (YF021 when the name means another now).
SELECT FROM fs.open_batch(%(view)s, NULL, %(version_id)s);

-- name: ping
-- Does a connection that sat idle still answer?
SELECT 1;

-- name: placement
-- Where each version's history and online tables live.
SELECT * FROM fs.placement(%(view)s);

-- name: promote
-- Serve a staged version from now on (one transaction).
SELECT feature_view, from_version, to_version, services FROM fs.promote(%(ref)s, %(force)s);

-- name: publication_exists
-- Whether a publication exists.
SELECT 1 FROM pg_publication WHERE pubname = %s;

-- name: publication_has_table
-- Whether a publication has schema.table.
SELECT 1 FROM pg_publication_tables WHERE pubname = %s AND schemaname = %s AND tablename = %s;

-- name: publication_table_count
-- How many tables a publication has.
SELECT count(*) FROM pg_publication_tables WHERE pubname = %s;

-- name: push
-- Validate and write events given as JSON objects (fs.push): one fs.batch_result row.
SELECT * FROM fs.push(%(view)s, %(rows)s::jsonb, %(mode)s, %(source)s, %(batch_key)s);

-- name: quarantine_rows
-- The quarantined rows of one batch as they arrived.
SELECT q.row_number, q.reasons, q.data, q.replayed_batch_id
  FROM fs.quarantine q
 WHERE q.batch_id = %(batch_id)s
 ORDER BY q.row_number
 LIMIT %(limit)s;

-- name: quarantine_summary
-- Quarantined rows per batch: how many, how many wait for a replay, the rules broken.
SELECT q.batch_id, fv.name AS feature_view, vv.version, count(*) AS rows,
       count(*) FILTER (WHERE q.replayed_batch_id IS NULL) AS waiting,
       (SELECT jsonb_object_agg(r, n) FROM (SELECT unnest(x.reasons) r, count(*) n FROM fs.quarantine x
                                             WHERE x.batch_id = q.batch_id GROUP BY 1) s) AS reasons,
       min(q.quarantined_at) AS quarantined_at
  FROM fs.quarantine q
  JOIN fs.feature_view_version vv USING (version_id)
  JOIN fs.feature_view fv USING (view_id)
 WHERE %(view)s::text IS NULL OR fv.name = %(view)s
 GROUP BY q.batch_id, fv.name, vv.version
 ORDER BY q.batch_id DESC;

-- name: quiet_error_statement_log
-- Keep a failing statement (a password) out of the server log.
SET LOCAL log_min_error_statement = 'panic';

-- name: quiet_statement_log
-- Keep this transaction's statements (a password) out of the server log.
SET LOCAL log_statement = 'none';

-- name: read_only
-- A lookup connection never writes.
SET default_transaction_read_only = on;

-- name: rebuild_online
-- Rebuild a version's online table from its history.
SELECT * FROM fs.materialize(%(view)s);

-- name: record_source_error
-- Record a failed source run on its view version.
SELECT fs.record_source_error((fs.resolve_version(%(view)s)).version_id, %(error)s);

-- name: register_model
-- Register a model version bound to the features it was trained with.
SELECT * FROM fs.register_model(%(name)s, %(version)s, %(training_set)s, %(features)s, %(experiment)s, %(params)s, %(metrics)s, %(description)s);

-- name: register_replica
-- Record a serving replica.
INSERT INTO fs.replica (name, dsn, subscription, slot_name) VALUES (%(name)s, %(dsn)s, %(sub)s, %(sub)s);

-- name: relation_exists
-- Whether schema.table exists.
SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL;

-- name: reload_configuration
-- Make the server read its configuration again.
SELECT pg_reload_conf();

-- name: remove_source_database
-- Forget a source: its foreign server and imported tables, or a CDC source's catalog rows.
SELECT fs.remove_source_database(%(name)s);

-- name: repeatable_read
-- One snapshot for the whole transaction.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;

-- name: replay_quarantine
-- Re-validate a batch's quarantined rows into a view version, as a new batch.
SELECT * FROM fs.replay_quarantine(%(batch_id)s, %(view)s, %(mode)s);

-- name: replica_ddl
-- The statements that give a replica the online schema, in order.
SELECT statement FROM fs.replica_ddl() ORDER BY ord;

-- name: replica_slots
-- The replication slots of the replicas, with lag.
SELECT * FROM fs.replica_slots();

-- name: replica_subscription_state
-- On a replica: whether its subscription is enabled, and its error count.
SELECT s.subenabled, coalesce(st.apply_error_count + st.sync_error_count, 0)  FROM pg_subscription s LEFT JOIN pg_stat_subscription_stats st ON st.subid = s.oid WHERE s.subname = %s;

-- name: replicas
-- The registered serving replicas.
SELECT name, dsn, subscription, slot_name FROM fs.replica ORDER BY name;

-- name: replication_slot_lag
-- On the source: whether a slot is active and how many bytes it lags.
SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag_bytes FROM pg_replication_slots WHERE slot_name = %(slot)s;

-- name: report_batch_rows
-- What a batch copied into distributed history holds (rows, event-time range), for fs.record_batch.
SELECT fs.report_batch_rows(%(rows)s, %(min)s, %(max)s);

-- name: reset_settings
-- A reused side connection forgets its last user's settings (its role stays the login's).
RESET ALL;

-- name: rollback
-- Serve the previously promoted version again.
SELECT feature_view, from_version, to_version, services FROM fs.rollback(%(view)s);

-- name: rollout_status
-- Every version's stage: promoted, staged, previous, retired.
SELECT feature_view, version, stage, backfilled, backfill_progress, backfill_inserted, backfill_quarantined, created_at, promoted_at FROM fs.rollout_status WHERE %(view)s::text IS NULL OR feature_view = %(view)s ORDER BY feature_view, version;

-- name: run_due_sources
-- Run every due refresh of SQL-defined views.
SELECT * FROM fs.run_due_sources();

-- name: schedule_with_pg_cron
-- Register maintenance as a pg_cron job.
SELECT fs.schedule_with_pg_cron(%(cron)s);

-- name: schema_revision
-- The schema revision the database is at (alembic's version table).
SELECT version_num FROM fs.alembic_version;

-- name: service_refs
-- The pinned feature references of a feature service version.
SELECT array_agg(format('%%s@%%s.%%s', fv.name, vv.version, f.name) ORDER BY sf.position)
  FROM fs.feature_service s
  JOIN fs.feature_service_version sv ON sv.service_id = s.service_id AND sv.version = coalesce(%(version)s, s.current_version)
  JOIN fs.feature_service_feature sf ON sf.service_version_id = sv.service_version_id
  JOIN fs.feature f ON f.feature_id = sf.feature_id
  JOIN fs.feature_view_version vv ON vv.version_id = f.version_id
  JOIN fs.feature_view fv ON fv.view_id = vv.view_id
 WHERE s.name = %(name)s;

-- name: service_statement
-- The lookup statement of a feature service (current or pinned), and its key columns.
SELECT query, key_names, key_types FROM fs.service_statement(%(service)s, %(version)s);

-- name: serving_epoch
-- A number that changes whenever what a view name serves changes.
SELECT fs.serving_epoch();

-- name: set_local_work_mem
-- Raise work_mem for this transaction (a large batch sorts in memory).
SELECT set_config('work_mem', %(work_mem)s, true);

-- name: settle_as_of
-- Wait until every writer that began before as_of has ended (reproducible reads).
SELECT fs.settle_as_of(%(as_of)s);

-- name: site_catalog
-- The whole catalog as one JSON document, for the catalog site.
SELECT fs.site_catalog(%(days)s);

-- name: slot_active_pid
-- The backend holding a replication slot, if any.
SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s;

-- name: slot_exists
-- Whether a replication slot exists.
SELECT 1 FROM pg_replication_slots WHERE slot_name = %s;

-- name: source_databases
-- The source databases.
SELECT name, kind, local_schema, tables, added_at, added_by FROM fs.source_database ORDER BY name;

-- name: source_kind
-- A source's kind (fdw or cdc) and its server or subscription name.
SELECT kind, server_name FROM fs.source_database WHERE name = %(name)s;

-- name: source_status
-- SQL-defined views: refresh, high-water mark, runs, last error.
SELECT feature_view, version, refresh, start_at, high_water, last_run_at, last_error, runs, rows_inserted FROM fs.source_status ORDER BY feature_view, version;

-- name: source_window_start
-- Where the next window of a SQL-defined view starts.
SELECT coalesce(%(start)s, s.high_water, s.start_at) FROM fs.view_source s WHERE s.version_id = (fs.resolve_version(%(view)s)).version_id;

-- name: subscription_exists
-- Whether a subscription exists.
SELECT 1 FROM pg_subscription WHERE subname = %s;

-- name: subscription_received_lsn
-- On a replica: the WAL position its least advanced running subscription has received (NULL: none running).
SELECT min(received_lsn)::text FROM pg_stat_subscription WHERE pid IS NOT NULL AND relid IS NULL;

-- name: subscription_synced
-- Whether a subscription's initial copy is done (every table ready).
SELECT bool_and(r.srsubstate = 'r') FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = %s;

-- name: table_columns
-- A table's columns in order.
SELECT a.attname FROM pg_attribute a WHERE a.attrelid = format('%%I.%%I', %(schema)s::text, %(table)s::text)::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;

-- name: terminate_backend
-- End a backend (a walsender that holds a slot).
SELECT pg_terminate_backend(%s);

-- name: training_serving_skew
-- Skew between a view's history and what its online table serves, per feature.
SELECT * FROM fs.training_serving_skew(%(view)s, %(start)s, %(end)s);

-- name: training_set_query
-- The SELECT that rebuilds a stored training set version.
SELECT fs.training_set_query(%s, %s);

-- name: training_set_sql
-- The point-in-time join of a training set, as text.
SELECT fs.training_set_sql(%s, %s, %s, %s);

-- name: training_sets
-- Stored training set versions, of one set or all.
SELECT * FROM fs.training_sets WHERE %(name)s::text IS NULL OR training_set = %(name)s ORDER BY training_set, version;

-- name: use_snapshot
-- See what the session that exported this snapshot sees (rendered client-side: ADBC binds no SET).
SET TRANSACTION SNAPSHOT %s;

-- name: vector_dimension
-- The dimension of a vector feature.
SELECT fs.vector_dimension(dtype) FROM fs.view_columns(%(view)s) WHERE name = %(feature)s AND role = 'feature';

-- name: verify_training_set
-- Rebuild a stored training set in the server and compare its content hash.
SELECT * FROM fs.verify_training_set(%(name)s, %(version)s);

-- name: view_columns
-- The columns a view name means now: keys and features with dtypes and SQL types, the history table, and whether it is distributed (Citus).
SELECT c.name, c.role, c.dtype, c.sql_type, c.version_id, vv.offline_table, vv.distributed FROM fs.view_columns(%(view)s) c JOIN fs.feature_view_version vv USING (version_id);

-- name: wal_level
-- The server's wal_level.
SHOW wal_level;

-- name: worker_nodes
-- The Citus workers (host, port, group), from the coordinator's metadata.
SELECT * FROM fs.worker_nodes();

-- name: worker_subscriptions
-- A replica's subscriptions to the Citus workers (named <base>_w<group>).
SELECT subname FROM pg_subscription WHERE subname LIKE %(pattern)s ORDER BY subname;
