"""fspg's exceptions, and the one place where database errors become them.

SQL functions raise with SQLSTATEs of class ``YF`` (ours; psycopg buckets none of
them), so the client never matches message text. ``from_db_error`` maps a psycopg
error to the right class and keeps the original as ``__cause__``.
"""
from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import psycopg


class FspgError(Exception):
    """Base class of every error fspg raises on purpose."""

    #: exit code the CLI uses: 2 for a user's mistake, 1 for a failure.
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, sqlstate: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.sqlstate = sqlstate

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class UserError(FspgError):
    """The request itself is wrong; fixing the input fixes it."""

    exit_code = 2


class DefinitionError(UserError):
    """A definition (entity, feature view, feature, rule) is invalid."""


class InvalidName(DefinitionError):
    """A name does not match ``^[a-z_][a-z0-9_]{0,47}$`` or is reserved."""


class NotFound(UserError):
    """A named catalog object does not exist."""


class ExtensionMissing(UserError):
    """A feature needs a PostgreSQL extension the server does not have (pgvector)."""


class PermissionDenied(UserError):
    """The connected role lacks a privilege; grant it one of the fs_* roles."""


class ConnectionFailed(UserError):
    """The database did not answer at the DSN fspg resolved."""


class SchemaMismatch(UserError):
    """A batch's columns do not fit the feature view (unknown, missing or uncastable columns)."""


class ValidationError(UserError):
    """Data broke a validation rule where it could not be quarantined."""


class BatchRejected(ValidationError):
    """A strict-mode batch had a bad row; nothing was written."""


class InvalidArgument(UserError):
    """An argument is out of range (a mode, a limit, an as_of in the future)."""


class InUse(UserError):
    """The object is still used (a view version by active models) and cannot be retired."""


class Conflict(UserError):
    """A registration clashes with an existing, immutable one (a model version)."""


class SourceFailed(UserError):
    """A source query (of a SQL-defined view) did not run; nothing was written."""


class NotReady(UserError):
    """A staged version is not ready to serve (never or partly backfilled, empty online table)."""


class DistributionError(UserError):
    """The store cannot be distributed as asked: Citus is missing, the cluster has no
    workers, or a command failed on a worker."""


class ServerError(FspgError):
    """The embedded PostgreSQL server could not be started or stopped."""


class QueryFailed(FspgError):
    """The server failed a query for a reason that is not the caller's (out of memory, a
    lost connection, a conflict with recovery, an internal error): exit 1, try again."""


# SQLSTATE classes that say the request was wrong (data, syntax, names, rights, rules):
# a user's mistake, exit 2. Any other class is a failure of the system, exit 1.
_USER_MISTAKE_CLASSES = ("22", "23", "2F", "42", "44")


# SQLSTATE -> class. Codes are raised by sql/functions/*.sql; keep the two lists in step.
SQLSTATE_CLASSES: dict[str, type[FspgError]] = {
    "YF001": InvalidName,       # name does not match the pattern
    "YF002": InvalidName,       # reserved name
    "YF003": DefinitionError,   # unknown dtype
    "YF004": DefinitionError,   # duplicate name in one definition
    "YF005": DefinitionError,   # invalid rule
    "YF006": NotFound,          # undefined catalog object
    "YF007": ExtensionMissing,  # pgvector missing
    "YF008": DefinitionError,   # malformed definition
    "YF010": SchemaMismatch,    # missing or uncastable batch column
    "YF011": SchemaMismatch,    # unknown batch column
    "YF012": BatchRejected,     # strict batch with a bad row
    "YF014": InvalidArgument,   # as_of in the future or not settled
    "YF015": InvalidArgument,   # bad argument
    "YF016": InUse,             # deprecation of a version active models use
    "YF017": Conflict,          # a model version registered differently before
    "YF018": SourceFailed,      # a source query failed
    "YF019": ConnectionFailed,  # a source database does not answer
    "YF020": NotReady,          # promote of a version not backfilled / with an empty online table
    "YF021": Conflict,          # a view name means another version than the client sent a batch for
    "YF022": DistributionError, # Citus missing, no workers
    "YF023": DistributionError, # a command failed on a Citus worker
    "23514": ValidationError,   # check_violation: a rule's CHECK constraint
    "23502": ValidationError,   # not_null_violation: a key column
    "23505": ValidationError,   # unique_violation: a second row of one entity and moment in a transaction
    "42501": PermissionDenied,  # insufficient_privilege
    "54000": ValidationError,   # program_limit_exceeded: a value too big for an index entry
    "54001": ValidationError,   # statement_too_complex: JSON nested deeper than the server parses
}


