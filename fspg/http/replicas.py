"""Lag-aware reads: lookups go to a replica while it keeps up, else to the primary.

Every ``interval`` seconds the router asks the primary for its WAL position and each
replica how far its subscription has received; a replica is fresh when its subscription
worker runs and it is within ``max_lag_bytes`` of the primary. Bytes, not seconds: both
servers answer them without monitoring rights, and a replica whose worker stopped (a
disabled subscription, a broken connection) is behind however idle the primary is.
"""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from fspg.connection import CONNECT_TIMEOUT, describe_dsn
from fspg.statements import Q

#: a replica this far behind the primary's WAL no longer serves reads
DEFAULT_MAX_LAG_BYTES = 16 * 1024 * 1024


@dataclass
class ReplicaState:
    """What the router last saw of one replica."""

    dsn: str
    lag_bytes: int | None = None  # None: unknown (unreachable, or its subscription is not running)
    fresh: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """For /health: the replica without its password, its lag and whether it serves."""
        return {"replica": describe_dsn(self.dsn), "lag_bytes": self.lag_bytes, "serving": self.fresh,
                **({"error": self.error} if self.error else {})}


class ReplicaRouter:
    """Picks where lookups read, from periodic lag checks."""

    def __init__(self, primary_dsn: str, replica_dsns: list[str], *, max_lag_bytes: int = DEFAULT_MAX_LAG_BYTES,
                 interval: float = 1.0):
        self.primary_dsn = primary_dsn
        self.replicas = [ReplicaState(dsn) for dsn in replica_dsns]
        self.max_lag_bytes = max_lag_bytes
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def pick(self) -> str | None:
        """The DSN of the first fresh replica, or None (read from the primary)."""
        return next((r.dsn for r in self.replicas if r.fresh), None)

    async def start(self) -> None:
        """Check once now, then keep checking in the background."""
        if self.replicas:
            await self.check()
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop the background checks."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def check(self) -> None:
        """Measure every replica's lag now."""
        try:
            primary_lsn = await _scalar(self.primary_dsn, Q.current_wal_lsn)
        except Exception as err:  # noqa: BLE001 -- the primary away: replicas cannot be judged
            for replica in self.replicas:
                replica.fresh, replica.lag_bytes, replica.error = False, None, f"primary: {err}"
            return
        for replica in self.replicas:
            try:
                received = await _scalar(replica.dsn, Q.subscription_received_lsn)
                replica.lag_bytes = None if received is None else _lsn(primary_lsn) - _lsn(received)
                replica.error = None if received is not None else "no running subscription"
            except Exception as err:  # noqa: BLE001 -- an unreachable replica is simply not fresh
                replica.lag_bytes, replica.error = None, str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
            replica.fresh = replica.lag_bytes is not None and max(replica.lag_bytes, 0) <= self.max_lag_bytes

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.check()


def _lsn(text: str) -> int:
    """A WAL position (``pg_lsn`` text, ``16/B374D848``) as a byte offset."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


async def _scalar(dsn: str, query: str, params: dict[str, Any] | None = None) -> Any:
    import psycopg

    # A short-lived connection per check: one a second is nothing, and a replica that went
    # away cannot leave a broken pooled connection behind.
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
        row = await (await conn.execute(query, params)).fetchone()
        return row[0] if row else None
