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
