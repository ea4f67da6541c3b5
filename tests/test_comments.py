"""Every table, view and column users can see carries COMMENT ON text, so BI tools and
psql's \\d+ describe them: the catalog (fs), and each feature view's history and online
tables and views (fs_offline, fs_online), features included."""
from __future__ import annotations

from tests.defs import base

UNDESCRIBED = """
SELECT n.nspname || '.' || c.relname || coalesce('.' || a.attname, '') AS what
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE n.nspname IN ('fs', 'fs_offline', 'fs_online')
   AND c.relkind IN ('r', 'p', 'v', 'm')
   AND NOT c.relispartition                       -- a partition is described by its table
   AND c.relname <> 'alembic_version'             -- alembic's table, not ours
   AND (CASE WHEN a.attname IS NULL THEN obj_description(c.oid, 'pg_class')
             ELSE col_description(c.oid, a.attnum) END) IS NULL
 ORDER BY 1
"""


def test_every_table_view_and_column_is_described(store, conn):
    store.apply(base())
    store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [1.0]}, timestamp="2026-11-01")
    missing = [row[0] for row in conn.execute(UNDESCRIBED)]
    assert missing == []


def test_a_feature_column_says_what_the_definition_says(store, conn):
    store.apply(base())
    [text] = conn.execute("SELECT col_description('fs_online.user_stats__v1'::regclass, a.attnum)"
                          "  FROM pg_attribute a WHERE a.attrelid = 'fs_online.user_stats__v1'::regclass"
                          "   AND a.attname = 'spend_7d'").fetchone()
    described = next(f["description"] for v in base()["feature_views"] if v["name"] == "user_stats"
                     for f in v["features"] if f["name"] == "spend_7d")
    assert described in text
