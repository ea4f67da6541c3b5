"""The catalog site, built from the example repository after the demo ran, looked at in
Debian's Chromium (headless, driven by Playwright): every page loads without console
errors, the lineage graph holds the demo's nodes and edges, histograms and freshness
badges are drawn, search finds a view by tag. Screenshots go to tests/artifacts/site/.

The browser is the system's (/usr/bin/chromium; .ci/run installs it): Playwright is
told where it is and never downloads one.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO

CHROMIUM = os.environ.get("FSPG_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts" / "site"
# Chromium on a machine with no way out: no background calls home, no GPU, no sandbox as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def demo_site(admin_dsn, template_db, tmp_path_factory, has_vector):
    """The demo run on a database of its own, and the site built from it."""
    from fspg import FeatureStore, demo
    from tests.conftest import _with_db, drop_database, new_database

    if not has_vector:
        pytest.skip("the example repository has a vector feature and this server has no pgvector")
    name = new_database(admin_dsn, template_db)
    dsn = _with_db(admin_dsn, name)
    try:
        demo.run(dsn, echo=lambda line: None, docs=None)
        out = tmp_path_factory.mktemp("site")
        with FeatureStore(dsn) as store:
            store.compute_stats("user_stats", source="online")
            built = store.build_docs(out, verify=True)
        yield Path(built.path), dsn
    finally:
        with FeatureStore(dsn) as store:   # the demo's CDC subscription, so the database can go
            if any(s["name"] == "shop" for s in store.sources()):
                store.remove_source("shop")
        drop_database(admin_dsn, name)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM}: apt-get install chromium (make test does as root) or set FSPG_CHROMIUM"
        if os.environ.get("FSPG_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    # The site must need nothing from outside: any request that is not a file is a failure.
    page.on("request", lambda req: page.errors.append(f"fetched {req.url}") if not req.url.startswith("file://") else None)
    yield page
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_every_page_loads_without_errors(demo_site, page):
    site, _ = demo_site
    pages = sorted(site.rglob("*.html"))
    assert {"index.html", "lineage.html"} <= {p.name for p in pages}
    assert {p.parent.name for p in pages} >= {"views", "services", "training_sets", "models"}
    for path in pages:
        page.goto(path.as_uri())
        assert page.title().endswith("fspg catalog"), path
        for link in page.locator("a[href]").evaluate_all("els => els.map(e => e.href)"):
            if link.startswith("file://"):
                assert Path(link.split("#")[0][len("file://"):]).exists(), f"{path.name} links to {link}"
    assert page.errors == []
    page.goto((site / "index.html").as_uri())
    shot(page, "index")


def test_lineage_holds_the_demos_nodes_and_edges(demo_site, page):
    site, _ = demo_site
    page.goto((site / "lineage.html").as_uri())
    nodes = set(page.locator("[id^='node:']").evaluate_all("els => els.map(e => e.id)"))
    edges = set(page.locator("[id^='edge:']").evaluate_all("els => els.map(e => e.id)"))
    assert {"node:entity:user", "node:feature_view:user_stats@1", "node:feature_service:fraud_scoring@1",
            "node:training_set:fraud_train@1", "node:model:fraud@1"} <= nodes
    assert "edge:feature_view:user_stats@1->feature_service:fraud_scoring@1" in edges
    assert any(e.startswith("edge:source_database:") for e in edges)  # the demo's shop database
    assert any(e.startswith("edge:training_set:fraud_train@") and "->model:fraud@" in e for e in edges)
    shot(page, "lineage")
    # Nodes are links: a click on a model opens its page.
    page.locator("[id='node:model:fraud@1'] a, a:has([id='node:model:fraud@1'])").first.click()
    assert page.url.split("#")[0].endswith("models/fraud.html")
    assert page.errors == []


def test_a_view_page_draws_histograms_a_timeline_and_freshness(demo_site, page):
    site, _ = demo_site
    page.goto((site / "views" / "user_stats.html").as_uri())
    badge = page.locator("[data-freshness]").first
    assert badge.get_attribute("data-freshness") in {"fresh", "stale"}
    assert page.locator(".chart[data-feature='spend_7d'] svg").count() >= 1  # a histogram is drawn
    assert page.locator(".chart[data-feature='spend_7d'] svg path").count() > 3
    assert page.locator(".timeline svg").count() >= 1
    assert "Changes from version" in page.content()  # the demo staged a second version
    shot(page, "user_stats")
    assert page.errors == []


def test_search_finds_a_view_by_tag_owner_or_entity(demo_site, page):
    site, _ = demo_site
    page.goto((site / "index.html").as_uri())
    visible = lambda: page.locator("#views tr[data-search]:visible td:first-child").all_inner_texts()  # noqa: E731
    page.fill("#search", "seq2vec-v3")       # a tag (model: seq2vec-v3)
    assert visible() == ["user_embeddings"]
    page.fill("#search", "experiment:exp-42")
    assert visible() == ["merchant_stats", "user_stats"]
    page.fill("#search", "finance-data")     # an owner
    assert visible() == ["fx_rates"]
    page.fill("#search", "order")            # an entity (and the view's name)
    assert visible() == ["order_events"]
    page.fill("#search", "")
    assert len(visible()) >= 6
    shot(page, "search")
    assert page.errors == []


def test_training_sets_and_models_have_pages(demo_site, page):
    site, _ = demo_site
    page.goto((site / "training_sets" / "fraud_train.html").as_uri())
    assert "identical" in page.content()  # verified at build time
    page.goto((site / "models" / "fraud.html").as_uri())
    assert "user_stats@" in page.content() and "fraud_train@" in page.content()
    assert page.errors == []


def test_notebook_results_draw_the_same_pictures(demo_site):
    from fspg import FeatureStore

    _, dsn = demo_site
    with FeatureStore(dsn) as store:
        assert "<table" in store.describe("user_stats")._repr_html_()
        assert "<svg" in store.compute_stats("merchant_stats")._repr_html_()
        assert "node:feature_view:user_stats@1" in store.lineage("user_stats@1")._repr_html_()


def test_docs_build_from_the_command_line(demo_site, tmp_path):
    import json

    from click.testing import CliRunner

    from fspg.cli import main

    _, dsn = demo_site
    result = CliRunner().invoke(main, ["--dsn", dsn, "docs", "build", str(tmp_path / "docs"), "--json"])
    assert result.exit_code == 0, result.output
    built = json.loads(result.output)[0]
    assert built["pages"] >= 8 and Path(built["path"], "index.html").exists()
    shutil.rmtree(tmp_path / "docs")


def test_fspg_ui_serves_the_site(demo_site, tmp_path):
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.http_server import free_port

    _, dsn = demo_site
    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "fspg.cli", "--dsn", dsn, "ui", "--port", str(port),
                           "--path", str(tmp_path / "ui")], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as response:
                    assert b"user_stats" in response.read()
                    break
            except OSError:
                assert ui.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/views/user_stats.html", timeout=5) as response:
            assert b"data-freshness" in response.read()
    finally:
        ui.terminate()
        ui.wait(10)
