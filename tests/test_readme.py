"""The README runs as written: its Python, shell, SQL and YAML blocks, in order, on a fresh
database with `examples/` applied.

- Python blocks run in one namespace in which `fs` is a FeatureStore on the test's database
  (`$FSPG_DSN` points there too, so `FeatureStore()` finds it). Blocks written with `>>>`
  prompts run as doctests: what they print is checked.
- Shell blocks: every line is one `fspg` command (`# comments` end it), run through the
  CLI; it must exit 0.
- SQL blocks run statement by statement on one connection (as the migrating superuser).
- YAML blocks that are whole definition files are planned with `apply --dry-run`.
- A block preceded by `<!-- readme-test: skip: REASON -->` is not run; the reason is
  required and says where that path is tested instead.

The database also holds the application table the README's examples read,
`public.payments`, as an application database would.
"""
from __future__ import annotations

import doctest
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from fspg.cli import main

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SKIP = re.compile(r"<!--\s*readme-test:\s*skip:\s*(?P<reason>\S.*?)\s*-->")

PAYMENTS = """
CREATE TABLE public.payments (payment_id bigserial PRIMARY KEY, user_id bigint NOT NULL, merchant_id bigint NOT NULL,
                              amount numeric NOT NULL, paid_at timestamptz NOT NULL, fraud boolean NOT NULL);
INSERT INTO public.payments (user_id, merchant_id, amount, paid_at, fraud)
SELECT 1 + i % 50, 1001 + i % 4, (i * 37) % 200, timestamptz '2026-11-01 00:00Z' + i * interval '17 minutes', i % 31 = 0
  FROM generate_series(1, 400) i;
GRANT SELECT ON public.payments TO fs_source;
"""


@dataclass
class Block:
    line: int
    language: str
    text: str
    skip: str | None


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, with the skip reason written before each."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start = i
        i += 1
        while not lines[i].startswith("```"):
            i += 1
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = SKIP.search(before)
        found.append(Block(start + 1, fence.group(1), "\n".join(lines[start + 1:i]),
                           marker.group("reason") if marker else None))
        i += 1
    return found


def test_every_block_has_a_language_and_every_skip_a_reason():
    for block in blocks(README.read_text()):
        assert block.language in {"sh", "python", "sql", "yaml"}, f"README line {block.line}: fence without a language"
    markers = re.findall(r"<!--\s*readme-test:.*?-->", README.read_text())
    assert all(SKIP.fullmatch(m) for m in markers), markers


def _run_python(block: Block, namespace: dict) -> None:
    if ">>>" in block.text:
        test = doctest.DocTestParser().get_doctest(block.text, namespace, f"README:{block.line}", str(README),
                                                   block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test, clear_globs=False)
        namespace.update(test.globs)  # a DocTest works on a copy of the namespace
        assert runner.failures == 0, f"README line {block.line}: the doctest above failed"
        return
    exec(compile(block.text, f"README.md:{block.line}", "exec"), namespace)  # noqa: S102 - our own README


def _run_shell(block: Block, dsn: str) -> None:
    for number, line in enumerate(block.text.splitlines(), start=block.line + 1):
        words = shlex.split(line, comments=True)
        if not words:
            continue
        assert words[0] == "fspg", f"README line {number}: a shell block holds fspg commands only: {line}"
        result = CliRunner().invoke(main, words[1:], env={"FSPG_DSN": dsn})
        assert result.exit_code == 0, f"README line {number}: {line}\n{result.output}{result.stderr or ''}"


def _run_sql(block: Block, dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in _statements(block.text):
            conn.execute(statement)


def _statements(text: str) -> list[str]:
    """Statements of a SQL block (its -- comments removed; none sits inside a string)."""
    code = re.sub(r"--[^\n]*", "", text)
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", code) if s.strip()]


def _plan_yaml(block: Block, fs) -> None:
    doc = yaml.safe_load(block.text)
    if isinstance(doc, dict) and {"entities", "feature_views", "feature_services"} & set(doc):
        fs.apply(doc, dry_run=True)


@pytest.mark.usefixtures("needs_vector")  # the example repository has a vector feature
def test_the_readme_runs_as_written(dsn, tmp_path, monkeypatch):
    from fspg import FeatureStore

    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.setenv("FSPG_DSN", dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(PAYMENTS)
    with FeatureStore(dsn) as fs:
        fs.apply("examples/features")
        namespace = {"fs": fs, "__name__": "readme"}
        ran = 0
        for block in blocks(README.read_text()):
            if block.skip:
                continue
            if block.language == "python":
                _run_python(block, namespace)
            elif block.language == "sh":
                _run_shell(block, dsn)
            elif block.language == "sql":
                _run_sql(block, dsn)
            elif block.language == "yaml":
                _plan_yaml(block, fs)
            ran += 1
    assert ran >= 20
