"""Upkeep of the offline store: partitions and retention (``fspg maintain``), erasure."""
from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from fspg.statements import Q



def maintain(conn: psycopg.Connection, *, ahead: int = 2) -> list[dict[str, Any]]:
    """Create partitions ahead, adopt rows from default partitions, apply retention; one row per version."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.maintain, {"ahead": ahead}).fetchall()


def forget(conn: psycopg.Connection, view: str, entity: dict[str, Any], *, reason: str | None = None) -> int:
    """Erase one entity from every version of a view; returns the history rows deleted (logged in fs.erasure_log)."""
    return conn.execute(Q.forget, {"view": view, "entity": Jsonb(entity), "reason": reason}).fetchone()[0]
