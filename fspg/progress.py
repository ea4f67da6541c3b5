"""Progress of long work (ingest, training sets, backfills): phase, count, rate, elapsed, ETA.

Drawn by rich on stderr when it is a terminal, and in a notebook when running in Jupyter;
silent otherwise. The count only grows: work that starts over (an ingest that falls back
to checking rows one by one) starts a new *phase* instead of counting backwards, so the
ETA never jumps back.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import Progress as Bar


class Progress:
    """Counts rows of one piece of work: ``progress(n)`` adds n rows, ``progress.phase(label)``
    starts counting again under a new label. Use as a context manager or call ``close()``."""

    def __init__(self, label: str, total: int | None = None, *, stream: Any = None):
        self.label = label
        self.total = total
        self.rows = 0
        self._stream = stream or sys.stderr
        self._bar = self._start() if _visible(self._stream) else None
        self._task = self._bar.add_task(label, total=total, rate="") if self._bar else None

    def _start(self) -> "Bar":
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TaskProgressColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn()]
        bar = Bar(*columns, console=Console(file=self._stream), transient=False, refresh_per_second=5)
        bar.start()
        return bar

    def __call__(self, rows: int) -> None:
        self.rows += max(rows, 0)
        if self._bar is not None and self._task is not None:
            task = self._bar.tasks[0]
            rate = self.rows / task.elapsed if task.elapsed else 0.0
            self._bar.update(self._task, completed=self.rows, rate=f"{rate:,.0f} rows/s")

    def phase(self, label: str) -> None:
        """Start a new phase of the same work: the count starts at 0 under ``label``."""
        self.rows = 0
        if self._bar is not None and self._task is not None:
            self._bar.reset(self._task, total=self.total, description=f"{self.label}: {label}", rate="")

    def close(self) -> None:
        """Draw the last state and end the line."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def new_phase(progress: Any, label: str) -> None:
    """Tell a progress callback that counting starts over (plain callables are left alone)."""
    phase = getattr(progress, "phase", None)
    if callable(phase):
        phase(label)


def _visible(stream: Any) -> bool:
    if getattr(stream, "isatty", lambda: False)():
        return True
    try:
        shell = get_ipython().__class__.__name__  # type: ignore[name-defined]  # noqa: F821
    except NameError:
        return False
    return bool(shell == "ZMQInteractiveShell")
