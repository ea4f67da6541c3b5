"""``FeatureStore``: the one face of fspg for Python users.

    from fspg import FeatureStore
    fs = FeatureStore()                 # FSPG_DSN, else the embedded server
    fs.apply("examples/features")       # definitions -> SQL API
    fs.insert_batch("user_stats", {"user_id": [1], "spend_7d": [9.5]}, timestamp=now)
    fs.load_batch("user_stats", timestamp=now, limit=100)   # -> pyarrow.Table

The constructor only records where to connect: the pool opens (and the embedded
server starts) on first use. Pass ``connection=`` to run fspg's calls inside a
transaction of your own; fspg then neither commits nor rolls back.
"""
from __future__ import annotations

from fspg.api.base import StoreBase
from fspg.api.catalog import CatalogMethods
from fspg.api.models import ModelMethods
from fspg.api.offline import OfflineMethods
from fspg.api.online import OnlineMethods
from fspg.api.rollout import RolloutMethods
from fspg.api.scale import ScaleMethods
from fspg.api.sources import SourceMethods
from fspg.api.training import TrainingMethods


class FeatureStore(CatalogMethods, RolloutMethods, OfflineMethods, TrainingMethods, ModelMethods,
                   OnlineMethods, SourceMethods, ScaleMethods, StoreBase):
    """A feature store in one PostgreSQL database.

    Args:
        dsn: libpq DSN (URI or key=value). Default: ``$FSPG_DSN``, else the embedded server.
        engine: an SQLAlchemy Engine on PostgreSQL to take the DSN from instead.
        pool: an open psycopg_pool.ConnectionPool to borrow connections from.
        connection: a psycopg connection whose transaction fspg's calls join.
        auto_migrate: migrate before first use. Default: only for the embedded server,
            which fspg owns; a server given by DSN is migrated with ``fspg migrate``.
        replicas: DSNs of serving replicas; online lookups read from them.
    """

    def __enter__(self) -> "FeatureStore":
        return self


#: The name the original specification uses.
FeatureStoreClient = FeatureStore


__all__ = ["FeatureStore", "FeatureStoreClient"]
