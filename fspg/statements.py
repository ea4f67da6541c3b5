"""Every statement the client sends, by name: ``fspg/queries.sql``, read once.

``Q.open_batch`` is the text of the entry ``-- name: open_batch``; an unknown name fails
at import. ``DESCRIPTIONS`` holds each entry's one-line description. A statement whose
identifiers vary (a COPY into a version's table, an INSERT from arrays) is composed with
``psycopg.sql`` where it is sent, never by pasting text.
"""
from __future__ import annotations

import re
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import psycopg

_ENTRY = re.compile(r"^-- name: (?P<name>[a-z_][a-z0-9_]*)\n-- (?P<description>[^\n]+)\n(?P<sql>.*?);\s*$",
                    re.DOTALL | re.MULTILINE)


def _load() -> tuple[dict[str, str], dict[str, str]]:
    text = resources.files("fspg").joinpath("queries.sql").read_text()
    statements, descriptions = {}, {}
    for block in text.split("\n\n"):
        match = _ENTRY.match(block.strip() + "\n")
        if match is None:
            continue
        statements[match["name"]] = match["sql"].strip()
        descriptions[match["name"]] = match["description"]
    return statements, descriptions


class Statements:
    """The named statements as attributes (``Q.open_batch``)."""

    def __init__(self, statements: Mapping[str, str]):
        self._statements = dict(statements)

    def __getattr__(self, name: str) -> str:
        try:
            return self._statements[name]
        except KeyError:
            raise AttributeError(f"no statement named {name!r} in fspg/queries.sql") from None

    def __dir__(self) -> list[str]:
        return sorted(self._statements)

    def names(self) -> list[str]:
        """Every statement's name."""
        return sorted(self._statements)


def one(conn: "psycopg.Connection[Any]", query: str, params: Any = None) -> Any:
    """The one row ``query`` returns (every statement used so returns exactly one)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LookupError(f"the statement returned no row: {query[:80]}")
    return row


def scalar(conn: "psycopg.Connection[Any]", query: str, params: Any = None) -> Any:
    """The first value of the one row ``query`` returns."""
    return one(conn, query, params)[0]


_STATEMENTS, _DESCRIPTIONS = _load()
Q = Statements(_STATEMENTS)
DESCRIPTIONS: Mapping[str, str] = MappingProxyType(_DESCRIPTIONS)
