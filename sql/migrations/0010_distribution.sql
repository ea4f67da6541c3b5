-- 0010_distribution: where a store's tables live when it runs on Citus ([F10]).
--
-- fs.distribution holds one row once `fspg distribute` has made this store a distributed
-- one: from then on every new version's history and online tables are distributed by
-- their entity's first key column as fs.apply creates them. The catalog itself stays on
-- the coordinator (docs/scale-out.md says why).

CREATE TABLE fs.distribution (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    shard_count    integer NOT NULL CHECK (shard_count BETWEEN 1 AND 64000),
    distributed_at timestamptz NOT NULL DEFAULT now(),
    distributed_by text NOT NULL DEFAULT session_user
);
COMMENT ON TABLE fs.distribution IS 'One row when the store is distributed over Citus workers (fspg distribute).';
ALTER TABLE fs.distribution OWNER TO fs_owner;

-- Per version: its history and online tables are Citus distributed tables. Read by the
-- generated online upkeep, the batch log and the lookup statements, which take another
-- shape on distributed tables.
ALTER TABLE fs.feature_view_version ADD COLUMN distributed boolean NOT NULL DEFAULT false;

-- fs.online_upsert_sql takes the relation to write as a third argument now (the
-- co-located shard, on a worker); sql/functions/80_online.sql creates it again.
DROP FUNCTION IF EXISTS fs.online_upsert_sql(integer, text);
