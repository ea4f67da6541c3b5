"""The SQL API called directly, as an analyst would from psql: table-driven inputs and outputs."""
from __future__ import annotations

import json

import psycopg
import pytest

from tests.defs import base

DTYPES = [
    ("float8", "float8", "double precision"),
    ("double precision", "float8", "double precision"),
    ("FLOAT", "float8", "double precision"),
    ("int", "int", "integer"),
    ("integer", "int", "integer"),
    ("int8", "bigint", "bigint"),
    ("boolean", "bool", "boolean"),
    ("timestamp", "timestamp", "timestamp with time zone"),
    ("string", "text", "text"),
    ("text[]", "text[]", "text[]"),
    ("float4[]", "float4[]", "real[]"),
    ("numeric", "numeric", "numeric"),
    ("jsonb", "jsonb", "jsonb"),
]


@pytest.mark.parametrize("written, canonical, pg_type", DTYPES)
def test_dtype_normalisation_and_column_type(conn, written, canonical, pg_type):
    assert conn.execute("SELECT fs.normalize_dtype(%s)", [written]).fetchone()[0] == canonical
    assert conn.execute("SELECT format_type(fs.sql_type(%s)::regtype, NULL)", [written]).fetchone()[0] == pg_type


def test_vector_dtype(conn, needs_vector):
    assert conn.execute("SELECT fs.normalize_dtype('Vector( 16 )')").fetchone()[0] == "vector(16)"
    assert conn.execute("SELECT fs.sql_type('vector(16)')").fetchone()[0].endswith(".vector(16)")


NAMES = [("spend_7d", True), ("_private", True), ("a" * 48, True), ("a" * 49, False), ("7d_spend", False),
         ("Spend", False), ("spend-7d", False), ("", False), ("x; drop table t", False), ('x"y', False)]


@pytest.mark.parametrize("name, ok", NAMES)
def test_check_name(conn, name, ok):
    if ok:
        assert conn.execute("SELECT fs.check_name('feature', %s)", [name]).fetchone()[0] == name
    else:
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SELECT fs.check_name('feature', %s)", [name])
        assert err.value.sqlstate == "YF001"


RULE_CHECKS = [
    ("float8", {"not_null": True}, [("x__not_null", "x IS NOT NULL")]),
    ("float8", {"min": 0}, [("x__min", "x >= 0 AND x <> 'NaN'")]),
    ("int", {"min": 0, "max": 10}, [("x__min", "x >= 0"), ("x__max", "x <= 10")]),
    ("text", {"allowed": ["a", "b'c"]}, [("x__allowed", "x IN ('a', 'b''c')")]),
    ("text", {"regex": "^[a-z]+$", "max_length": 5},
     [("x__regex", "x ~ '^[a-z]+$'"), ("x__max_length", "char_length(x) <= 5")]),
]


@pytest.mark.parametrize("dtype, rules, expected", RULE_CHECKS)
def test_rules_become_check_expressions(conn, dtype, rules, expected):
    normalized = conn.execute("SELECT fs.normalize_rules('x', %s, %s::jsonb)", [dtype, json.dumps(rules)]).fetchone()[0]
    rows = conn.execute("SELECT constraint_name, expression FROM fs.rule_checks('x', %s, %s::jsonb)",
                        [dtype, json.dumps(normalized)]).fetchall()
    assert rows == expected


VIOLATIONS = [
    ("spend_7d", "NULL", "spend_7d__not_null"),
    ("spend_7d", "-1", "spend_7d__min"),
    # NaN breaks both bounds; PostgreSQL reports the first constraint by name.
    ("spend_7d", "'NaN'", "spend_7d__max"),
    ("spend_7d", "1000.5", "spend_7d__max"),
    ("spend_7d", "'Infinity'", "spend_7d__max"),
    ("country", "'XX'", "country__allowed"),
    ("email_domain", "'UPPER.COM'", "email_domain__regex"),
    ("email_domain", "'" + "a" * 21 + "'", "email_domain__max_length"),
]


@pytest.mark.parametrize("column, value, constraint", VIOLATIONS)
def test_plain_sql_insert_is_held_to_the_rules(store, conn, column, value, constraint):
    store.apply(base())
    values = {"spend_7d": "1", "country": "'DE'", "email_domain": "'ok.com'", column: value}
    with pytest.raises(psycopg.errors.CheckViolation) as err:
        conn.execute(f"INSERT INTO fs_offline.user_stats (user_id, event_ts, {', '.join(values)})"
                     f" VALUES (1, now(), {', '.join(values.values())})")
    assert err.value.diag.constraint_name == constraint
    assert constraint in str(err.value)
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats").fetchone()[0] == 0


def test_null_entity_key_is_refused(store, conn):
    store.apply(base())
    with pytest.raises(psycopg.errors.NotNullViolation):
        conn.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d) VALUES (NULL, now(), 1)")
