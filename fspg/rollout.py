"""Staged versions: backfill, promote, rollback (sql/functions/75_rollout.sql owns the rules).

A changed definition makes a *staged* version that every write reaches but nothing
serves. ``backfill`` fills it from the served version's history, one partition period
per transaction, so an interrupted backfill resumes where it stopped; ``promote``
switches serving atomically; ``rollback`` goes back to the version served before.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, ContextManager

import psycopg
from psycopg.rows import class_row, dict_row
from fspg.statements import Q



@dataclass(frozen=True)
class Switch:
    """What a promote or rollback did: serving moved from one version to another."""

    feature_view: str
    from_version: int | None
    to_version: int
    #: service versions made because their services follow the view (name@version)
    services: list[str]

    def as_dict(self) -> dict[str, Any]:
        """The switch as a plain dict (for --json)."""
        return {"feature_view": self.feature_view, "from_version": self.from_version,
                "to_version": self.to_version, "services": self.services}


@dataclass(frozen=True)
class BackfillStep:
    """Where a backfill stands after one step (one partition period, or the planning step)."""

    version_id: int
    periods_done: int
    periods: int
    rows_read: int
    inserted: int
    quarantined: int
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        """Whether the version is filled and its online table rebuilt."""
        return self.finished_at is not None

    def as_dict(self) -> dict[str, Any]:
        """The step as a plain dict (for --json)."""
        return {"periods_done": self.periods_done, "periods": self.periods, "rows_read": self.rows_read,
                "inserted": self.inserted, "quarantined": self.quarantined, "finished": self.finished}


def promote(conn: psycopg.Connection, ref: str, *, force: bool = False) -> Switch:
    """Serve ``view@N`` from now on (refused with NotReady unless backfilled, or ``force``)."""
    with conn.cursor(row_factory=class_row(Switch)) as cur:
        return cur.execute(Q.promote, {"ref": ref, "force": force}).fetchone()


def rollback(conn: psycopg.Connection, view: str) -> Switch:
    """Serve the version served before the last promote again."""
    with conn.cursor(row_factory=class_row(Switch)) as cur:
        return cur.execute(Q.rollback, {"view": view}).fetchone()


def has_source(conn: psycopg.Connection, ref: str) -> bool:
    """Whether view@N is defined by a source query (its backfill re-runs the query)."""
    return conn.execute(Q.has_source, {"view": ref}).fetchone()[0]


def backfill(connection: Callable[[], ContextManager[psycopg.Connection]], ref: str, *,
             from_version: int | None = None, start: datetime | None = None, end: datetime | None = None,
             on_step: Callable[[BackfillStep], None] | None = None) -> BackfillStep:
    """Fill staged ``view@N`` from another version's history, one transaction per period.

    ``connection`` yields a connection per step (committed when the step ends), so what
    is done stays done: calling again with the same arguments resumes.
    """
    arguments = {"ref": ref, "from_version": from_version, "start": start, "end": end}
    while True:
        with connection() as conn, conn.cursor(row_factory=class_row(BackfillStep)) as cur:
            step = cur.execute(Q.backfill_step, arguments).fetchone()
        if on_step is not None:
            on_step(step)
        if step.finished:
            return step


def status(conn: psycopg.Connection, view: str | None = None) -> list[dict[str, Any]]:
    """Every version (of one view, or all) with its stage and backfill progress."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.rollout_status, {"view": view}).fetchall()
