"""A rows/s progress line for long commands, on stderr and only on a terminal."""
from __future__ import annotations

import sys
import time


class Progress:
    """Counts rows; redraws ``label  rows  rows/s  [bar] pct`` at most ten times a second."""

    def __init__(self, label: str, total: int | None = None, *, stream=None):
        self.label = label
        self.total = total
        self.rows = 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.perf_counter()
        self._drawn = 0.0

    def __call__(self, rows: int) -> None:
        self.rows += rows
        now = time.perf_counter()
        if self.enabled and now - self._drawn > 0.1:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.rows / max(now - self.started, 1e-9)
        line = f"{self.label}  {self.rows:,} rows  {rate:,.0f} rows/s"
        if self.total:
            done = min(self.rows / self.total, 1.0)
            line += f"  [{'#' * int(done * 30):<30}] {done:4.0%}"
        self.stream.write("\r" + line)
        self.stream.flush()

    def close(self) -> None:
        """End the line (terminal only)."""
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
