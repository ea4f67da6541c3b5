"""Defining and describing features: apply, list, describe, deprecate, lineage."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fspg import catalog, definitions, models
from fspg.api.base import StoreBase
from fspg.statements import Q, scalar

if TYPE_CHECKING:
    from fspg.site.build import SiteBuilt


class CatalogMethods(StoreBase):
    """Defining and describing features: apply, list, describe, deprecate, lineage."""

    def apply(self, source: str | Path | dict[str, Any], *, dry_run: bool = False,
              promote: bool = False) -> list[definitions.PlanStep]:
        """Apply definitions from a YAML file, a directory of them, or a mapping of the same shape.

        Everything is applied in one transaction. With ``dry_run`` nothing changes and
        the plan (create / new version / update / unchanged per object) is returned.
        A changed feature view gets a *staged* version: serving stays on the promoted one
        until ``promote`` (each step's ``message`` says so). ``promote=True`` (local
        development) backfills and promotes every staged version at once.
        """
        doc = definitions.from_mapping(source) if isinstance(source, dict) else definitions.load(source)
        with self.connection() as conn:
            plan = catalog.apply(conn, doc, dry_run=dry_run)
            has_replicas = not dry_run and catalog.has_replicas(conn)
        if promote and not dry_run:
            plan = self._promote_staged(plan)
        if has_replicas and any(step.action in ("create", "new version", "update", "staged again") for step in plan):
            self.sync_replicas()
        return plan

    def _promote_staged(self, plan: list[definitions.PlanStep]) -> list[definitions.PlanStep]:
        """apply(promote=True): backfill and promote every view version the apply staged,
        then apply again so services that follow those views are in the plan."""
        staged = [s for s in plan if s.kind == "feature_view" and s.serving != s.version
                  and s.action in ("new version", "staged again")]
        for step in staged:
            ref = f"{step.name}@{step.version}"
            self.backfill(ref)
            self.promote(ref)
        return [definitions.PlanStep(s.kind, s.name, s.version, s.action, s.version) if s in staged else s
                for s in plan]

    def list_feature_views(self) -> list[dict[str, Any]]:
        """Feature views with current version, entity, owner, versions, features and rows."""
        with self.connection() as conn:
            return catalog.list_feature_views(conn)

    def describe(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One feature view version in full; ``name`` may be ``view`` or ``view@3``."""
        from fspg.site.notebook import Description

        view, ref_version = catalog.parse_ref(name)
        with self.connection() as conn:
            return Description(catalog.describe_feature_view(conn, view, version or ref_version))

    def lineage(self, obj: str, direction: str = "both") -> list[dict[str, Any]]:
        """Lineage of an object (``user_stats@2``, ``model:fraud@3``, a feature
        ``user_stats.spend_7d``): upstream (where its data comes from) and downstream (the
        services, training sets and models using it), with depth and the edge followed."""
        from fspg.site.notebook import Lineage

        with self.connection() as conn:
            return Lineage(models.rows(conn, Q.lineage, {"object": obj, "direction": direction}))

    def site_catalog(self, timeline_days: int = 30) -> dict[str, Any]:
        """The whole catalog as one document (``fs.site_catalog``): what ``build_docs``
        draws. Statistics are the stored ones (``compute_stats``), not computed here."""
        with self.connection() as conn:
            return dict(scalar(conn, Q.site_catalog, {"days": timeline_days}))

    def build_docs(self, path: str | Path, *, verify: bool = False) -> "SiteBuilt":
        """Write the static catalog site into ``path`` (``fspg docs build``): an index with
        search, a page per view, service, training set and model, and the lineage graph.
        ``verify=True`` also rebuilds every stored training set to show whether it is
        still identical (slow for big sets)."""
        from fspg.site.build import build

        check = (lambda name, version: self.verify_training_set(name, version).identical) if verify else None
        return build(self.site_catalog(), path, verify=check)
