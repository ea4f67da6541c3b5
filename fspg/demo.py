"""``fspg demo`` / ``make demo``: the main job end to end, printing each step."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from fspg.errors import UserError


def run(dsn: str | None, examples: str | Path, echo: Callable[[str], None] = print) -> None:
    """Start (or use) the database, migrate, apply the example repository and describe it."""
    from fspg import migrate
    from fspg.client import FeatureStore
    from fspg.connection import resolve_dsn
    from fspg.describe import render
    from fspg.output import table

    features = Path(examples) / "features"
    if not features.is_dir():
        raise UserError(f"no example repository at {features}", hint="run from the fspg checkout or pass --examples")

    def step(title: str) -> float:
        echo(f"\n== {title}")
        return time.perf_counter()

    t = step("1. database")
    dsn = resolve_dsn(dsn)
    echo(f"connected to {dsn} ({time.perf_counter() - t:.1f}s)")

    t = step("2. migrate")
    echo(f"schema at revision {migrate.upgrade(dsn)} ({time.perf_counter() - t:.1f}s)")

    with FeatureStore(dsn) as store:
        step(f"3. plan: fspg apply {features} --dry-run")
        for s in store.apply(features, dry_run=True):
            echo(f"  {s.action:<12} {s.kind} {s.name}" + (f"@{s.version}" if s.version else ""))

        t = step(f"4. apply: fspg apply {features}")
        for s in store.apply(features):
            echo(f"  {s.action:<12} {s.kind} {s.name}" + (f"@{s.version}" if s.version else ""))
        echo(f"  ({time.perf_counter() - t:.2f}s)")

        step("5. apply again: nothing changes")
        actions = {s.action for s in store.apply(features)}
        echo(f"  actions: {', '.join(sorted(actions))}")

        step("6. fspg ls")
        echo(table(store.list_feature_views(), ["name", "current_version", "entity", "owner", "features", "rows"]))

        step("7. fspg describe user_stats")
        echo(render(store.describe("user_stats")))

    echo("\nDone. Try: .venv/bin/fspg describe merchant_stats, or psql against the DSN above.")
