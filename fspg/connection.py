"""Finding the database and connecting to it.

One rule for every command and ``FeatureStore()``: an explicit DSN (the ``--dsn``
flag or the ``dsn=`` argument), else ``$FSPG_DSN``, else the embedded server under
``$FSPG_HOME`` (default ``./.fspg``), started on demand.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import psycopg

from fspg.errors import ConnectionFailed
from fspg.statements import Q

if TYPE_CHECKING:
    import sqlalchemy
    from psycopg_pool import ConnectionPool

DSN_ENV = "FSPG_DSN"
CONNECT_TIMEOUT = 5


def resolve_dsn(dsn: str | None = None, *, start_embedded: bool = True) -> str:
    """The DSN to use: ``dsn``, else ``$FSPG_DSN``, else the embedded server's (started if needed)."""
    if dsn:
        return dsn
    env = os.environ.get(DSN_ENV)
    if env:
        return env
    from fspg.server import EmbeddedServer

    server = EmbeddedServer()
    info = server.status()
    if info is None and start_embedded:
        info = server.up()
        # Say so: a command that starts a server should never do it silently.
        import sys

        print(f"fspg: started the embedded server in {server.home} ({info.dsn})", file=sys.stderr)
    if info is None:
        raise ConnectionFailed("the embedded server is not running", hint="run: fspg up")
    return info.dsn


def describe_dsn(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable DSN>"
    params.pop("password", None)
    return psycopg.conninfo.make_conninfo(**params)


def connection_dsn(conn: psycopg.Connection) -> str:
    """The DSN of an open connection with its credentials intact (``conn.info.dsn`` drops
    the password, which a server with password authentication then asks for)."""
    params = conn.info.get_parameters()
    if conn.info.password:
        params["password"] = conn.info.password
    return psycopg.conninfo.make_conninfo(**params)


def side_dsn(dsn: str, conn: psycopg.Connection) -> str:
    """The DSN for a side connection (ADBC reads, extra training sessions) that acts as
    ``conn`` does: when ``conn`` switched role (SET ROLE), the side connection starts in
    that role too, never with the login's wider rights."""
    current, session = conn.execute(Q.current_and_session_user).fetchone()
    return dsn if current == session else dsn_with_role(dsn, current)


def dsn_with_role(dsn: str, role: str) -> str:
    """``dsn`` whose sessions start as ``role`` (the login must be a member of it)."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    # In libpq's options a backslash escapes a space or a backslash within a value.
    escaped = role.replace("\\", "\\\\").replace(" ", "\\ ")
    params["options"] = (params.get("options", "") + f" -c role={escaped}").strip()
    return psycopg.conninfo.make_conninfo(**params)


def connect(dsn: str, **kwargs) -> psycopg.Connection:
    """Open one connection, turning a server that does not answer into ConnectionFailed."""
    kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
    try:
        conn = psycopg.connect(dsn, **kwargs)
    except psycopg.OperationalError as err:
        raise unreachable(dsn, err) from err
    configure_connection(conn)
    return conn


def unreachable(dsn: str, err: Exception) -> ConnectionFailed:
    """The error for a database that did not answer, saying which DSN and what to do."""
    reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
    return ConnectionFailed(
        f"cannot connect to {describe_dsn(dsn)}: {reason}",
        hint=f"check the DSN (--dsn or ${DSN_ENV}); for the embedded server unset ${DSN_ENV} and run: fspg up",
    )


def configure_connection(conn: psycopg.Connection) -> None:
    """Per-connection set-up: pgvector's types when the extension exists, generic plans.

    fspg's statements are function calls and point lookups by arrays of keys. For those a
    prepared statement's generic plan is the right one, but PostgreSQL keeps re-planning
    them (a custom plan knows the array's length, so it looks cheaper): measured, that
    tripled the time of a single-entity lookup.
    """
    from pgvector.psycopg import register_vector

    if not conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        conn.execute(Q.generic_plans)
        conn.commit()
    elif conn.autocommit:
        conn.execute(Q.generic_plans)

    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        pass  # no vector extension in this database: vector features are unavailable anyway
    if not conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
        conn.rollback()


def configure_lookup_connection(conn: psycopg.Connection) -> None:
    """``configure_connection`` for an autocommit connection that only reads."""
    configure_connection(conn)
    conn.execute(Q.read_only)


def make_pool(dsn: str, *, min_size: int = 1, max_size: int = 8, lookups: bool = False) -> "ConnectionPool":
    """A psycopg pool that registers fspg's types on each new connection; fails fast if the DSN does not answer.

    ``lookups``: connections for online reads, autocommit and read-only, so a lookup is
    one round trip (no BEGIN/COMMIT around it) and can never write."""
    from psycopg_pool import ConnectionPool, PoolTimeout

    # One direct attempt first: a refused or wrong DSN fails now with the server's own
    # reason, instead of after the pool's retries run out.
    connect(dsn).close()
    pool = ConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        kwargs={"connect_timeout": CONNECT_TIMEOUT, **({"autocommit": True} if lookups else {})},
        configure=configure_lookup_connection if lookups else configure_connection,
        open=False,
        name="fspg",
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT + 1)
    except PoolTimeout as err:
        pool.close()
        raise unreachable(dsn, err) from err
    return pool


def sqlalchemy_engine(dsn: str) -> "sqlalchemy.Engine":
    """An SQLAlchemy engine over psycopg 3 for a libpq DSN (URI or key=value) without converting it."""
    import sqlalchemy

    def creator():
        try:
            return psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.OperationalError as err:
            raise unreachable(dsn, err) from err

    return sqlalchemy.create_engine("postgresql+psycopg://", creator=creator, poolclass=sqlalchemy.pool.NullPool)


def dsn_from_engine(engine: "sqlalchemy.Engine") -> str:
    """The libpq DSN behind an SQLAlchemy engine (so users may hand us their Engine)."""
    url = engine.url
    if url.get_backend_name() != "postgresql":
        raise ConnectionFailed(f"fspg needs PostgreSQL, the engine is {url.get_backend_name()}")
    params = {
        "host": url.host, "port": url.port, "dbname": url.database,
        "user": url.username, "password": url.password,
    }
    params.update({k: v for k, v in url.query.items() if isinstance(v, str)})
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


def arrow_connect(dsn: str) -> Any:
    """An ADBC (Arrow) connection with the same credentials and role as ``dsn``: for reads
    and training-set sessions that stream Arrow batches."""
    import adbc_driver_postgresql.dbapi as adbc

    return adbc.connect(to_uri(dsn))


def to_uri(dsn: str) -> str:
    """The DSN as a postgresql:// URI (ADBC takes URIs only)."""
    from urllib.parse import quote, urlencode

    if dsn.startswith(("postgresql://", "postgres://")):
        return dsn
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    user = quote(params.pop("user", "") or "", safe="")
    password = params.pop("password", None)
    host = params.pop("host", "") or ""
    port = params.pop("port", None)
    dbname = quote(params.pop("dbname", "") or "", safe="")
    auth = f"{user}{':' + quote(password, safe='') if password else ''}@" if user else ""
    if host.startswith("/"):  # a unix socket directory goes in the query string
        params["host"] = host
        host = ""
    netloc = f"{auth}{host}{':' + str(port) if port else ''}"
    # libpq decodes %20 in a URI, not '+': options="-c a=b" must not arrive as "-c+a=b".
    query = urlencode(params, quote_via=quote)
    return f"postgresql://{netloc}/{dbname}" + (f"?{query}" if query else "")
