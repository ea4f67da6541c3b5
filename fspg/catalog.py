"""Catalog statements: every call the client makes to define or describe features.

One place for the SQL the catalog part of the client sends; each is a single call of
an ``fs.*`` function with named parameters.
"""
from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fspg.definitions import PlanStep
from fspg.statements import Q



def apply(conn: psycopg.Connection, definitions: dict, *, dry_run: bool = False) -> list[PlanStep]:
    """Apply a definitions document (see fspg.definitions) in one call; returns the plan."""
    rows = conn.execute(Q.apply, {"definitions": Jsonb(definitions), "dry_run": dry_run}).fetchall()
    return [PlanStep(*row) for row in rows]


def list_feature_views(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every feature view with current version, owner, feature and row counts."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.list_feature_views).fetchall()


def describe_feature_view(conn: psycopg.Connection, name: str, version: int | None) -> dict[str, Any]:
    """Everything about one feature view version (features, rules, versions, tables, lineage)."""
    return conn.execute(Q.describe_feature_view, {"name": name, "version": version}).fetchone()[0]


def has_replicas(conn: psycopg.Connection) -> bool:
    """Whether serving replicas are registered (readable by fs_admin only)."""
    try:
        with conn.transaction():
            return conn.execute(Q.has_replicas).fetchone()[0]
    except psycopg.errors.InsufficientPrivilege:
        return False


# fs.parse_ref's grammar (sql/functions/10_names.sql), read here too so a client splits
# NAME@V without a round trip; tests/test_sql_api.py holds the two to the same answers.
_REF = re.compile(r"([a-z_][a-z0-9_]{0,47})(?:@([1-9][0-9]{0,8}))?")


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Split ``name`` or ``name@3`` into the name and the version (None for current), as
    SQL's ``fs.parse_ref`` does; anything else is an InvalidName."""
    from fspg.errors import InvalidName

    match = _REF.fullmatch(ref) if isinstance(ref, str) else None
    if match is None:
        raise InvalidName(f"invalid reference {ref!r}", hint="write NAME or NAME@N with N a positive number,"
                                                             " e.g. user_stats@2")
    name, version = match.groups()
    return name, int(version) if version else None


def split_ref(name: str, version: int | None) -> tuple[str, int | None]:
    """``NAME@V`` or ``NAME`` plus an explicit version (which must agree when both are given)."""
    from fspg.errors import InvalidArgument

    base, parsed = parse_ref(name)
    if parsed is not None and version is not None and parsed != version:
        raise InvalidArgument(f"{name!r} names version {parsed}, but version={version} was passed")
    return base, parsed if parsed is not None else version
