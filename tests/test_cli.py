"""The CLI as a user types it: apply, dry run, ls and describe, with and without --json."""
from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from fspg.cli import main
from tests.defs import base


def _run(dsn, *args):
    result = CliRunner().invoke(main, ["--dsn", dsn, *args])
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result.output


def test_apply_ls_describe(dsn, tmp_path):
    path = tmp_path / "features.yaml"
    path.write_text(yaml.safe_dump(base(), sort_keys=False))

    out = _run(dsn, "apply", str(path), "--dry-run")
    assert "create       feature view user_stats@1" in out and "dry run: nothing was changed" in out
    assert "no feature views yet" in _run(dsn, "ls")

    out = _run(dsn, "apply", str(path))
    assert "create       feature view user_stats@1" in out
    plan = json.loads(_run(dsn, "apply", str(path), "--json"))
    assert {step["action"] for step in plan} == {"unchanged"}

    listing = _run(dsn, "ls")
    assert listing.splitlines()[0].split()[:3] == ["name", "current_version", "entity"]
    assert any(line.split()[:3] == ["user_stats", "1", "user"] for line in listing.splitlines())
    views = json.loads(_run(dsn, "ls", "--json"))
    assert {v["name"] for v in views} == {"user_stats", "fx_rates"}

    text = _run(dsn, "describe", "user_stats")
    assert text.startswith("user_stats@1 (serving)")
    assert "spend_7d" in text and "fs_offline.user_stats__v1" in text and "-> feature_service scoring@1" in text
    described = json.loads(_run(dsn, "describe", "user_stats@1", "--json"))[0]
    assert [f["name"] for f in described["features"]] == ["spend_7d", "country", "email_domain"]


def test_status_reports_schema_revision(dsn):
    from fspg.migrate import head_revision

    status = json.loads(_run(dsn, "status", "--json"))[0]
    assert status["schema_revision"] == head_revision()


def test_the_dsn_option_goes_anywhere_on_the_line(dsn, tmp_path):
    path = tmp_path / "features.yaml"
    path.write_text(yaml.safe_dump(base(), sort_keys=False))
    for args in (["migrate", "--dsn", dsn], ["apply", str(path), "--dsn", dsn], ["ls", f"--dsn={dsn}", "--json"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
    assert {v["name"] for v in json.loads(result.output)} == {"user_stats", "fx_rates"}


def test_moments_are_read_one_way_everywhere(dsn, tmp_path):
    import datetime as dt

    from fspg.times import utc

    now = dt.datetime.now(dt.timezone.utc)
    assert abs((utc("-2d") - (now - dt.timedelta(days=2))).total_seconds()) < 5
    assert utc("yesterday") == (now - dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert utc("2026-11-01T12:00Z") == utc("2026-11-01 12:00") == dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc)
    path = tmp_path / "features.yaml"
    path.write_text(yaml.safe_dump(base(), sort_keys=False))
    assert CliRunner().invoke(main, ["--dsn", dsn, "apply", str(path)]).exit_code == 0
    csv = tmp_path / "rows.csv"
    csv.write_text("user_id,spend_7d\n1,5\n")
    assert CliRunner().invoke(main, ["--dsn", dsn, "ingest", "user_stats", str(csv), "--timestamp", "-1h"]).exit_code == 0
    loaded = CliRunner().invoke(main, ["--dsn", dsn, "load", "user_stats", "--at", "now"])
    assert loaded.exit_code == 0 and "5" in loaded.output
    # what cannot be read is one line and exit 2, not a traceback
    bad = CliRunner().invoke(main, ["--dsn", dsn, "load", "user_stats", "--at", "the day before"])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "cannot read 'the day before' as a moment" in bad.output


def _commands(group, path=()):
    import click

    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_command_that_prints_data_takes_json():
    # demo prints a narrated walk-through, not data; serve and ui run servers (their log is not data)
    missing = [" ".join(path) for path, command in _commands(main)
               if path not in {("demo",), ("serve",), ("ui",)} and not any("--json" in p.opts for p in command.params)]
    assert missing == []


def test_json_is_always_a_list_of_objects(dsn, tmp_path):
    path = tmp_path / "features.yaml"
    path.write_text(yaml.safe_dump(base(), sort_keys=False))
    _run(dsn, "apply", str(path))
    csv = tmp_path / "rows.csv"
    csv.write_text("user_id,spend_7d,event_ts\n1,5,2026-11-01\n2,-1,2026-11-01\n")
    commands = [["migrate"], ["status"], ["ls"], ["describe", "user_stats"], ["ingest", "user_stats", str(csv)],
                ["batches"], ["quarantine", "ls"], ["load", "user_stats", "--at", "2026-11-02"],
                ["history", "user_stats"], ["online", "--features", "user_stats.spend_7d", "--key", "user_id=1,2"],
                ["lineage", "user_stats@1"], ["rollout"], ["stats", "user_stats"], ["training-set", "ls"],
                ["models", "ls"], ["forget", "user_stats", "--key", "user_id=2"], ["maintain"]]
    for args in commands:
        printed = json.loads(_run(dsn, *args, "--json"))
        assert isinstance(printed, list) and all(isinstance(item, dict) for item in printed), args
    ingested = json.loads(_run(dsn, "ingest", "user_stats", str(csv), "--again", "--json"))
    assert [(r["rows_in"], r["inserted"], r["quarantined"]) for r in ingested] == [(2, 1, 1)]
    loaded = json.loads(_run(dsn, "load", "user_stats", "--at", "2026-11-02", "--json"))
    assert [(r["user_id"], r["spend_7d"]) for r in loaded] == [(1, 5.0)]


def test_usage_mistakes_are_one_line_and_exit_2(dsn):
    for args in (["online", "--features", "user_stats.spend_7d", "--key", "user_id"],
                 ["online", "--features", "user_stats.spend_7d", "--key", "user_id=1", "--key", "user_id=2"],
                 ["history", "user_stats", "--start", "someday"],
                 ["models", "register", "m", "--features", "user_stats.spend_7d", "--params", "[1]"],
                 ["ingest", "user_stats", "x.csv", "--max-quarantined", "200%"]):
        result = CliRunner().invoke(main, ["--dsn", dsn, *args])
        assert result.exit_code == 2 and result.output.count("\n") == 1, (args, result.output)
        assert result.output.startswith("fspg: error: "), result.output
