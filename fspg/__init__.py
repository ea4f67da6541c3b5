"""fspg: a feature store for machine learning that lives inside PostgreSQL.

>>> from fspg import FeatureStore
>>> fs = FeatureStore()                      # $FSPG_DSN, else the embedded server
>>> fs.get_online_features(service="fraud_scoring", entities={"user_id": [1], "merchant_id": [1001]})

Every error fspg raises on purpose is an ``FspgError``; the classes are importable from
here and from ``fspg.errors``.
"""
from typing import TYPE_CHECKING, Any

from fspg.errors import (
    BatchRejected,
    Conflict,
    ConnectionFailed,
    DefinitionError,
    ExtensionMissing,
    FspgError,
    InUse,
    InvalidArgument,
    InvalidName,
    NotFound,
    NotReady,
    PermissionDenied,
    QueryFailed,
    SchemaMismatch,
    ServerError,
    SourceFailed,
    UserError,
    ValidationError,
)

if TYPE_CHECKING:
    from fspg.client import FeatureStore, FeatureStoreClient

__version__ = "0.1.0"

__all__ = [
    "FeatureStore",
    "FeatureStoreClient",
    "BatchRejected",
    "Conflict",
    "ConnectionFailed",
    "DefinitionError",
    "ExtensionMissing",
    "FspgError",
    "InUse",
    "InvalidArgument",
    "InvalidName",
    "NotFound",
    "NotReady",
    "PermissionDenied",
    "QueryFailed",
    "SchemaMismatch",
    "ServerError",
    "SourceFailed",
    "UserError",
    "ValidationError",
]


def __getattr__(name: str) -> Any:
    # The client pulls in pyarrow and the pool; import it only when asked for.
    if name in ("FeatureStore", "FeatureStoreClient"):
        from fspg import client

        return getattr(client, name)
    raise AttributeError(f"module 'fspg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
