"""fspg: a feature store for machine learning that lives inside PostgreSQL."""
from fspg.errors import (
    ConnectionFailed,
    DefinitionError,
    ExtensionMissing,
    FspgError,
    InvalidName,
    NotFound,
    PermissionDenied,
    UserError,
)

__version__ = "0.1.0"

__all__ = [
    "FeatureStore",
    "FeatureStoreClient",
    "FspgError",
    "UserError",
    "DefinitionError",
    "InvalidName",
    "NotFound",
    "ExtensionMissing",
    "PermissionDenied",
    "ConnectionFailed",
]


def __getattr__(name: str):
    # The client pulls in pyarrow and the pool; import it only when asked for.
    if name in ("FeatureStore", "FeatureStoreClient"):
        from fspg import client

        return getattr(client, name)
    raise AttributeError(f"module 'fspg' has no attribute {name!r}")
