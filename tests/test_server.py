"""The embedded server: fspg up / status / down, restarts, crashes, and on-demand start."""
from __future__ import annotations

import os

import psycopg
import pytest
from click.testing import CliRunner

from fspg.cli import main
from fspg.server import EmbeddedServer


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private FSPG_HOME with no FSPG_DSN, so commands use the embedded server there."""
    monkeypatch.setenv("FSPG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FSPG_DSN", raising=False)
    yield tmp_path / "home"
    EmbeddedServer(tmp_path / "home").destroy()


def _cli(*args):
    return CliRunner().invoke(main, list(args))


def test_up_status_down(home):
    result = _cli("status")
    assert result.exit_code == 1 and "not running" in result.output   # no server answers

    result = _cli("up")
    assert result.exit_code == 0, result.output
    dsn = result.output.strip()
    assert dsn.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(dsn) as conn:
        settings = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN"
                                     " ('wal_level', 'listen_addresses', 'max_replication_slots')").fetchall())
    assert settings == {"wal_level": "logical", "listen_addresses": "127.0.0.1", "max_replication_slots": "20"}

    info = EmbeddedServer(home).status()
    with psycopg.connect(host=info.socket_dir, port=info.port, user="postgres", dbname="fspg") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the unix socket answers too

    assert _cli("up").output.strip() == dsn  # starting twice is harmless
    status = _cli("status")
    assert status.exit_code == 0 and "running" in status.output and dsn in status.output

    assert _cli("down").output.startswith("stopped")
    assert "not running" in _cli("status").output
    gone = _cli("--dsn", dsn, "status")
    assert gone.exit_code == 1 and f"no server answers at {dsn}" in gone.output
    assert _cli("down").output.startswith("not running")


@pytest.mark.skipif(os.geteuid() != 0, reason="only meaningful when the tests run as root")
def test_as_root_the_server_runs_unprivileged(home):
    info = EmbeddedServer(home).up()
    uid = next(int(line.split()[1]) for line in open(f"/proc/{info.pid}/status") if line.startswith("Uid:"))
    assert uid != 0


def test_stale_pid_file_after_crash(home):
    server = EmbeddedServer(home)
    first = server.up()
    server.kill()
    assert (home / "data" / "postmaster.pid").exists()  # what a crash leaves behind
    assert server.status() is None
    assert "not running" in _cli("status").output
    second = server.up()
    assert second.pid != first.pid
    with psycopg.connect(second.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_feature_store_starts_and_migrates_the_embedded_server_on_demand(home):
    from fspg import FeatureStore
    from fspg.migrate import head_revision

    assert EmbeddedServer(home).status() is None
    with FeatureStore() as store:
        assert store.list_feature_views() == []
        with store.connection() as conn:
            assert conn.execute("SELECT version_num FROM fs.alembic_version").fetchone()[0] == head_revision()
    assert EmbeddedServer(home).status() is not None
    result = _cli("ls")
    assert result.exit_code == 0 and "no feature views yet" in result.output


def test_one_server_per_user_found_from_subfolders(tmp_path, monkeypatch):
    """Without FSPG_HOME: the nearest .fspg upward (a project's server, from any of its
    subfolders), else one per user; a command that starts a server says so."""
    from fspg.server import default_home

    monkeypatch.delenv("FSPG_HOME", raising=False)
    monkeypatch.delenv("FSPG_DSN", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    project = tmp_path / "project"
    (project / ".fspg").mkdir(parents=True)
    (project / "notebooks" / "deep").mkdir(parents=True)
    assert default_home(project / "notebooks" / "deep") == (project / ".fspg").resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    per_user = default_home(elsewhere)
    assert per_user.is_relative_to(tmp_path) and per_user.name == "fspg" and ".fspg" not in per_user.parts

    monkeypatch.chdir(project / "notebooks")
    try:
        started = _cli("ls")
        assert started.exit_code == 0, started.output
        assert f"started the embedded server in {(project / '.fspg').resolve()}" in started.stderr
        again = _cli("ls")  # already running: nothing said
        assert "started" not in again.stderr
    finally:
        EmbeddedServer(project / ".fspg").destroy()
