"""The store on Citus: distributing history and online tables, and where they live.

fspg does not shard anything itself. On a Citus coordinator, ``distribute`` hands each
keyed view's tables to Citus, distributed by the entity's first key column and
co-located; docs/scale-out.md has the deployment and what runs where.
"""
from __future__ import annotations

from typing import Any, Sequence

import psycopg
from psycopg.rows import dict_row

from fspg.statements import Q


def distribute(conn: psycopg.Connection, views: Sequence[str] | None = None,
               shard_count: int | None = None) -> list[dict[str, Any]]:
    """Distribute every active version of ``views`` (all when None); one row per version
    saying what happened. Needs a superuser on a Citus coordinator with workers."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.distribute, {"views": list(views) if views else None, "shard_count": shard_count}).fetchall()


def placement(conn: psycopg.Connection, view: str | None = None) -> list[dict[str, Any]]:
    """Where each version's history and online tables live (coordinator or shards on workers)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.placement, {"view": view}).fetchall()
