"""Every statement the client sends is a named entry of fspg/queries.sql: each entry is
used, and no module holds SQL text of its own (statements whose identifiers vary are
composed with psycopg.sql where they are sent)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from fspg.statements import DESCRIPTIONS, Q

PACKAGE = Path(__file__).resolve().parent.parent / "fspg"
SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|SET|SHOW|CREATE|ALTER|DROP|GRANT|REVOKE) ")
# The demo plays an application (its own tables, its own SQL); migrations run the files of
# sql/ (their registry) and print them for a DBA.
EXEMPT = {"demo.py", "migrate.py", "env.py"}


def _sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text() for p in PACKAGE.rglob("*.py") if p.name not in EXEMPT}


def test_every_entry_is_used_and_described():
    code = "\n".join(_sources().values())
    unused = [name for name in Q.names() if not re.search(rf"\bQ\.{name}\b", code)]
    assert unused == []
    assert all(DESCRIPTIONS[name].strip() for name in Q.names())


def test_no_module_holds_sql_text():
    held = []
    for name, text in _sources().items():
        tree = ast.parse(text)
        # Not statements: text composed with psycopg.sql (identifiers vary), a hint for
        # people, a part of an f-string message.
        composed = {id(part) for node in ast.walk(tree) if isinstance(node, ast.Call)
                    and getattr(node.func, "attr", None) == "SQL" for arg in node.args for part in ast.walk(arg)}
        composed |= {id(part) for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == "hint"
                     for part in ast.walk(node.value)}
        composed |= {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in ast.walk(node)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in composed
                    and SQL_START.match(node.value) and " " in node.value.strip()):
                held.append(f"{name}:{node.lineno}: {node.value.strip()[:60]}")
    assert held == []
