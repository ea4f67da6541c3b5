"""Bad definitions: each gets a clear error (SQLSTATE in SQL, fspg.errors in Python,
one line and exit 2 in the CLI), and nothing changes."""
from __future__ import annotations

import json

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from fspg import errors
from fspg.cli import main
from tests.defs import base, view


def _set(doc, path, value):
    *head, last = path
    target = doc
    for part in head:
        target = target[part] if not isinstance(part, str) or part not in ("user_stats", "fx_rates") else view(doc, part)
    target[last] = value
    return doc


def _feature(doc, **fields):
    view(doc, "user_stats")["features"][0].update(fields)
    return doc


def _rules(doc, **rules):
    view(doc, "user_stats")["features"][0]["rules"] = rules
    return doc


BAD = {
    # name rules and injection
    "view name with capitals": (lambda d: _set(d, ["user_stats", "name"], "UserStats"), "YF001", errors.InvalidName, "invalid feature view name"),
    "view name injection": (lambda d: _set(d, ["user_stats", "name"], 'x"; drop table fs.entity; --'), "YF001", errors.InvalidName, "invalid feature view name"),
    "view name too long": (lambda d: _set(d, ["user_stats", "name"], "a" * 49), "YF001", errors.InvalidName, "invalid feature view name"),
    "view name with double underscore": (lambda d: _set(d, ["user_stats", "name"], "user__stats"), "YF001", errors.InvalidName, "invalid feature view name"),
    "feature name injection": (lambda d: _feature(d, name="a; drop schema fs cascade"), "YF001", errors.InvalidName, "invalid feature name"),
    "entity name starting with digit": (lambda d: _set(d, ["entities", 0, "name"], "1user"), "YF001", errors.InvalidName, "invalid entity name"),
    "key column injection": (lambda d: _set(d, ["entities", 0, "keys"], [{"name": 'id") --', "dtype": "bigint"}]), "YF001", errors.InvalidName, "invalid key column name"),
    # reserved names
    "feature named event_ts": (lambda d: _feature(d, name="event_ts"), "YF002", errors.InvalidName, "reserved"),
    "feature named created_ts": (lambda d: _feature(d, name="created_ts"), "YF002", errors.InvalidName, "reserved"),
    "feature named like the key": (lambda d: _feature(d, name="user_id"), "YF002", errors.InvalidName, "reserved"),
    "key named event_ts": (lambda d: _set(d, ["entities", 0, "keys"], [{"name": "event_ts", "dtype": "bigint"}]), "YF002", errors.InvalidName, "reserved"),
    # types
    "unknown dtype": (lambda d: _feature(d, dtype="float16"), "YF003", errors.DefinitionError, "unknown dtype"),
    "unknown key dtype": (lambda d: _set(d, ["entities", 0, "keys"], [{"name": "user_id", "dtype": "float8"}]), "YF003", errors.DefinitionError, "cannot be of dtype"),
    "vector dimension 0": (lambda d: _feature(d, dtype="vector(0)", rules={}), "YF005", errors.DefinitionError, "vector dimension 0 is out of range"),
    "vector dimension 16001": (lambda d: _feature(d, dtype="vector(16001)", rules={}), "YF005", errors.DefinitionError, "vector dimension 16001 is out of range"),
    # duplicates
    "duplicate feature": (lambda d: view(d, "user_stats")["features"].append({"name": "spend_7d", "dtype": "int"}) or d, "YF004", errors.DefinitionError, "defines feature spend_7d twice"),
    "duplicate service feature": (lambda d: _set(d, ["feature_services", 0, "features"], ["fx_rates.eur_usd", "fx_rates.*"]), "YF004", errors.DefinitionError, "twice"),
    # rules
    "min greater than max": (lambda d: _rules(d, min=10, max=1), "YF005", errors.DefinitionError, "rule min 10 is greater than max 1"),
    "invalid regex": (lambda d: _feature(d, name="code", dtype="text", rules={"regex": "([a-z"}), "YF005", errors.DefinitionError, "invalid regex"),
    "unknown rule": (lambda d: _rules(d, positive=True), "YF005", errors.DefinitionError, "unknown rule positive"),
    "min on text": (lambda d: _feature(d, name="code", dtype="text", rules={"min": 1}), "YF005", errors.DefinitionError, "does not apply"),
    "min not a number": (lambda d: _rules(d, min="zero"), "YF005", errors.DefinitionError, "must be a number"),
    "allowed value of wrong type": (lambda d: _feature(d, name="n", dtype="int", rules={"allowed": [1, "two"]}), "YF005", errors.DefinitionError, "not a valid int"),
    "negative max_length": (lambda d: _feature(d, name="code", dtype="text", rules={"max_length": -3}), "YF005", errors.DefinitionError, "max_length"),
    # references and shapes
    "undefined entity": (lambda d: _set(d, ["user_stats", "entity"], "customer"), "YF006", errors.NotFound, "entity customer, which is not defined"),
    "service of unknown view": (lambda d: _set(d, ["feature_services", 0, "features"], ["nope.x"]), "YF006", errors.NotFound, "does not exist"),
    "service of unknown feature": (lambda d: _set(d, ["feature_services", 0, "features"], ["fx_rates.nope"]), "YF006", errors.NotFound, "has no feature nope"),
    "view without features": (lambda d: _set(d, ["user_stats", "features"], []), "YF008", errors.DefinitionError, "has no features"),
    "unknown view field": (lambda d: _set(d, ["user_stats", "featurs"], []), "YF008", errors.DefinitionError, "unknown field(s) featurs"),
    "bad ttl": (lambda d: _set(d, ["user_stats", "ttl"], "a week or so"), "YF008", errors.DefinitionError, "ttl and retention must be intervals"),
    "bad partition": (lambda d: _set(d, ["user_stats", "partition"], "hour"), "YF008", errors.DefinitionError, "partition must be day, week, month or year"),
    "entity without keys": (lambda d: _set(d, ["entities", 0, "keys"], []), "YF008", errors.DefinitionError, "needs at least one key"),
}


