"""Shipped migrations never change: a database that ran one must end where a fresh install
does. This list holds each released file's SHA-256; a new file joins it when it ships."""
from __future__ import annotations

import hashlib

from tests.conftest import REPO

SHIPPED = {
    "0001_catalog.sql": "4effe2c8cd55cbe27709e13bdefd0ff4d8fadca3e63373c90851ebd4fad2d9ec",
    "0002_offline.sql": "38e97b800b31d594e83a589419833a33922a6144523db666fbb7510ff9c76395",
    "0003_serving.sql": "bf3dd23b0488128dcba4400ac6acd099a09e245f8d8891d8651516ff05f788d7",
    "0004_training.sql": "f86ba75256f856567edc3e16b7f0fbcb22359d4134a42cae4bd997bdad1c6f5f",
    "0005_sources.sql": "0cbe427d6f4a015d4229c57471baec212bc71bc6944a0f450eaceb4a10070b89",
    "0006_security.sql": "c783ea98fb6ada1eb50022676cdaa479aedb9199a38f1be33c44e2bf8188be96",
    "0007_retries.sql": "7ce3ffdaa8ced0585f951b60a10472f2f6f34de9037cbc9195684143e58bc8fc",
    "0008_rollout.sql": "583617235d5a0709047e9e5f53551482226cd2eefb08e89bcf88bf16382846f2",
    "0009_batch_result.sql": "069b5b94eb8b57162a787a75e0a998b57e679cfbe181624c4c7b37956a0666fb",
    "0010_distribution.sql": "42f285bf3aec17c95f8a8da35177a236461a1737cc0ebbb0005eec639c160087",
}


def test_shipped_migrations_are_unchanged():
    on_disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (REPO / "sql" / "migrations").glob("*.sql")}
    changed = sorted(name for name, digest in SHIPPED.items() if on_disk.get(name) != digest)
    assert changed == [], f"shipped migrations changed or removed: {changed}; write a new migration instead"


def test_every_migration_has_a_revision_and_unreleased_ones_come_last():
    files = sorted(p.name for p in (REPO / "sql" / "migrations").glob("*.sql"))
    revisions = sorted(p.name for p in (REPO / "fspg" / "migrations" / "versions").glob("r*.py"))
    assert [f[:4] for f in files] == [r[1:5] for r in revisions]
    unreleased = [f for f in files if f not in SHIPPED]
    assert files[:len(SHIPPED)] == sorted(SHIPPED) and unreleased == files[len(SHIPPED):]
