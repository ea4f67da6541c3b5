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


REFS = [("user_stats", ("user_stats", None)), ("user_stats@2", ("user_stats", 2)), ("_x@123456789", ("_x", 123456789)),
        ("a" * 48 + "@1", ("a" * 48, 1)), ("a" * 49, None), ("user_stats@0", None), ("user_stats@01", None),
        ("user_stats@", None), ("user_stats@x", None), ("@2", None), ("User@2", None), ("a@1@2", None),
        ("a@1234567890", None), ("a b", None), ("", None)]


@pytest.mark.parametrize("ref, parsed", REFS)
def test_parse_ref_is_one_rule_in_sql_and_python(conn, ref, parsed):
    """NAME@V is read by fs.parse_ref; the client's copy (no round trip) gives the same answers."""
    from fspg import errors
    from fspg.catalog import parse_ref

    if parsed is None:
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SELECT * FROM fs.parse_ref(%s)", [ref])
        assert err.value.sqlstate == "YF001"
        with pytest.raises(errors.InvalidName):
            parse_ref(ref)
    else:
        assert tuple(conn.execute("SELECT * FROM fs.parse_ref(%s)", [ref]).fetchone()) == parsed == parse_ref(ref)


def test_versioned_names_come_from_one_function(conn):
    assert conn.execute("SELECT fs.versioned_name('user_stats', 3), fs.cdc_name('shop')").fetchone() == (
        "user_stats__v3", "fspg_cdc_shop")
    with pytest.raises(psycopg.Error) as err:
        conn.execute("SELECT fs.cdc_name('Shop!')")
    assert err.value.sqlstate == "YF001"


RULE_CHECKS = [
    ("float8", {"not_null": True}, [("x__not_null", "x IS NOT NULL")]),
    ("float8", {"min": 0}, [("x__min", "x >= 0 AND x <> 'NaN'")]),
    ("float8", {"min": 0, "max": 1}, [("x__min", "x >= 0"), ("x__max", "x <= 1")]),
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


# (column, value, the rule it breaks, the constraint that holds that rule)
VIOLATIONS = [
    ("spend_7d", "NULL", "not_null", "spend_7d__not_null_min_max"),
    ("spend_7d", "-1", "min", "spend_7d__not_null_min_max"),
    ("spend_7d", "'NaN'", "max", "spend_7d__not_null_min_max"),
    ("spend_7d", "1000.5", "max", "spend_7d__not_null_min_max"),
    ("spend_7d", "'Infinity'", "max", "spend_7d__not_null_min_max"),
    ("country", "'XX'", "allowed", "country__allowed"),
    ("email_domain", "'UPPER.COM'", "regex", "email_domain__regex_max_length"),
    ("email_domain", "'" + "a" * 21 + "'", "max_length", "email_domain__regex_max_length"),
    ("event_ts", "now() + interval '1 hour'", "not_in_future", "event_ts__not_in_future"),
    ("event_ts", "'1969-12-31'", "not_before_1970", "event_ts__not_before_1970"),
]


@pytest.mark.parametrize("column, value, rule, constraint", VIOLATIONS)
def test_plain_sql_insert_is_held_to_the_rules(store, conn, column, value, rule, constraint):
    store.apply(base())
    values = {"event_ts": "now()", "spend_7d": "1", "country": "'DE'", "email_domain": "'ok.com'", column: value}
    with pytest.raises(psycopg.errors.CheckViolation) as err:
        conn.execute(f"INSERT INTO fs_offline.user_stats (user_id, {', '.join(values)})"
                     f" VALUES (1, {', '.join(values.values())})")
    assert err.value.diag.constraint_name == constraint
    assert rule in constraint and constraint in str(err.value)
    assert conn.execute("SELECT count(*) FROM fs_offline.user_stats").fetchone()[0] == 0


def test_plain_sql_rows_are_counted(store, conn):
    store.apply(base())
    conn.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d) VALUES (1, now(), 1), (2, now(), 2)")
    assert conn.execute("SELECT fs.row_count('user_stats')").fetchone()[0] == 2
    stats = conn.execute("SELECT rows, newest_event IS NOT NULL FROM fs.feature_view_stats"
                         " WHERE feature_view = 'user_stats'").fetchone()
    assert stats == (2, True)


def test_null_entity_key_is_refused(store, conn):
    store.apply(base())
    with pytest.raises(psycopg.errors.NotNullViolation):
        conn.execute("INSERT INTO fs_offline.user_stats (user_id, event_ts, spend_7d) VALUES (NULL, now(), 1)")
