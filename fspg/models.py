"""Models, statistics and lineage: the statements behind the client's calls.

Each is one call of an ``fs.*`` function (sql/functions/87_statistics.sql,
88_models.sql, 89_lineage.sql); rows come back as dicts.
"""
from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

REGISTER = ("SELECT * FROM fs.register_model(%(name)s, %(version)s, %(training_set)s, %(features)s, %(experiment)s,"
            " %(params)s, %(metrics)s, %(description)s)")
MODELS = "SELECT * FROM fs.models WHERE %(name)s::text IS NULL OR model = %(name)s ORDER BY model, version"
MODEL_REFS = "SELECT fs.model_refs(%(name)s, %(version)s)"
ARCHIVE = "SELECT fs.archive_model(%(name)s, %(version)s)"
DEPRECATE = "SELECT fs.deprecate_feature_view(%(view)s)"
TRAINING_SETS = ("SELECT * FROM fs.training_sets WHERE %(name)s::text IS NULL OR training_set = %(name)s"
                 " ORDER BY training_set, version")
VERIFY = "SELECT * FROM fs.verify_training_set(%(name)s, %(version)s)"
LINEAGE = "SELECT * FROM fs.lineage(%(object)s, %(direction)s)"
STATS = ("SELECT f.name AS feature, s.source, s.row_count, s.nulls, s.min, s.max, s.mean, s.stddev, s.quantiles,"
         "       s.distinct_count, s.histogram, s.range_start, s.range_end, s.computed_at"
         "  FROM fs.compute_stats(%(view)s, %(start)s, %(end)s, %(source)s) s JOIN fs.feature f USING (feature_id)"
         " ORDER BY f.position")
COMPARE = "SELECT * FROM fs.compare_versions(%(view)s, %(base)s, %(new)s, %(start)s, %(end)s)"
SKEW = "SELECT * FROM fs.training_serving_skew(%(view)s, %(start)s, %(end)s)"


def rows(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one statement; its rows as dicts."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def register(conn: psycopg.Connection, name: str, version: int | None, *, training_set: str | None,
             features: list[str] | None, experiment: str | None, params: dict | None, metrics: dict | None,
             description: str | None) -> dict[str, Any]:
    """Register a model version; the row says its version, action and pinned features."""
    return rows(conn, REGISTER, {
        "name": name, "version": version, "training_set": training_set,
        "features": list(features) if features is not None else None, "experiment": experiment,
        "params": Jsonb(params or {}), "metrics": Jsonb(metrics or {}), "description": description})[0]
