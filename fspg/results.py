"""What fspg's calls return, as dataclasses: attributes for code, ``as_dict()`` for JSON.

Before [F8] these were dicts; indexing by field name (``step["inserted"]``) still works,
so code written against them keeps running (docs/decisions.md).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Result:
    """A result row: attributes, ``as_dict()``, and ``result["field"]`` as before."""

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict (for JSON)."""
        return dataclasses.asdict(self)

    def __getitem__(self, field: str) -> Any:
        if field not in {f.name for f in dataclasses.fields(self)}:
            raise KeyError(field)
        return getattr(self, field)

    def __contains__(self, field: object) -> bool:
        return field in {f.name for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class WindowResult(Result):
    """One window of a SQL-defined view: its source query's rows through the validated path
    (``rows_in == unchanged + inserted + quarantined``)."""

    feature_view: str
    version: int
    window_start: dt.datetime
    window_end: dt.datetime
    batch_id: int | None
    rows_in: int
    unchanged: int
    inserted: int
    quarantined: int


@dataclass(frozen=True)
class OnlineRebuild(Result):
    """An online table rebuilt from history: rows written, stale rows removed."""

    feature_view: str
    version: int
    entities: int
    removed: int


#: What ``materialize`` reports per step: a source window, or the rebuild of an online table.
MaterializeStep = Union[WindowResult, OnlineRebuild]


@dataclass(frozen=True)
class ModelVersion(Result):
    """A registered model version (``action``: registered, or unchanged when it existed)."""

    name: str
    version: int
    action: str
    features: list[str]


@dataclass(frozen=True)
class TrainingSetCheck(Result):
    """A stored training set rebuilt in the server: its content hash against the recorded one."""

    name: str
    version: int
    row_count: int
    content_hash: str
    recorded_hash: str
    identical: bool