def from_db_error(err: psycopg.Error) -> FspgError | psycopg.Error:
    """Return the fspg exception for a database error, or the error itself if it is not ours.

    Use as ``raise from_db_error(e) from e``.
    """
    diag = getattr(err, "diag", None)
    sqlstate = getattr(diag, "sqlstate", None) or getattr(err, "sqlstate", None)
    if sqlstate == "23514" and diag is not None and diag.constraint_name:
        # Rule constraints are named <feature>__<rule>; say so in the message.
        return ValidationError(f"rule {diag.constraint_name} violated: {diag.message_primary}",
                               hint=diag.message_detail, sqlstate=sqlstate)
    cls = SQLSTATE_CLASSES.get(sqlstate or "")
    if cls is None:
        return err
    message = (diag.message_primary if diag else None) or str(err)
    detail = diag.message_detail if diag else None
    if detail:
        message = f"{message}: {detail}"
    return cls(message, hint=diag.message_hint if diag else None, sqlstate=sqlstate)


def from_adbc_error(err: Exception, failed: str = "the query failed") -> FspgError:
    """The fspg exception for an error of the ADBC driver (which carries SQLSTATE and
    diagnostics), or of the Arrow reader it streams through (which carries only the text).

    Errors that are not fspg's own are said in one line after ``failed``: a user error
    (exit 2) when the SQLSTATE's class says the request was wrong (a key that does not parse
    as its type, an unknown column) or when the reader lost the SQLSTATE, a
    ``ConnectionFailed`` for class 08, and ``QueryFailed`` (exit 1) for everything else.
    """
    details = dict(getattr(err, "details", None) or [])
    first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
    primary = details.get(b"PG_DIAG_MESSAGE_PRIMARY", b"").decode() or first_line.split("ERROR:", 1)[-1].strip()
    detail = details.get(b"PG_DIAG_MESSAGE_DETAIL", b"").decode()
    hint = details.get(b"PG_DIAG_MESSAGE_HINT", b"").decode() or None
    sqlstate = getattr(err, "sqlstate", None)
    message = f"{primary}: {detail}" if detail else primary
    sqlstate = sqlstate or _sqlstate_in(str(err))
    cls = SQLSTATE_CLASSES.get(sqlstate or "")
    if cls is not None:
        return cls(message, hint=hint, sqlstate=sqlstate)
    if sqlstate and sqlstate.startswith("08"):
        return ConnectionFailed(f"{failed}: {message}", hint=hint, sqlstate=sqlstate)
    if sqlstate is None or sqlstate.startswith(_USER_MISTAKE_CLASSES):
        return UserError(f"{failed}: {message}", hint=hint, sqlstate=sqlstate)
    return QueryFailed(f"{failed}: {message}", hint=hint, sqlstate=sqlstate)


def _sqlstate_in(text: str) -> str | None:
    """The SQLSTATE the Arrow reader leaves in its message text ("... SQLSTATE: 22P02")."""
    found = re.search(r"SQLSTATE[:= ]+([0-9A-Z]{5})", text)
    return found.group(1) if found else None


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    """Re-raise database errors fspg knows as their fspg.errors class (the cause chained)."""
    # psycopg is imported where a database is used, not with the package: `fspg --help`
    # and `import fspg` stay fast (psycopg's import alone takes 0.3 s).
    import psycopg

    try:
        yield
    except psycopg.Error as err:
        mapped = from_db_error(err)
        if isinstance(mapped, FspgError):
            raise mapped from err
        raise
