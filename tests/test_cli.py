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
    described = json.loads(_run(dsn, "describe", "user_stats@1", "--json"))
    assert [f["name"] for f in described["features"]] == ["spend_7d", "country", "email_domain"]


def test_status_reports_schema_revision(dsn):
    from fspg.migrate import head_revision

    status = json.loads(_run(dsn, "status", "--json"))
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
