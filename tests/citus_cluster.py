"""A Citus cluster for tests and benchmarks: a coordinator and two workers on loopback,
each an EmbeddedServer of the PostgreSQL installation that has Citus (ports of their own;
started as a non-root OS user when run as root, as every EmbeddedServer is).

Citus is not packaged for every machine; ``missing()`` says why a test cannot run here.
It never builds or ships Citus (see docs/scale-out.md for how a developer installs it).

    python -m tests.citus_cluster DIR        # start, print the coordinator's admin DSN
    python -m tests.citus_cluster DIR down
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg

from fspg.server import EmbeddedServer, _bindir

CITUS_BINDIR_ENV = "FSPG_CITUS_BINDIR"
NODES = ("coordinator", "worker1", "worker2")


def bindir() -> Path:
    """The PostgreSQL binaries the cluster runs: $FSPG_CITUS_BINDIR, else the suite's."""
    return Path(os.environ.get(CITUS_BINDIR_ENV) or _bindir())


def missing() -> str | None:
    """Why no Citus cluster can start here, or None when one can."""
    lib = bindir().parent / "lib"
    if not any((d / "citus.so").exists() for d in (lib, lib / "postgresql")):
        return f"Citus is not installed for the PostgreSQL at {bindir()} (set {CITUS_BINDIR_ENV} to one that has it)"
    return None


class CitusCluster:
    """Three servers under ``root``; ``database(name)`` makes a Citus database across them."""

    def __init__(self, root: Path):
        self.servers = [EmbeddedServer(Path(root) / name, bindir=bindir()) for name in NODES]
        self.infos: list = []

    def up(self) -> "CitusCluster":
        """Start the three servers with Citus loaded and logical WAL (per-worker CDC)."""
        for server in self.servers:
            info = server.up()
            with psycopg.connect(info.dsn_for("postgres"), autocommit=True) as conn:
                configured = conn.execute("SHOW shared_preload_libraries").fetchone()[0] == "citus"
                if not configured:
                    conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'citus'")
                    conn.execute("ALTER SYSTEM SET wal_level = 'logical'")
            if not configured:
                # Node-to-node connections on loopback without TLS: the server's OS user has
                # no client certificate. ALTER SYSTEM refuses citus.* before the library loads.
                with (server.data_dir / "postgresql.conf").open("a") as conf:
                    conf.write("citus.node_conninfo = 'sslmode=disable'\n")
                server.down()
                info = server.up()
            self.infos.append(info)
        return self

    def down(self) -> None:
        """Stop the servers."""
        for server in self.servers:
            if server.status():
                server.down()

    def database(self, name: str) -> str:
        """A new database ``name`` with Citus on every node, the workers added; returns the
        coordinator's DSN for it (as the superuser)."""
        for info in self.infos:
            with psycopg.connect(info.dsn_for("postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
            with psycopg.connect(info.dsn_for(name), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION citus")
        coordinator, *workers = self.infos
        with psycopg.connect(coordinator.dsn_for(name), autocommit=True) as conn:
            conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", [coordinator.port])
            for worker in workers:
                conn.execute("SELECT citus_add_node('127.0.0.1', %s)", [worker.port])
        return coordinator.dsn_for(name)

    def plain_database(self, name: str) -> str:
        """A database on the coordinator's server without Citus: the single-node store the
        cluster's results are compared with (same server, same binaries)."""
        coordinator = self.infos[0]
        with psycopg.connect(coordinator.dsn_for("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return coordinator.dsn_for(name)

    def worker_dsns(self, name: str) -> list[str]:
        """The workers' DSNs for database ``name``."""
        return [info.dsn_for(name) for info in self.infos[1:]]


if __name__ == "__main__":
    cluster = CitusCluster(Path(sys.argv[1]))
    if sys.argv[2:] == ["down"]:
        cluster.down()
    else:
        reason = missing()
        if reason:
            sys.exit(reason)
        cluster.up()
        print(cluster.infos[0].dsn_for("postgres"))
