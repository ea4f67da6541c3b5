"""Models bound to feature versions, statistics, drift and skew."""
from __future__ import annotations

from typing import Any

from fspg import models
from fspg.api.base import StoreBase
from fspg.catalog import split_ref
from fspg.results import ModelVersion
from fspg.errors import InvalidArgument
from fspg.statements import Q
from fspg.times import utc


class ModelMethods(StoreBase):
    """Models bound to feature versions, statistics, drift and skew."""

    def register_model(self, name: str, version: int | None = None, *, training_set: str | None = None,
                       features: list[str] | None = None, experiment: str | None = None,
                       params: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
                       description: str | None = None) -> ModelVersion:
        """Register model ``name`` version ``version`` (default: the next) with the features it
        was trained on: a stored ``training_set`` (``name`` or ``name@v``) or a ``features``
        list, pinned to the view versions current now. Serving by model then reads exactly
        those versions. Registering the same again is a no-op; a different registration
        under a taken version raises ``fspg.errors.Conflict``."""
        with self.connection() as conn:
            return models.register(conn, name, version, training_set=training_set, features=features,
                                   experiment=experiment, params=params, metrics=metrics, description=description)

    def models(self, name: str | None = None) -> list[dict[str, Any]]:
        """Registered model versions: status, experiment, training set, pinned features, params, metrics."""
        with self.connection() as conn:
            return models.rows(conn, Q.models, {"name": name})

    def describe_model(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One model version (``NAME`` or ``NAME@V``; default its newest) with its pinned
        features, params, metrics and ``lineage`` (where its features come from)."""
        name, version = split_ref(name, version)
        rows = [r for r in self.models(name) if version is None or r["version"] == version]
        if not rows:
            from fspg.errors import NotFound

            raise NotFound(f"model {name}{'' if version is None else f'@{version}'} is not registered",
                           hint="fspg models ls lists the registered models")
        row = rows[-1]
        return {**row, "lineage": self.lineage(f"model:{name}@{row['version']}", "up")}

    def archive_model(self, name: str, version: int | None = None) -> None:
        """Archive a model version (``NAME@V``, or ``NAME`` and ``version``): it stops holding
        its feature view versions against deprecation."""
        name, version = split_ref(name, version)
        if version is None:
            raise InvalidArgument("archive names one version: NAME@V")
        with self.connection() as conn:
            conn.execute(Q.archive_model, {"name": name, "version": version})

    def deprecate(self, view: str) -> None:
        """Deprecate ``view@version``; refused (``fspg.errors.InUse``) while an active model uses it."""
        with self.connection() as conn:
            conn.execute(Q.deprecate_feature_view, {"view": view})

    def compute_stats(self, name: str, start: Any = None, end: Any = None, *,
                      source: str = "history") -> list[dict[str, Any]]:
        """Statistics of every feature of ``name`` (view or view@N) over event times in
        [start, end] of history, or of what its online table serves (``source="online"``):
        count, nulls, min, max, mean, stddev, 101 quantiles (``median`` is the 50th),
        distinct values, histogram. Stored."""
        with self.connection() as conn:
            rows = models.rows(conn, Q.compute_stats, {"view": name, "start": utc(start),
                                                    "end": utc(end), "source": source})
        from fspg.site.notebook import Statistics

        for row in rows:
            quantiles = row.get("quantiles") or []
            row["median"] = quantiles[50] if len(quantiles) > 50 else None
        return Statistics(rows)

    def compare_versions(self, name: str, base: int, new: int, *, start: Any = None,
                         end: Any = None) -> list[dict[str, Any]]:
        """Drift of version ``new`` of a view against ``base``, per feature: schema change,
        PSI, mean shift (in base standard deviations), null-rate delta, and whether the view's
        drift thresholds are crossed (``drifted``, ``reasons``). Over the event-time range both
        versions cover unless ``start``/``end`` say otherwise."""
        with self.connection() as conn:
            return models.rows(conn, Q.compare_versions, {"view": name, "base": base, "new": new,
                                                      "start": utc(start), "end": utc(end)})

    def training_serving_skew(self, name: str, *, start: Any = None, end: Any = None) -> list[dict[str, Any]]:
        """Skew between a view's history (training time, optionally [start, end]) and what its
        online table serves now, per feature, in the shape of ``compare_versions``."""
        with self.connection() as conn:
            return models.rows(conn, Q.training_serving_skew, {"view": name, "start": utc(start), "end": utc(end)})
