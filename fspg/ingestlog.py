"""Reading the ingest log and the quarantine (``fspg batches``, ``fspg quarantine``)."""
from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from fspg.statements import Q





def batches(conn: psycopg.Connection, *, view: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest ingest batches, optionally of one view."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.batches, {"view": view, "limit": limit}).fetchall()


def quarantine_summary(conn: psycopg.Connection, *, view: str | None = None) -> list[dict[str, Any]]:
    """Quarantined rows per batch: how many, how many still waiting for a replay, reasons."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.quarantine_summary, {"view": view}).fetchall()


def quarantine_rows(conn: psycopg.Connection, batch_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
    """The quarantined rows of one batch as staged, with the rules each broke."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.quarantine_rows, {"batch_id": batch_id, "limit": limit}).fetchall()
