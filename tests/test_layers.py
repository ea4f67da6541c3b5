"""The import graph has layers and nothing points back up:

    fspg.cli -> fspg.commands.* -> fspg.http (the feature server) -> fspg.client (FeatureStore, its methods in
    fspg.api.*) and fspg.aio (AsyncFeatureStore) -> the modules that talk to the database (catalog, ingest, online,
    training, ...) and fspg.connection -> SQL.

Commands hold no SQL and do not import psycopg; the modules under the client never import
the client, the commands or the CLI. Imports inside functions count too.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fspg"
TOP = {"fspg.cli", "fspg.commands", "fspg.http", "fspg.client", "fspg.aio", "fspg.api", "fspg.demo"}  # and fspg/__init__ (re-exports)


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _is(name: str, layer: str) -> bool:
    return name == layer or name.startswith(layer + ".")


def test_nothing_below_the_client_imports_it_or_anything_above():
    wrong = [(module, target) for module, targets in _graph().items()
             if module != "fspg" and not any(_is(module, top) for top in TOP)
             for target in targets if any(_is(target, top) for top in TOP)]
    assert wrong == []


def test_only_the_cli_imports_the_commands_and_nothing_imports_the_cli():
    graph = _graph()
    assert [m for m, t in graph.items() if "fspg.cli" in t] == []
    assert sorted(m for m, t in graph.items() if any(_is(x, "fspg.commands") for x in t)
                  and not _is(m, "fspg.commands") and m != "fspg.cli") == []


def test_commands_hold_no_sql():
    for path in (PACKAGE / "commands").glob("*.py"):
        assert not any(_is(t, "psycopg") or _is(t, "fspg.connection") for t in _imports(path)), path.name
        strings = [n.value for n in ast.walk(ast.parse(path.read_text()))
                   if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        assert not [s for s in strings if s.lstrip().upper().startswith(("SELECT ", "INSERT ", "WITH ", "DELETE "))], path.name
