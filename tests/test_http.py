"""fspg serve: the feature server on a real port, called over HTTP as a model server or a
Feast client would, with every bad input the issue lists."""
from __future__ import annotations

import datetime as dt
import time
from typing import Iterator

import httpx
import psycopg
import pytest
from click.testing import CliRunner

from fspg import FeatureStore, migrate, replicas
from fspg.cli import main
from fspg.http import tokens
from fspg.http.app import ServerConfig, create_app
from tests.conftest import primary_and_replica
from tests.defs import base, view
from tests.http_server import running

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)


def defs() -> dict:
    doc = base()
    view(doc, "user_stats")["ttl"] = "1 day"
    return doc


@pytest.fixture
def filled(store):
    store.apply(defs())
    store.insert_batch("user_stats", {"user_id": [1, 2], "spend_7d": [10.0, 20.0], "country": ["DE", None]},
                       timestamp=NOW - dt.timedelta(hours=1))
    store.insert_batch("user_stats", {"user_id": [3], "spend_7d": [30.0]}, timestamp=NOW - dt.timedelta(days=3))
    store.insert_batch("fx_rates", {"eur_usd": [1.08]}, timestamp=NOW - dt.timedelta(hours=1))
    store.register_model("fraud", features=["user_stats.spend_7d", "fx_rates.eur_usd"])
    return store


@pytest.fixture
def url(filled, dsn) -> Iterator[str]:
    with running(create_app(ServerConfig(dsn=dsn))) as base_url:
        yield base_url


def post(url: str, path: str, body=None, **kwargs) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=20, **kwargs)


