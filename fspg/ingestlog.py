"""Reading the ingest log and the quarantine (``fspg batches``, ``fspg quarantine``)."""
from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

BATCHES = """
SELECT b.batch_id, fv.name AS feature_view, vv.version, b.mode, b.rows_in, b.inserted, b.quarantined,
       b.reasons, b.source, b.created_by, b.started_at, b.finished_at,
       round(extract(epoch FROM b.finished_at - b.started_at)::numeric, 3)::float8 AS seconds
  FROM fs.ingest_batch b
  JOIN fs.feature_view_version vv USING (version_id)
  JOIN fs.feature_view fv USING (view_id)
 WHERE %(view)s::text IS NULL OR fv.name = %(view)s
 ORDER BY b.batch_id DESC
 LIMIT %(limit)s"""

QUARANTINE_SUMMARY = """
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
 ORDER BY q.batch_id DESC"""

QUARANTINE_ROWS = """
SELECT q.row_number, q.reasons, q.data, q.replayed_batch_id
  FROM fs.quarantine q
 WHERE q.batch_id = %(batch_id)s
 ORDER BY q.row_number
 LIMIT %(limit)s"""


def batches(conn: psycopg.Connection, *, view: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest ingest batches, optionally of one view."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(BATCHES, {"view": view, "limit": limit}).fetchall()


def quarantine_summary(conn: psycopg.Connection, *, view: str | None = None) -> list[dict[str, Any]]:
    """Quarantined rows per batch: how many, how many still waiting for a replay, reasons."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(QUARANTINE_SUMMARY, {"view": view}).fetchall()


def quarantine_rows(conn: psycopg.Connection, batch_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
    """The quarantined rows of one batch as staged, with the rules each broke."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(QUARANTINE_ROWS, {"batch_id": batch_id, "limit": limit}).fetchall()
