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
    DistributionError,
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

from fspg.results import ModelVersion, OnlineRebuild, TrainingSetCheck, WindowResult

if TYPE_CHECKING:
    from fspg.client import FeatureStore, FeatureStoreClient
    from fspg.definitions import PlanStep
    from fspg.ingest import IngestResult
    from fspg.rollout import BackfillStep, Switch
    from fspg.training import TrainingSetVersion

# Imported when first asked for: the client pulls in pyarrow and the pool.
_LAZY = {"FeatureStore": "fspg.client", "FeatureStoreClient": "fspg.client", "IngestResult": "fspg.ingest",
         "TrainingSetVersion": "fspg.training", "PlanStep": "fspg.definitions", "Switch": "fspg.rollout",
         "BackfillStep": "fspg.rollout"}

__version__ = "0.1.0"

__all__ = [
    "FeatureStore",
    "FeatureStoreClient",
    "BackfillStep",
    "IngestResult",
    "ModelVersion",
    "OnlineRebuild",
    "PlanStep",
    "Switch",
    "TrainingSetCheck",
    "TrainingSetVersion",
    "WindowResult",
    "BatchRejected",
    "Conflict",
    "ConnectionFailed",
    "DefinitionError",
    "DistributionError",
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
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fspg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
