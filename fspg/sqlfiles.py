"""The SQL shipped inside the package (``fspg/sql``, a copy of the repository's ``sql/``).

Read through importlib.resources so an installed wheel and a development checkout
behave the same.
"""
from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable


def _root() -> Traversable:
    return resources.files("fspg") / "sql"


def migration_files() -> list[str]:
    """Names of the run-once migration files, in order (``0001_catalog.sql`` …)."""
    return sorted(p.name for p in (_root() / "migrations").iterdir() if p.name.endswith(".sql"))


def function_files() -> list[str]:
    """Names of the re-runnable function files, in the order they are applied."""
    return sorted(p.name for p in (_root() / "functions").iterdir() if p.name.endswith(".sql"))


def read_migration(name: str) -> str:
    """The text of one migration file."""
    return (_root() / "migrations" / name).read_text(encoding="utf-8")


def read_function_file(name: str) -> str:
    """The text of one function file."""
    return (_root() / "functions" / name).read_text(encoding="utf-8")