def test_a_feast_client_gets_feasts_answer(url):
    answer = post(url, "/get-online-features", {"features": ["user_stats:spend_7d", "user_stats:country", "fx_rates:eur_usd"],
                                                "entities": {"user_id": [1, 2, 3, 99]}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["metadata"]["feature_names"] == ["user_id", "spend_7d", "country", "eur_usd"]
    keys, spend, country, fx = body["results"]
    assert keys["values"] == [1, 2, 3, 99] and set(keys["statuses"]) == {"PRESENT"}
    assert spend["values"] == [10.0, 20.0, None, None]
    # 3's row is older than the view's 1-day TTL; 99 has no row at all
    assert spend["statuses"] == ["PRESENT", "PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND"]
    assert country["statuses"] == ["PRESENT", "NULL_VALUE", "OUTSIDE_MAX_AGE", "NOT_FOUND"]
    assert spend["event_timestamps"][0] == (NOW - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert spend["event_timestamps"][3] == "1970-01-01T00:00:00Z"
    assert fx["values"] == [1.08] * 4 and set(fx["statuses"]) == {"PRESENT"}
    full = post(url, "/get-online-features", {"feature_service": "scoring", "entities": {"user_id": [2]},
                                              "full_feature_names": True}).json()
    assert full["metadata"]["feature_names"] == ["user_id", "user_stats__spend_7d", "fx_rates__eur_usd"]
    assert [r["values"] for r in full["results"]] == [[2], [20.0], [1.08]]


def test_fspg_form_names_a_service_a_model_or_features(url):
    rows = post(url, "/get-online-features", {"service": "scoring", "entities": [2, 1]}).json()["rows"]
    assert rows == [{"user_id": 2, "spend_7d": 20.0, "eur_usd": 1.08}, {"user_id": 1, "spend_7d": 10.0, "eur_usd": 1.08}]
    model = post(url, "/get-online-features", {"model": "fraud", "model_version": 1, "entities": {"user_id": [1]}})
    assert model.json()["rows"] == [{"user_id": 1, "spend_7d": 10.0, "eur_usd": 1.08}]
    assert model.headers["x-fspg-read-from"] == "primary"
    with_ts = post(url, "/get-online-features", {"features": ["user_stats.spend_7d"], "entities": [1],
                                                 "with_event_ts": True}).json()["rows"][0]
    assert with_ts["user_stats__event_ts"] == (NOW - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("body, status, says", [
    ("{not json", 400, "not JSON"),
    ([1, 2], 400, "JSON object"),
    ({"features": ["user_stats:nope"], "entities": {"user_id": [1]}}, 404, "nope"),
    ({"feature_service": "nope", "entities": {"user_id": [1]}}, 404, "feature service nope"),
    ({"model": "nope", "entities": [1]}, 404, "model nope"),
    ({"service": "scoring", "entities": {"user_id": ["one"]}}, 400, "wrong type"),
    ({"service": "scoring", "entities": {"user_id": [1.5]}}, 400, "whole number"),
    ({"service": "scoring", "entities": {"merchant_id": [1]}}, 400, "lack key column(s) user_id"),
    ({"service": "scoring", "entities": {"user_id": list(range(10_001))}}, 400, "10,001 entities"),
    ({"service": "scoring"}, 400, "no entities"),
    ({"service": "scoring", "model": "fraud", "entities": [1]}, 400, "exactly one"),
])
def test_bad_lookups_are_clear_4xx(url, body, status, says):
    if isinstance(body, str):
        answer = httpx.post(url + "/get-online-features", content=body, timeout=20)
    else:
        answer = post(url, "/get-online-features", body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]["message"]


def test_push_writes_through_the_rules_and_counts_every_event(url, filled):
    events = [{"user_id": 7, "spend_7d": 70.0, "country": "FR"}, {"user_id": 8, "spend_7d": -1.0},
              {"user_id": 9, "spend_7d": 1.0, "country": "XX"}]
    first = post(url, "/push", {"feature_view": "user_stats", "events": events, "timestamp": NOW.isoformat(),
                                "batch_key": "req-1"})
    assert first.status_code == 200, first.text
    result = first.json()
    assert (result["rows_in"], result["inserted"], result["quarantined"]) == (3, 1, 2)
    assert result["reasons"] == {"spend_7d__min": 1, "country__allowed": 1}
    again = post(url, "/push", {"feature_view": "user_stats", "events": events, "timestamp": NOW.isoformat(),
                                "batch_key": "req-1"}).json()
    assert again["batch_id"] == result["batch_id"]
    feast_push = post(url, "/push", {"push_source_name": "user_stats", "to": "online_and_offline",
                                     "df": {"user_id": [10], "spend_7d": [1.5], "event_ts": [NOW.isoformat()]}})
    assert feast_push.json()["inserted"] == 1
    assert filled.get_online_features(["user_stats.spend_7d"], entities=[7, 8, 10], as_dicts=True) == [
        {"user_id": 7, "spend_7d": 70.0}, {"user_id": 8, "spend_7d": None}, {"user_id": 10, "spend_7d": 1.5}]
    strict = post(url, "/push", {"feature_view": "user_stats", "events": [{"user_id": 11, "spend_7d": -5.0}],
                                 "timestamp": NOW.isoformat(), "mode": "strict"})
    assert strict.status_code == 422 and "spend_7d__min" in strict.text
    assert post(url, "/push", {"feature_view": "user_stats", "events": [{"user_id": 1, "nope": 1}]}).status_code == 400
    assert post(url, "/push", {"events": []}).status_code == 400


def test_tokens_map_to_roles(filled, dsn, tmp_path):
    file = tmp_path / "tokens.yaml"
    reader = CliRunner().invoke(main, ["token", "add", "scorer", "--role", "fs_serving", "--file", str(file), "--json"])
    assert reader.exit_code == 0, reader.output
    serving_token = __import__("json").loads(reader.output)[0]["token"]
    writer_token = tokens.add(file, "ingester", "fs_writer")
    assert serving_token not in file.read_text() and writer_token not in file.read_text()  # only hashes are kept
    config = ServerConfig(dsn=dsn, tokens=tokens.load(file))
    with running(create_app(config)) as base_url:
        lookup = {"service": "scoring", "entities": [1]}
        event = {"feature_view": "user_stats", "events": [{"user_id": 5, "spend_7d": 1.0}], "timestamp": "now"}
        assert post(base_url, "/get-online-features", lookup).status_code == 401
        assert post(base_url, "/get-online-features", lookup, headers={"Authorization": "Bearer nope"}).status_code == 401
        as_serving = {"Authorization": f"Bearer {serving_token}"}
        assert post(base_url, "/get-online-features", lookup, headers=as_serving).status_code == 200
        refused = post(base_url, "/push", event, headers=as_serving)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "42501"
        assert post(base_url, "/push", event, headers={"Authorization": f"Bearer {writer_token}"}).json()["inserted"] == 1


def test_health_metrics_and_docs(url):
    health = httpx.get(url + "/health").json()
    assert health["status"] == "ok" and health["revision"] == migrate.head_revision()
    post(url, "/get-online-features", {"service": "scoring", "entities": [1, 2]})
    post(url, "/get-online-features", {"service": "scoring", "entities": ["x"]})
    metrics = httpx.get(url + "/metrics").text
    assert 'fspg_http_requests_total{endpoint="get-online-features",service="scoring",status="200"} 1.0' in metrics
    assert 'fspg_http_request_seconds_bucket{endpoint="get-online-features",le="0.005",service="scoring"}' in metrics
    assert 'fspg_lookup_entities_total{service="scoring"} 2.0' in metrics
    assert 'fspg_http_errors_total{endpoint="get-online-features",sqlstate="InvalidArgument"} 1.0' in metrics
    assert 'fspg_pool_connections{pool="lookups",role="fs_serving"}' in metrics
    document = httpx.get(url + "/openapi.json").json()
    assert {"/get-online-features", "/push", "/health", "/metrics", "/predict/{model}"} <= set(document["paths"])
    assert "/get-online-features" in httpx.get(url + "/docs").text


def test_predict_forwards_the_models_features(filled, dsn):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    received = []

    async def model_server(request):
        received.append(await request.json())
        return JSONResponse({"predictions": [[0.9]]})

    with running(Starlette(routes=[Route("/v1/models/fraud:predict", model_server, methods=["POST"])])) as tf:
        config = ServerConfig(dsn=dsn, model_servers={"fraud": ("tfserving", tf + "/v1/models/fraud:predict")})
        with running(create_app(config)) as base_url:
            answer = post(base_url, "/predict/fraud", {"entities": {"user_id": [2]}})
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"features": [{"user_id": 2, "spend_7d": 20.0, "eur_usd": 1.08}],
                                     "prediction": {"predictions": [[0.9]]}}
            assert received == [{"instances": [{"spend_7d": 20.0, "eur_usd": 1.08}]}]
            assert post(base_url, "/predict/other", {"entities": [1]}).status_code == 404


def test_a_request_past_the_timeout_is_504(filled, dsn):
    config = ServerConfig(dsn=dsn, timeout=0.5)
    with running(create_app(config)) as base_url, psycopg.connect(dsn, autocommit=True) as locker:
        # An exclusive lock on the online table holds the lookup until the timeout.
        locker.execute("BEGIN")
        locker.execute("LOCK TABLE fs_online.user_stats__v1 IN ACCESS EXCLUSIVE MODE")
        answer = post(base_url, "/get-online-features", {"service": "scoring", "entities": [1]})
        locker.execute("ROLLBACK")
        assert answer.status_code == 504
        assert post(base_url, "/get-online-features", {"service": "scoring", "entities": [1]}).status_code == 200


@pytest.fixture
def pair(server_pair):
    with primary_and_replica(server_pair, defs()) as (primary_dsn, replica_dsn):
        with FeatureStore(primary_dsn) as store:
            store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [10.0]}, timestamp=NOW - dt.timedelta(hours=1))
        yield primary_dsn, replica_dsn


def test_the_database_stopped_mid_request_is_503_and_the_server_recovers(pair, server_pair):
    import threading

    primary_dsn, _ = pair
    primary = server_pair[0]
    lookup = {"service": "scoring", "entities": [1]}
    with running(create_app(ServerConfig(dsn=primary_dsn, timeout=10))) as base_url:
        assert post(base_url, "/get-online-features", lookup).status_code == 200
        # A lock holds the next lookup inside the database; the server then stops under it.
        locker = psycopg.connect(primary_dsn, autocommit=True)
        locker.execute("BEGIN")
        locker.execute("LOCK TABLE fs_online.user_stats__v1 IN ACCESS EXCLUSIVE MODE")
        answers = []
        request = threading.Thread(target=lambda: answers.append(post(base_url, "/get-online-features", lookup)))
        request.start()
        time.sleep(0.5)
        primary.down()
        try:
            request.join(20)
            assert answers and answers[0].status_code == 503, answers and answers[0].text
            assert "cannot connect" in answers[0].json()["error"]["message"]
            assert post(base_url, "/get-online-features", lookup).status_code == 503
            assert httpx.get(base_url + "/health").status_code == 503
        finally:
            primary.up()
            locker.close()
        deadline = time.monotonic() + 30
        while (answer := post(base_url, "/get-online-features", lookup)).status_code != 200:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)
        assert answer.json()["rows"][0]["spend_7d"] == 10.0


