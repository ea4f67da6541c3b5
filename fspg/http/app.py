"""The feature server's routes, its roles and its error answers.

Every request runs as a PostgreSQL role: its bearer token's (``--tokens``), or without
tokens fs_serving for lookups and fs_writer for pushes (then the server listens on
loopback only). What a role may do is PostgreSQL's grants, so a serving token cannot
push however the request is written.

Errors are JSON ``{"error": {"code", "message", "hint"}}``: 400 for a request that is
wrong (malformed JSON, keys of the wrong type or count, too many keys), 401 without a
valid token, 403 when the role may not, 404 for an unknown feature, view, service or
model, 422 for a strict push with bad rows, 503 while the database is away, 504 past the
request timeout. A lookup that succeeds says where it read (``X-Fspg-Read-From``).
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from fspg import errors, online
from fspg.aio import AsyncFeatureStore
from fspg.http import feast, openapi
from fspg.http.metrics import Metrics
from fspg.http.replicas import DEFAULT_MAX_LAG_BYTES, ReplicaRouter
from fspg.http.tokens import Token, find

log = logging.getLogger("fspg.http")

LOOKUP_ROLE = "fs_serving"
PUSH_ROLE = "fs_writer"


@dataclass
class ServerConfig:
    """How ``fspg serve`` runs (see ``fspg serve --help`` for each)."""

    dsn: str
    replicas: list[str] = field(default_factory=list)
    tokens: dict[str, Token] | None = None
    timeout: float = 5.0
    pool_size: int = 4
    max_lag_bytes: int = DEFAULT_MAX_LAG_BYTES
    #: model name -> (body format, URL) for POST /predict/{model}
    model_servers: dict[str, tuple[str, str]] = field(default_factory=dict)


class FastJSONResponse(JSONResponse):
    """JSON by orjson: a 100-entity Feast answer is 2,000 values, and the standard library
    encoder took a third of such a request's time."""

    def render(self, content: Any) -> bytes:
        import orjson

        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class HttpError(Exception):
    """An answer other than 200, with fspg's error body."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint


class Stores:
    """One AsyncFeatureStore per (role, where lookups read), made on first use."""

    def __init__(self, config: ServerConfig):
        self._config = config
        self._stores: dict[tuple[str, str | None], AsyncFeatureStore] = {}
        self._lock = asyncio.Lock()

    async def get(self, role: str, replica: str | None = None) -> AsyncFeatureStore:
        """The store acting as ``role`` whose lookups read from ``replica`` (None: the primary)."""
        key = (role, replica)
        store = self._stores.get(key)
        if store is None:
            async with self._lock:
                store = self._stores.get(key)
                if store is None:
                    store = AsyncFeatureStore(self._config.dsn, replicas=[replica] if replica else None, role=role,
                                              max_size=self._config.pool_size, wait=min(2.0, self._config.timeout), warm=True)
                    await store.open()
                    self._stores[key] = store
        return store

    def pool_stats(self) -> list[tuple[str, str, dict[str, int]]]:
        """(role, pool, psycopg_pool counters) of every open pool, for /metrics."""
        # A replica's pools are named by its place in --replica (no DSN in a label).
        return [(role, name if replica is None else f"{name}@replica{self._config.replicas.index(replica) + 1}", stats)
                for (role, replica), store in self._stores.items()
                for name, stats in store.pool_stats().items()]

    async def close(self) -> None:
        """Close every pool (graceful shutdown: after in-flight requests finished)."""
        for store in self._stores.values():
            await store.close()
        self._stores.clear()


def create_app(config: ServerConfig) -> Starlette:
    """The feature server as an ASGI app (``fspg serve`` runs it on uvicorn)."""
    return FeatureServer(config).app()


class FeatureServer:
    """The routes of ``fspg serve`` over one set of pools, one replica router and one
    metrics registry."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.stores = Stores(config)
        self.router = ReplicaRouter(config.dsn, config.replicas, max_lag_bytes=config.max_lag_bytes)
        self.metrics = Metrics(self.stores.pool_stats)

    def app(self) -> Starlette:
        """The Starlette app: routes, and pools and replica checks for its lifetime."""
        routes = [
            Route("/get-online-features", self.get_online_features, methods=["POST"]),
            Route("/push", self.push_events, methods=["POST"]),
            Route("/predict/{model}", self.predict_model, methods=["POST"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.prometheus, methods=["GET"]),
            Route("/openapi.json", self.document, methods=["GET"]),
            Route("/docs", self.docs_page, methods=["GET"]),
        ]
        return Starlette(routes=routes, lifespan=self.lifespan)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Replica checks run while the app does; pools close after the last request."""
        await self.router.start()
        try:
            yield
        finally:
            await self.router.stop()
            await self.stores.close()

    # -- endpoints ----------------------------------------------------------------------
    async def get_online_features(self, request: Request) -> Response:
        """POST /get-online-features."""
        return await self.answer(request, "get-online-features", LOOKUP_ROLE, self.lookup)

    async def push_events(self, request: Request) -> Response:
        """POST /push."""
        return await self.answer(request, "push", PUSH_ROLE, self.push)

    async def predict_model(self, request: Request) -> Response:
        """POST /predict/{model}."""
        model = request.path_params["model"]
        return await self.answer(request, "predict", LOOKUP_ROLE, lambda body, role: self.predict(body, role, model))

    async def health(self, request: Request) -> Response:
        """GET /health: 200 with the schema revision and replica lags, 503 without a database."""
        config = self.config
        try:
            store = await self.stores.get(LOOKUP_ROLE if config.tokens is None else _any_role(config))
            info = await asyncio.wait_for(store.health(), config.timeout)
        except (errors.FspgError, asyncio.TimeoutError) as err:
            return JSONResponse({"status": "unavailable", "database": str(err)}, status_code=503)
        return JSONResponse({"status": "ok", "database": "reachable", **info,
                             "replicas": [r.as_dict() for r in self.router.replicas]})

    async def prometheus(self, request: Request) -> Response:
        """GET /metrics."""
        return Response(self.metrics.exposition(), media_type="text/plain; version=0.0.4")

    async def document(self, request: Request) -> Response:
        """GET /openapi.json."""
        return JSONResponse(openapi.DOCUMENT)

    async def docs_page(self, request: Request) -> Response:
        """GET /docs."""
        return HTMLResponse(openapi.html_page())

    # -- the work of each endpoint ----------------------------------------------------------
    async def answer(self, request: Request, endpoint: str, role_for: str,
                     work: Callable[[Any, str], Awaitable[tuple[Any, dict[str, str]]]]) -> Response:
        """Authenticate, parse, run ``work`` within the timeout, and answer: the result, or
        the error as its status and body; counted and timed either way."""
        started = time.perf_counter()
        headers: dict[str, str] = {}
        body: Any = None
        try:
            role = _role(self.config, request, role_for)
            body = await _json_body(request)
            result, headers = await asyncio.wait_for(work(body, role), self.config.timeout)
            status, payload = 200, result
        except HttpError as err:
            status, payload, code = err.status, _error_body(err.code, err.message, err.hint), err.code
        except asyncio.TimeoutError:
            code = "timeout"
            status, payload = 504, _error_body(code, f"no answer within {self.config.timeout:g} s", None)
        except errors.FspgError as err:
            status, code = _status_of(err), err.sqlstate or type(err).__name__
            payload = _error_body(code, err.message, err.hint)
        except Exception as err:  # noqa: BLE001 -- a bug or an unmapped database error: 500, logged, counted
            log.exception("%s failed", endpoint)
            code = getattr(err, "sqlstate", None) or "internal"
            status, payload = 500, _error_body(code, f"{type(err).__name__}: {err}", None)
        if status != 200:
            self.metrics.errors.labels(endpoint, code).inc()
        # Only names that answered become labels: a caller inventing names cannot grow them.
        service = _service_label(body) if status == 200 else "-"
        self.metrics.observe(endpoint, service, status, time.perf_counter() - started)
        return FastJSONResponse(payload, status_code=status, headers=headers)

    async def lookup(self, body: dict[str, Any], role: str) -> tuple[Any, dict[str, str]]:
        """A lookup in Feast's form or fspg's; the answer in the same form."""
        entities = body.get("entities")
        if entities is None:
            raise HttpError(400, "bad_request", "the request has no entities", "give {\"entities\": {KEY: [values]}}")
        replica = self.router.pick()
        store = await self.stores.get(role, replica)
        headers = {"X-Fspg-Read-From": "replica" if replica else "primary"}
        if feast.is_feast_request(body):
            refs = feast.feature_refs(body["features"]) if body.get("features") is not None else None
            statement, columns = await store.lookup_plan(refs, body.get("feature_service"))
        else:
            statement = await store.online_statement(body.get("features"), body.get("service"),
                                                      body.get("service_version"), body.get("model"),
                                                      body.get("model_version"))
            columns = None
        arrays, count = online.key_arrays(statement, entities)
        rows = await store.lookup(statement, arrays)
        self.metrics.entities.labels(_service_label(body)).inc(count)
        if columns is not None:
            names = [name for name, _ in statement.columns]
            return feast.response(statement.key_names, columns, names, rows, now=dt.datetime.now(dt.timezone.utc),
                                  full_feature_names=bool(body.get("full_feature_names"))), headers
        shaped = online.to_dicts(statement, rows, drop_event_ts=not body.get("with_event_ts"))
        return {"rows": [{k: feast.json_value(v) for k, v in row.items()} for row in shaped]}, headers

    async def push(self, body: dict[str, Any], role: str) -> tuple[Any, dict[str, str]]:
        """Events through fs.push; the batch's accounting."""
        if "push_source_name" in body:
            view, events = feast.push_rows(body)
        else:
            view, events = body.get("feature_view"), body.get("events", body.get("rows"))
            if not isinstance(view, str) or events is None:
                raise HttpError(400, "bad_request", "a push needs feature_view and events",
                                "{\"feature_view\": \"user_stats\", \"events\": [{...}]}")
        store = await self.stores.get(role)
        result = await store.push(view, events, body.get("timestamp"), mode=body.get("mode", "quarantine"),
                                  batch_key=body.get("batch_key"))
        self.metrics.events.labels(view, "inserted").inc(result.inserted)
        self.metrics.events.labels(view, "quarantined").inc(result.quarantined)
        fields = ("batch_id", "feature_view", "version", "rows_in", "inserted", "quarantined", "unchanged", "reasons")
        return {f: getattr(result, f) for f in fields}, {}

    async def predict(self, body: dict[str, Any], role: str, model: str) -> tuple[Any, dict[str, str]]:
        """A model's features, looked up and forwarded to its model server."""
        from fspg.http.predict import forward

        if model not in self.config.model_servers:
            raise HttpError(404, "no_model_server", f"no model server is configured for {model}",
                            f"start the server with --model-server {model}=FORMAT:URL")
        store = await self.stores.get(role, self.router.pick())
        statement = await store.online_statement(model=model, model_version=body.get("model_version"))
        arrays, _ = online.key_arrays(statement, body.get("entities"))
        table = online.to_arrow(statement, await store.lookup(statement, arrays))
        return await forward(table, statement.key_names, *self.config.model_servers[model]), {}


def _role(config: ServerConfig, request: Request, default: str) -> str:
    if config.tokens is None:
        return default
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise HttpError(401, "unauthorized", "a bearer token is required", "send Authorization: Bearer <token>")
    token = find(config.tokens, presented.strip())
    if token is None:
        raise HttpError(401, "unauthorized", "the token is not valid")
    return token.role


def _any_role(config: ServerConfig) -> str:
    assert config.tokens
    return next(iter(config.tokens.values())).role


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise HttpError(400, "malformed_json", f"the body is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise HttpError(400, "bad_request", "the body must be a JSON object")
    return body


def _service_label(body: Any) -> str:
    # Metrics are labelled by what was asked for, bounded: a service or model name, else "features".
    if not isinstance(body, dict):
        return "-"
    for key in ("service", "feature_service", "model", "feature_view", "push_source_name"):
        if isinstance(body.get(key), str):
            return str(body[key])[:64]
    return "features"


def _status_of(err: errors.FspgError) -> int:
    if isinstance(err, errors.ConnectionFailed):
        return 503
    if isinstance(err, errors.NotFound):
        return 404
    if isinstance(err, errors.PermissionDenied):
        return 403
    if isinstance(err, errors.BatchRejected):
        return 422
    if isinstance(err, errors.Conflict):
        return 409
    return 400 if isinstance(err, errors.UserError) else 500


def _error_body(code: str, message: str, hint: str | None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **({"hint": hint} if hint else {})}}
