"""Small definitions documents the tests build on (no pgvector needed)."""
from __future__ import annotations

import copy


def base() -> dict:
    """A user entity, one keyed view with rules, one global view and a service."""
    return copy.deepcopy({
        "entities": [{"name": "user", "keys": {"user_id": "bigint"}, "description": "A customer."}],
        "feature_views": [
            {
                "name": "user_stats", "entity": "user", "owner": "risk", "description": "Spend per user.",
                "ttl": "7 days", "partition": "month", "retention": "2 years", "tags": {"experiment": "exp-42"},
                "features": [
                    {"name": "spend_7d", "dtype": "float8", "description": "Spend, 7 days.",
                     "rules": {"not_null": True, "min": 0, "max": 1000}},
                    {"name": "country", "dtype": "text", "rules": {"allowed": ["DE", "FR", "US"]}},
                    {"name": "email_domain", "dtype": "text", "rules": {"regex": "^[a-z.]+$", "max_length": 20}},
                ],
            },
            {"name": "fx_rates", "features": [{"name": "eur_usd", "dtype": "float8"}]},
        ],
        "feature_services": [{"name": "scoring", "features": ["user_stats.spend_7d", "fx_rates.*"]}],
    })


def view(doc: dict, name: str) -> dict:
    """The feature view called ``name`` inside a document (to edit it in place)."""
    return next(v for v in doc["feature_views"] if v["name"] == name)


def spec_view() -> dict:
    """The original specification's example: a global view my_feature with x and y."""
    return {"feature_views": [{"name": "my_feature", "features": [{"name": "x", "dtype": "float8"},
                                                                  {"name": "y", "dtype": "float8"}]}]}


def ingest_defs() -> dict:
    """base() plus a view with every kind of rule the ingest tests break."""
    doc = base()
    doc["feature_views"].append({
        "name": "checked", "entity": "user", "ttl": "30 days",
        "features": [
            {"name": "score", "dtype": "float8", "rules": {"finite": True}},
            {"name": "amount", "dtype": "float8", "rules": {"min": 0, "max": 100}},
            {"name": "code", "dtype": "text", "rules": {"regex": "^[A-Z]{3}$", "max_length": 3}},
            {"name": "tier", "dtype": "text", "rules": {"allowed": ["gold", "silver"]}},
            {"name": "n", "dtype": "int"},
            {"name": "seen", "dtype": "timestamp"},
        ],
    })
    return doc