def _catalog_state(conn):
    return conn.execute(
        "SELECT (SELECT count(*) FROM fs.entity), (SELECT count(*) FROM fs.feature_view_version),"
        " (SELECT count(*) FROM fs.feature_service_version), (SELECT count(*) FROM pg_class c"
        "   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('fs_offline', 'fs_online'))").fetchone()


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_definition_sql_python_and_cli(case, store, conn, dsn, tmp_path):
    mutate, sqlstate, exc_class, message = BAD[case]
    if case.startswith("view name"):  # keep the service pointing at something that exists
        base_doc = mutate(base())
        base_doc["feature_services"] = []
    else:
        base_doc = mutate(base())
    before = _catalog_state(conn)

    # SQL: SQLSTATE and message
    from fspg.definitions import from_mapping

    with pytest.raises(psycopg.Error) as sql_err:
        conn.execute("SELECT * FROM fs.apply(%s::jsonb)", [json.dumps(from_mapping(base_doc))])
    assert sql_err.value.sqlstate == sqlstate
    assert message in sql_err.value.diag.message_primary

    # Python: an fspg.errors exception
    with pytest.raises(exc_class) as py_err:
        store.apply(base_doc)
    assert message in str(py_err.value)

    # CLI: one line on stderr, exit code 2
    path = tmp_path / "defs.yaml"
    path.write_text(yaml.safe_dump(base_doc, sort_keys=False))
    result = CliRunner().invoke(main, ["--dsn", dsn, "apply", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("fspg: error: ")
    assert message in result.stderr

    assert _catalog_state(conn) == before


def test_bad_definition_in_second_file_applies_nothing(store, conn, tmp_path):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"entities": base()["entities"]}))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"feature_views": [{"name": "v", "entity": "user",
                                                                          "features": [{"name": "x", "dtype": "nope"}]}]}))
    before = _catalog_state(conn)
    with pytest.raises(errors.DefinitionError):
        store.apply(tmp_path)
    assert _catalog_state(conn) == before


def test_changing_entity_keys_is_refused(store):
    store.apply(base())
    doc = base()
    doc["entities"][0]["keys"] = {"user_id": "text"}
    with pytest.raises(errors.DefinitionError, match="already exists with keys"):
        store.apply(doc)


