"""Models, statistics and lineage: the statements behind the client's calls.

Each is one call of an ``fs.*`` function (sql/functions/87_statistics.sql,
88_models.sql, 89_lineage.sql); rows come back as dicts.
"""
from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb
from fspg.results import ModelVersion
from fspg.statements import Q



def rows(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one statement; its rows as dicts."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def register(conn: psycopg.Connection, name: str, version: int | None, *, training_set: str | None,
             features: list[str] | None, experiment: str | None, params: dict | None, metrics: dict | None,
             description: str | None) -> ModelVersion:
    """Register a model version: its version, action and pinned features."""
    with conn.cursor(row_factory=class_row(ModelVersion)) as cur:
        row = cur.execute(Q.register_model, {
            "name": name, "version": version, "training_set": training_set,
            "features": list(features) if features is not None else None, "experiment": experiment,
            "params": Jsonb(params or {}), "metrics": Jsonb(metrics or {}), "description": description}).fetchone()
    assert row is not None
    return row
