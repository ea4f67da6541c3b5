"""A real, non-editable install: the wheel carries sql/ and the example repository, and the
fspg command finds them (fspg demo runs from an installed wheel)."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(REPO)], check=True)
    return next(out.glob("fspg-*.whl"))


def test_wheel_ships_every_sql_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.removeprefix("fspg/") for n in names if n.startswith("fspg/sql/") and n.endswith(".sql")}
    in_repo = {str(p.relative_to(REPO)) for p in (REPO / "sql").rglob("*.sql")}
    assert shipped == in_repo and in_repo
    assert "fspg/migrations/env.py" in names


def test_installed_fspg_command_migrates_and_applies(wheel, tmp_path, dsn):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    env = {**os.environ, "PYTHONPATH": str(site), "FSPG_DSN": dsn}
    where = subprocess.run([sys.executable, "-c", "import fspg, fspg.sqlfiles as s; print(fspg.__file__);"
                            " print(len(s.function_files()))"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert where[0].startswith(str(site))  # the installed copy, not the checkout
    assert int(where[1]) == len(list((REPO / "sql" / "functions").glob("*.sql")))

    fspg = str(site / "bin" / "fspg")
    run = lambda *args: subprocess.run([fspg, *args], cwd=tmp_path, env=env, capture_output=True, text=True)  # noqa: E731
    migrated = run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    applied = run("apply", str(EXAMPLES / "entities.yaml"))
    assert applied.returncode == 0, applied.stderr
    assert "create       entity user" in applied.stdout
    printed = run("migrate", "--sql")
    assert "CREATE TABLE fs.entity" in printed.stdout


def test_installed_fspg_demo_runs_from_any_folder(wheel, tmp_path, dsn, needs_vector):
    """(The example repository has an embedding view: the demo needs pgvector.)"""
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"fspg/examples/features/user_features.yaml", "fspg/examples/data/merchant_stats.csv"} <= names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "FSPG_DSN": dsn}
    demo = subprocess.run([str(site / "bin" / "fspg"), "demo"], cwd=elsewhere, env=env, capture_output=True, text=True)
    try:
        assert demo.returncode == 0, demo.stderr[-2000:]
        assert str(site / "fspg" / "examples" / "features") in demo.stdout
        assert "0 NULL values served" in demo.stdout and "== 22. fspg describe user_stats" in demo.stdout
        assert (elsewhere / "fspg-docs" / "index.html").exists()  # the demo ends by building the catalog site
    finally:
        from fspg import FeatureStore

        with FeatureStore(dsn) as store:   # the demo's CDC subscription, so the database can go
            if any(s["name"] == "shop" for s in store.sources()):
                store.remove_source("shop")