def test_reads_leave_a_replica_that_falls_behind(pair):
    primary_dsn, replica_dsn = pair
    replicas.add(primary_dsn, replica_dsn, "r1")
    lookup = {"service": "scoring", "entities": [1]}
    config = ServerConfig(dsn=primary_dsn, replicas=[replica_dsn], max_lag_bytes=64 * 1024)
    app = create_app(config)
    with running(app) as base_url:
        deadline = time.monotonic() + 60
        while (answer := post(base_url, "/get-online-features", lookup)).headers.get("x-fspg-read-from") != "replica":
            assert time.monotonic() < deadline, httpx.get(base_url + "/health").text
            time.sleep(0.2)
        assert answer.json()["rows"][0]["spend_7d"] == 10.0
        with psycopg.connect(replica_dsn, autocommit=True) as conn:
            subscription = conn.execute("SELECT subname FROM pg_subscription").fetchone()[0]
            conn.execute(f'ALTER SUBSCRIPTION "{subscription}" DISABLE')
        with FeatureStore(primary_dsn) as store:
            store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [11.0]}, timestamp=NOW)
        deadline = time.monotonic() + 30
        while (answer := post(base_url, "/get-online-features", lookup)).headers.get("x-fspg-read-from") != "primary":
            assert time.monotonic() < deadline, httpx.get(base_url + "/health").text
            time.sleep(0.2)
        assert answer.json()["rows"][0]["spend_7d"] == 11.0  # the primary's value, not the stale replica's
        health = httpx.get(base_url + "/health").json()
        assert health["replicas"][0]["serving"] is False


