"""Day-2 operations: promote, roll back, backfill staged versions; serving replicas."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from fspg import catalog, rollout
from fspg.times import utc
from fspg.api.base import StoreBase
from fspg.results import WindowResult


class RolloutMethods(StoreBase):
    """Day-2 operations: promote, roll back, backfill staged versions; serving replicas."""

    def promote(self, ref: str, *, force: bool = False) -> rollout.Switch:
        """Serve ``view@N`` (a staged version) from now on, atomically.

        The online view ``fs_online.<view>``, unpinned reads, services that name the view
        without a version and CDC feeds move; models and pinned services do not. The
        version served until now stays written, so ``rollback`` loses nothing. Raises
        ``NotReady`` when the version was never (or only partly) backfilled or its online
        table is empty while the served one's is not, unless ``force``.
        """
        with self.connection() as conn:
            switch = rollout.promote(conn, ref, force=force)
        self._after_switch()
        return switch

    def rollback(self, view: str) -> rollout.Switch:
        """Serve the version served before the last promote again; the version rolled back
        from becomes staged (still written, can be promoted again)."""
        with self.connection() as conn:
            switch = rollout.rollback(conn, view)
        self._after_switch()
        return switch

    def backfill(self, ref: str, *, from_version: int | None = None, start: Any = None, end: Any = None,
                 on_step: Callable[[rollout.BackfillStep], None] | None = None) -> rollout.BackfillStep:
        """Fill staged ``view@N`` from version ``from_version`` (default: the served one).

        Rows go through N's rules (bad ones to its quarantine, counted); features N dropped
        are ignored, new ones are NULL. Only event times in [start, end) when given. One
        transaction per partition period; interrupted, calling again resumes. The online
        table is rebuilt at the end. A version defined by a source query re-runs its query
        for the range instead. Backfilled rows carry the backfill's created_ts (see
        docs/decisions.md, "Staged versions").
        """
        with self.connection() as conn:
            sourced = rollout.has_source(conn, ref)
        if sourced:
            windows = [w for w in self.materialize(ref, start, end) if isinstance(w, WindowResult)]
            return rollout.BackfillStep(0, len(windows), len(windows), sum(w.rows_in for w in windows),
                                        sum(w.inserted for w in windows), sum(w.quarantined for w in windows),
                                        datetime.now(timezone.utc))
        return rollout.backfill(self.connection, ref, from_version=from_version, start=utc(start),
                                end=utc(end), on_step=on_step)

    def rollout_status(self, view: str | None = None) -> list[dict[str, Any]]:
        """Every version (of ``view``, or all) with its stage (promoted, staged, previous,
        retired), backfill progress and when it was last promoted."""
        with self.connection() as conn:
            return rollout.status(conn, view)

    def _after_switch(self) -> None:
        # Lookups built here before name the old version; replicas need the new functions.
        self._statements.clear()
        self._write_cache.clear()
        self._epoch_checked = float("-inf")
        with self.connection() as conn:
            has_replicas = catalog.has_replicas(conn)
        if has_replicas:
            self.sync_replicas()

    def add_replica(self, dsn: str, name: str | None = None) -> Any:
        """Prepare the PostgreSQL database at ``dsn`` as a serving replica and subscribe it to
        every online table (views made later follow). Returns the replica (name, subscription)."""
        from fspg import replicas

        return replicas.add(self.dsn, dsn, name)

    def replica_status(self) -> list[dict[str, Any]]:
        """Each replica: reachable, streaming, lag in bytes and seconds, apply errors."""
        from fspg import replicas

        return replicas.status(self.dsn)

    def remove_replica(self, name: str) -> bool:
        """Drop a replica's subscription and its replication slot; False when the replica did
        not answer (the slot is then dropped on the primary alone)."""
        from fspg import replicas

        return replicas.remove(self.dsn, name)

    def sync_replicas(self) -> list[str]:
        """Give every serving replica the online tables and functions made since; returns unreachable replicas.

        ``apply`` calls this; an unreachable replica is reported with a warning and
        catches up at the next sync (``fspg replica sync``).
        """
        import warnings

        from fspg import replicas

        unreachable = replicas.sync(self.dsn)
        if unreachable:
            warnings.warn(f"replicas not reachable, run fspg replica sync later: {', '.join(unreachable)}",
                          stacklevel=2)
        return unreachable
