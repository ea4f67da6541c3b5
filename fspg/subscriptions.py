"""Logical-replication subscriptions that never write a password where it can be read.

``CREATE SUBSCRIPTION … CONNECTION '…'`` with the password in it ends up in the server
log whenever the statement fails (``log_min_error_statement``), and in every log line of
``log_statement = ddl``. So a subscription is made in steps: created without the password
and without connecting, handed its full connection string by an ``ALTER SUBSCRIPTION``
with statement logging switched off for that one statement (it only parses the string, so
it does not fail on a server that is away), then enabled and refreshed, statements that
carry no secret. The slot is made on the publisher by the caller beforehand.
"""
from __future__ import annotations

import psycopg
from psycopg import sql

from fspg.connection import describe_dsn
from fspg.errors import PermissionDenied
from fspg.statements import Q



def require_right(conn: psycopg.Connection, what: str) -> None:
    """Refuse, naming the grant, before anything is made: creating a subscription needs a
    superuser, or from PostgreSQL 16 a member of pg_create_subscription."""
    may, sixteen = conn.execute(Q.may_subscribe).fetchone()
    if not may:
        user = conn.info.user
        raise PermissionDenied(
            f"{what} needs the right to create subscriptions, which {user} lacks",
            hint=(f"a superuser runs GRANT pg_create_subscription TO {user} (and CREATE on the database)" if sixteen
                  else "on PostgreSQL 15 only a superuser may create subscriptions: run it as one"))


def has_password(dsn: str) -> bool:
    """Whether a DSN carries a password."""
    try:
        return bool(psycopg.conninfo.conninfo_to_dict(dsn).get("password"))
    except psycopg.ProgrammingError:
        return False


def make_slot(publisher: psycopg.Connection, slot_name: str) -> None:
    """The logical slot a subscription will use, made on the publisher first (CREATE
    SUBSCRIPTION making its own hangs when both databases share a server)."""
    if not publisher.execute(Q.slot_exists, [slot_name]).fetchone():
        publisher.execute(Q.create_slot, [slot_name])


def drop_idle_slot(publisher: psycopg.Connection, slot_name: str) -> None:
    """Drop a slot nobody streams from (after a failed add): never one in use."""
    publisher.execute(Q.drop_inactive_slot, [slot_name])


def create(conn: psycopg.Connection, name: str, publisher_dsn: str, publication: str, slot_name: str,
           *, copy_data: bool = True) -> None:
    """Subscribe ``conn``'s database (autocommit) to ``publication`` at ``publisher_dsn`` over
    the existing slot ``slot_name``, copying the published tables first (unless the caller
    copied them itself: ``copy_data=False``)."""
    subscription = sql.Identifier(name)
    conn.execute(sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {}"
                         " WITH (connect = false, slot_name = {})").format(
        subscription, sql.Literal(describe_dsn(publisher_dsn)), sql.Identifier(publication), sql.Literal(slot_name)))
    try:
        if has_password(publisher_dsn):
            set_connection(conn, name, publisher_dsn)
        conn.execute(sql.SQL("ALTER SUBSCRIPTION {} ENABLE").format(subscription))
        conn.execute(sql.SQL("ALTER SUBSCRIPTION {} REFRESH PUBLICATION WITH (copy_data = {})").format(
            subscription, sql.Literal(copy_data)))
    except Exception:
        drop(conn, name, keep_slot=True)
        raise


def drop(conn: psycopg.Connection, name: str, *, keep_slot: bool = False) -> None:
    """Drop subscription ``name``; with ``keep_slot`` its slot on the publisher is left for
    the caller (who made it) to drop, and the publisher is not contacted."""
    subscription = sql.Identifier(name)
    if keep_slot:
        conn.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(subscription))
        conn.execute(sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(subscription))
    conn.execute(sql.SQL("DROP SUBSCRIPTION {}").format(subscription))


def set_connection(conn: psycopg.Connection, name: str, dsn: str) -> None:
    """``ALTER SUBSCRIPTION … CONNECTION`` with the statement kept out of the server log."""
    with conn.transaction():
        try:
            with conn.transaction():
                # Superuser-only settings: where the role may not set them, the statement
                # still only parses the string, so it does not fail and is not logged as
                # an error (log_statement = ddl would still show it).
                conn.execute(Q.quiet_statement_log)
                conn.execute(Q.quiet_error_statement_log)
        except psycopg.errors.InsufficientPrivilege:
            pass
        conn.execute(sql.SQL("ALTER SUBSCRIPTION {} CONNECTION {}").format(sql.Identifier(name), sql.Literal(dsn)))