def test_fspg_serve_stops_gracefully_on_sigterm(filled, dsn):
    """The command as users run it: a request in flight when SIGTERM arrives still gets
    its answer, then the process ends (uvicorn re-raises the signal once it has shut
    down, as a service manager expects)."""
    import os
    import signal
    import subprocess
    import sys
    import threading

    from tests.http_server import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "fspg.cli", "--dsn", dsn, "serve", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base_url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read() if server.poll() else ""
            time.sleep(0.1)
        with psycopg.connect(dsn, autocommit=True) as locker:
            locker.execute("BEGIN")
            locker.execute("LOCK TABLE fs_online.user_stats__v1 IN ACCESS EXCLUSIVE MODE")
            answers = []
            request = threading.Thread(target=lambda: answers.append(
                post(base_url, "/get-online-features", {"service": "scoring", "entities": [1]})))
            request.start()
            time.sleep(0.5)
            os.kill(server.pid, signal.SIGTERM)
            time.sleep(0.5)
            locker.execute("ROLLBACK")
        request.join(20)
        assert answers and answers[0].status_code == 200 and answers[0].json()["rows"][0]["spend_7d"] == 10.0
        assert server.wait(20) in (0, -signal.SIGTERM)
        assert "Traceback" not in server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()


def test_serve_refuses_the_network_without_tokens_and_bad_token_files(tmp_path):
    runner = CliRunner()
    open_to_all = runner.invoke(main, ["serve", "--host", "0.0.0.0"])
    assert open_to_all.exit_code == 2 and open_to_all.output.count("\n") == 1
    assert "without --tokens" in open_to_all.output
    bad = tmp_path / "tokens.yaml"
    bad.write_text("tokens: [{name: x, role: fs_serving, sha256: short}]\n")
    refused = runner.invoke(main, ["--dsn", "postgresql://nobody@127.0.0.1:1/x", "serve", "--tokens", str(bad)])
    assert refused.exit_code == 2 and "not a SHA-256" in refused.output
    twice = runner.invoke(main, ["token", "add", "a", "--role", "fs_serving", "--file", str(tmp_path / "t.yaml")])
    assert twice.exit_code == 0
    again = runner.invoke(main, ["token", "add", "a", "--role", "fs_serving", "--file", str(tmp_path / "t.yaml")])
    assert again.exit_code == 2 and "already has a token named 'a'" in again.output
