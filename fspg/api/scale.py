"""Scale-out: the store distributed over Citus workers."""
from __future__ import annotations

from typing import Any, Sequence

from fspg import scaleout
from fspg.api.base import StoreBase


class ScaleMethods(StoreBase):
    """Scale-out: the store distributed over Citus workers."""

    def distribute(self, views: Sequence[str] | None = None, *, shard_count: int | None = None) -> list[dict[str, Any]]:
        """Distribute the history and online tables of every active version of ``views``
        (all views when None) over the Citus workers, by entity and co-located; from then
        on ``apply`` distributes new versions itself. Run as a superuser on the coordinator.
        Raises DistributionError without Citus or workers."""
        self._check_serving_epoch()
        with self.connection() as conn:
            return scaleout.distribute(conn, views, shard_count)

    def placement(self, view: str | None = None) -> list[dict[str, Any]]:
        """Where each version's history and online tables live: ``coordinator``, or
        ``distributed by <key>`` with its shard count and worker nodes."""
        with self.connection() as conn:
            return scaleout.placement(conn, view)
