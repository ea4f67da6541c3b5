"""The offline store: validated writes, reads at a moment, the ingest log, quarantine, upkeep."""
from __future__ import annotations

import contextlib
import dataclasses

from typing import TYPE_CHECKING, Any, Callable

from fspg import ingest, ingestlog, offline, upkeep
from fspg.api.base import StoreBase
from fspg.results import OnlineRebuild
from fspg.connection import side_dsn
from fspg.ingest import IngestResult
from fspg.statements import Q, one, scalar
from fspg.times import utc

if TYPE_CHECKING:
    import pyarrow as pa


class OfflineMethods(StoreBase):
    """The offline store: validated writes, reads at a moment, the ingest log, quarantine, upkeep."""

    def insert_batch(self, name: str, data: Any, timestamp: Any = None, *, mode: str = "quarantine",
                     batch_key: str | None = None, max_quarantined: float | None = None, chunk_rows: int = 65_536,
                     progress: Callable[[int], None] | bool = False, skip_unchanged: bool = False) -> IngestResult:
        """Validate and append a batch of feature values to ``name`` (``view`` or ``view@N``).

        ``data``: a dict of columns, a pyarrow Table/RecordBatch/RecordBatchReader, or a
        pandas or polars DataFrame, with the view's key columns and any of its features.
        ``timestamp`` stamps every row's event_ts when the data has no event_ts column
        (naive datetimes are UTC). ``mode="quarantine"`` keeps the good rows and sets the
        bad ones aside with the rules they broke; ``mode="strict"`` writes nothing if any
        row is bad. The batch lands whole or not at all; every row is accounted for:
        ``rows_in == inserted + quarantined``.

        ``batch_key`` makes retries safe: a second batch with a key already on record for
        that view version writes nothing and returns the first batch's result (``path ==
        "existing"``), also when both run at once (the second waits for the first).
        ``max_quarantined`` (a count of rows, or a fraction below 1) fails the batch like
        strict mode when more rows are bad: nothing is written, ``BatchRejected``.
        ``skip_unchanged=True`` counts rows whose values history already holds as the
        newest for their entity and moment as ``unchanged`` instead of writing them again
        (a re-sent snapshot adds only what changed).

        ``progress=True`` draws a progress bar (rows, rate, elapsed, ETA) in a notebook or
        on a terminal; a callable is called with each chunk's row count instead.

        >>> fs.insert_batch("user_stats", {"user_id": [1], "spend_7d": [9.5]}, timestamp="now").inserted
        1
        """
        self._check_serving_epoch()
        with contextlib.ExitStack() as stack:
            if progress is True:
                from fspg.progress import Progress

                progress = stack.enter_context(Progress(f"{name}"))
            with self.connection() as conn:
                return ingest.insert_batch(conn, name, data, timestamp=timestamp, mode=mode, batch_key=batch_key,
                                           max_quarantined=max_quarantined, chunk_rows=chunk_rows,
                                           progress=progress or None, cache=self._write_cache,
                                           skip_unchanged=skip_unchanged)

    def push(self, name: str, events: Any, timestamp: Any = None, *, mode: str = "quarantine",
             batch_key: str | None = None, source: str = "push") -> IngestResult:
        """Write a few events (a dict, a list of dicts or a dict of columns; at most 10,000)
        in one round trip through ``fs.push``: the same rules, quarantine and retry
        semantics as ``insert_batch``, for events as they happen. Values are parsed by the
        server, so one that does not fit its column quarantines its row (``<column>__type``).
        ``timestamp`` is the event_ts of events without one.

        >>> fs.push("user_stats", {"user_id": 7, "spend_7d": 3.5, "txn_count_7d": 2}, timestamp="now").inserted
        1
        """
        from fspg import events as event_rows

        rows = event_rows.dumps(event_rows.as_rows(events, timestamp))
        with self.connection() as conn:
            row = one(conn, Q.push, {"view": name, "rows": rows, "mode": mode, "source": source, "batch_key": batch_key})
        return dataclasses.replace(IngestResult(*row), path="push")

    def load_batch(self, name: str, timestamp: Any = None, limit: int | None = None, *,
                   entities: Any = None, features: list[str] | None = None, as_of: Any = None) -> "pa.Table":
        """The feature values in effect at ``timestamp`` (default now): one row per entity.

        The newest row with ``event_ts <= timestamp`` within the view's TTL wins, ties
        broken by created_ts. ``as_of`` only sees rows the store had learned by then (it
        waits until that moment is settled). ``entities`` (a list of keys, a dict of key
        columns or an Arrow table) returns one row per entity in that order, NULL where
        nothing is in effect. Reads committed data through its own connection.
        """
        with self.connection() as conn:
            query, table = offline.build_query(conn, "load_batch", name, at=utc(timestamp), limit=limit,
                                               entities=entities, features=features, as_of=as_of)
            dsn = side_dsn(self.dsn, conn)
        return offline.read_arrow(self._arrow, dsn, query, table)

    def load_history(self, name: str, start: Any = None, end: Any = None, *, entities: Any = None,
                     features: list[str] | None = None, as_of: Any = None) -> "pa.Table":
        """Raw history rows of ``name`` with ``start <= event_ts < end``, corrections included, oldest first."""
        with self.connection() as conn:
            query, table = offline.build_query(conn, "history", name, start=utc(start), end=utc(end),
                                               entities=entities, features=features, as_of=as_of)
            dsn = side_dsn(self.dsn, conn)
        return offline.read_arrow(self._arrow, dsn, query, table)

    def batches(self, name: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The ingest log, newest first: rows in, inserted, quarantined, reasons, who, when."""
        with self.connection() as conn:
            return ingestlog.batches(conn, view=name, limit=limit)

    def quarantine(self, batch_id: int | None = None, *, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Quarantined rows of one batch, or (without ``batch_id``) a summary per batch."""
        with self.connection() as conn:
            if batch_id is None:
                return ingestlog.quarantine_summary(conn, view=name)
            return ingestlog.quarantine_rows(conn, batch_id, limit=limit)

    def replay_quarantine(self, batch_id: int, *, into: str | None = None, mode: str = "quarantine") -> IngestResult:
        """Re-validate a batch's quarantined rows (after a fix) into ``into`` (default: the view's newest staged version, else the served one)."""
        with self.connection() as conn:
            return ingest.replay(conn, batch_id, view=into, mode=mode)

    def schedule(self, cron: str = "*/5 * * * *") -> int:
        """Register maintenance and due refreshes as the pg_cron job ``fspg-maintain``; returns its id.
        Raises ``ExtensionMissing`` where pg_cron is not installed."""
        with self.connection() as conn:
            return int(scalar(conn, Q.schedule_with_pg_cron, {"cron": cron}))

    def rebuild_online(self, name: str) -> OnlineRebuild:
        """Rebuild the online table of ``name`` (view or view@N) from its history; idempotent, safe during writes."""
        with self.connection() as conn:
            return OnlineRebuild(*one(conn, Q.rebuild_online, {"view": name}))

    def maintain(self, ahead: int = 2) -> list[dict[str, Any]]:
        """Partition upkeep and retention for every active version (also run by ``fspg maintain`` or pg_cron)."""
        with self.connection() as conn:
            return upkeep.maintain(conn, ahead=ahead)

    def forget(self, name: str, entity: dict[str, Any], *, reason: str | None = None) -> int:
        """Erase one entity from every version of a view (right to erasure); logged. Returns history rows deleted."""
        with self.connection() as conn:
            return upkeep.forget(conn, name, entity, reason=reason)