def test_vector_feature_without_pgvector_is_a_clear_error(store, conn, has_vector):
    if has_vector:
        conn.execute("DROP EXTENSION vector")
    doc = base()
    view(doc, "user_stats")["features"].append({"name": "embedding", "dtype": "vector(8)"})
    with pytest.raises(errors.ExtensionMissing, match="needs the pgvector extension"):
        store.apply(doc)


MALFORMED_YAML = {
    "unclosed bracket": ("entities:\n  - name: user\n    keys: {user_id: bigint\n", 4),
    "bad indentation": ("feature_views:\n  - name: a\n   owner: b\n", 3),
    "tab indentation": ("entities:\n\t- name: user\n", 2),
}


@pytest.mark.parametrize("case", MALFORMED_YAML, ids=list(MALFORMED_YAML))
def test_malformed_yaml_names_file_and_line(case, tmp_path, dsn):
    text, line = MALFORMED_YAML[case]
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["--dsn", dsn, "apply", str(path)])
    assert result.exit_code == 2
    assert f"{path}:{line}:" in result.stderr and "invalid YAML" in result.stderr
    assert result.stderr.count("\n") == 1


def test_yaml_that_is_not_a_mapping(tmp_path, dsn):
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n")
    result = CliRunner().invoke(main, ["--dsn", dsn, "apply", str(path)])
    assert result.exit_code == 2 and "expected a mapping" in result.stderr


def test_object_defined_twice_across_files(tmp_path, dsn):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"entities": base()["entities"]}))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"entities": base()["entities"]}))
    result = CliRunner().invoke(main, ["--dsn", dsn, "apply", str(tmp_path)])
    assert result.exit_code == 2 and "defined twice" in result.stderr and "a.yaml" in result.stderr


def test_dsn_that_does_not_answer(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = f"postgresql://postgres@127.0.0.1:{port}/fspg"
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(base()))
    result = CliRunner().invoke(main, ["--dsn", dead, "ls"])
    assert result.exit_code == 2
    assert f"port={port}" in result.stderr and "fspg up" in result.stderr
    assert result.stderr.count("\n") == 1

    from fspg import FeatureStore

    with pytest.raises(errors.ConnectionFailed, match=f"port={port}"):
        FeatureStore(dead).list_feature_views()
    result = CliRunner().invoke(main, ["--dsn", dead, "migrate"])
    assert result.exit_code == 2 and "fspg up" in result.stderr


def test_describe_unknown_view_and_version(store, dsn):
    store.apply(base())
    with pytest.raises(errors.NotFound, match="feature view nope does not exist"):
        store.describe("nope")
    with pytest.raises(errors.NotFound, match="has no version 7"):
        store.describe("user_stats@7")
    result = CliRunner().invoke(main, ["--dsn", dsn, "describe", "user_stats@x"])
    assert result.exit_code == 2 and "invalid reference" in result.stderr


def test_a_failed_read_is_a_users_mistake_or_a_failure_by_its_sqlstate(dsn):
    """ADBC reads: a value that does not parse is the caller's mistake (exit 2); a query the
    server cancels (here: its statement timeout) is a failure (exit 1)."""
    import psycopg

    from fspg.arrow_pool import ArrowPool
    from fspg.errors import QueryFailed, UserError
    from fspg.offline import read_arrow

    arrow = ArrowPool()
    with pytest.raises(UserError) as mistake:
        read_arrow(arrow, dsn, "SELECT 'x'::int")
    assert mistake.value.exit_code == 2 and mistake.value.sqlstate == "22P02"
    # The failed read's connection came back usable (its aborted transaction rolled back).
    assert read_arrow(arrow, dsn, "SELECT 1 AS one").to_pylist() == [{"one": 1}]
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    impatient = psycopg.conninfo.make_conninfo(**params, options="-c statement_timeout=50")
    for _ in range(2):  # also on the reused connection: its settings reset to the DSN's, not the server's
        with pytest.raises(QueryFailed) as failure:
            read_arrow(arrow, impatient, "SELECT pg_sleep(2)")
        assert failure.value.exit_code == 1 and failure.value.sqlstate == "57014"
    arrow.close()
