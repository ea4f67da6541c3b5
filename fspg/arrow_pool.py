"""ADBC connections kept open between reads.

Opening an ADBC connection costs a PostgreSQL login (75–300 ms measured, more with
scram), which used to dominate a ``load_batch`` of a few entities. A FeatureStore keeps
the connections its reads and training sets used, per DSN (a DSN carries the role, see
``connection.side_dsn``), and hands them out again.

A connection comes back clean or not at all: its transaction is rolled back, its temp
tables (uploaded entities, spines) dropped and its settings reset; one that fails any of
that is closed. One idle for a while is checked before it is handed out, so a server
restart between two reads costs a reconnect, not an error.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator

from fspg.connection import arrow_connect
from fspg.statements import Q

#: idle connections kept per DSN; more at once are opened and closed as needed
MAX_IDLE = 4
#: seconds after which an idle connection is checked before use
CHECK_AFTER = 30.0


class ArrowPool:
    """Idle ADBC connections by DSN; thread-safe."""

    def __init__(self, max_idle: int = MAX_IDLE):
        self._max_idle = max_idle
        self._idle: dict[str, list[tuple[Any, float]]] = {}
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def connection(self, dsn: str) -> Iterator[Any]:
        """An ADBC connection for ``dsn`` for the block, returned clean afterwards."""
        conn = self._take(dsn) or arrow_connect(dsn)
        try:
            yield conn
        finally:
            self._give_back(dsn, conn)

    def close(self) -> None:
        """Close every idle connection; connections in use close when they come back."""
        with self._lock:
            idle, self._idle, self._closed = self._idle, {}, True
        for conns in idle.values():
            for conn, _ in conns:
                _close_quietly(conn)

    def _take(self, dsn: str) -> Any:
        while True:
            with self._lock:
                conns = self._idle.get(dsn)
                if not conns:
                    return None
                conn, since = conns.pop()
            if time.monotonic() - since < CHECK_AFTER or _answers(conn):
                return conn
            _close_quietly(conn)

    def _give_back(self, dsn: str, conn: Any) -> None:
        if not _reset(conn):
            _close_quietly(conn)
            return
        with self._lock:
            conns = self._idle.setdefault(dsn, [])
            if not self._closed and len(conns) < self._max_idle:
                conns.append((conn, time.monotonic()))
                return
        _close_quietly(conn)


def _reset(conn: Any) -> bool:
    # Rolled back first: a failed statement leaves the transaction aborted, and a session
    # that committed (a stored training set) may hold temp tables and settings past it.
    try:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute(Q.discard_temp)
            cur.execute(Q.reset_settings)
        conn.commit()
        return True
    except Exception:  # noqa: BLE001 -- any failure means the connection is not reusable
        return False


def _answers(conn: Any) -> bool:
    try:
        with conn.cursor() as cur:
            cur.execute(Q.ping)
            cur.fetchall()
        conn.rollback()
        return True
    except Exception:  # noqa: BLE001 -- a connection that does not answer is replaced
        return False


def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.close()
