"""The feature server's OpenAPI 3.1 document (``/openapi.json``) and a page that shows it
(``/docs``). The page is plain HTML written here, not Swagger UI from a CDN: a feature
server often runs where nothing outside can be fetched."""
from __future__ import annotations

import html
import json
from typing import Any

_ERROR = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "string", "description": "SQLSTATE, fspg's code (YF…), or unauthorized/malformed_json/timeout"},
    "message": {"type": "string"}, "hint": {"type": "string"}}}}}
_ENTITIES = {"oneOf": [{"type": "object", "additionalProperties": {"type": "array"},
                        "description": "key column -> values, one per entity (at most 10,000)"},
                       {"type": "array", "description": "keys of a single-key request, or objects of key columns"}]}
_ERRORS = {str(code): {"description": text, "content": {"application/json": {"schema": _ERROR}}}
           for code, text in [(400, "the request is wrong: malformed JSON, keys of the wrong type or count, too many keys"),
                              (401, "no valid bearer token"), (403, "the token's role may not do this"),
                              (404, "unknown feature, view, service or model"), (503, "the database is away"),
                              (504, "no answer within the request timeout")]}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "fspg feature server", "version": "1",
             "description": "Online features from PostgreSQL. Feast's feature-server requests and answers are accepted "
                            "as they are; fspg's own form names a service, a model version or feature references."},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                  "description": "tokens from `fspg token add`; each acts as a PostgreSQL role"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/get-online-features": {"post": {
            "summary": "Latest feature values for a batch of entities, one database round trip.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                {"title": "Feast", "type": "object", "required": ["entities"], "properties": {
                    "features": {"type": "array", "items": {"type": "string"}, "description": "view:feature"},
                    "feature_service": {"type": "string"}, "full_feature_names": {"type": "boolean"},
                    "entities": {"type": "object", "additionalProperties": {"type": "array"}}}},
                {"title": "fspg", "type": "object", "required": ["entities"], "properties": {
                    "service": {"type": "string", "description": "NAME or NAME@V"}, "service_version": {"type": "integer"},
                    "model": {"type": "string", "description": "NAME or NAME@V: exactly the features it was trained on"},
                    "model_version": {"type": "integer"},
                    "features": {"type": "array", "items": {"type": "string"}, "description": "view.feature, view@2.feature, view.*"},
                    "entities": _ENTITIES, "with_event_ts": {"type": "boolean"}}}]}}}},
            "responses": {"200": {"description": "Feast's answer (metadata.feature_names, results with values, statuses "
                                                 "and event_timestamps per column) or fspg's (rows: one object per entity, "
                                                 "in request order). Header X-Fspg-Read-From: replica or primary."},
                          **_ERRORS}}},
        "/push": {"post": {
            "summary": "Write events through the validated write path: rules checked, bad rows quarantined and counted.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                {"title": "fspg", "type": "object", "required": ["feature_view", "events"], "properties": {
                    "feature_view": {"type": "string"}, "events": {"type": "array", "items": {"type": "object"}},
                    "timestamp": {"type": "string", "description": "event_ts of events without one"},
                    "batch_key": {"type": "string", "description": "a retry with the same key writes nothing again"},
                    "mode": {"enum": ["quarantine", "strict"]}}},
                {"title": "Feast", "type": "object", "required": ["push_source_name", "df"], "properties": {
                    "push_source_name": {"type": "string", "description": "the feature view"},
                    "df": {"type": "object", "additionalProperties": {"type": "array"}}, "to": {"type": "string"}}}]}}}},
            "responses": {"200": {"description": "batch_id, feature_view, version, rows_in, inserted, quarantined, "
                                                 "unchanged, reasons (rule -> rows)"},
                          "422": {"description": "strict mode and a row broke a rule: nothing written"}, **_ERRORS}}},
        "/predict/{model}": {"post": {
            "summary": "Look up a model's features and forward them to its model server (--model-server).",
            "parameters": [{"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object", "properties": {
                "entities": _ENTITIES, "model_version": {"type": "integer"}}}}}},
            "responses": {"200": {"description": "features and the model server's prediction"}, **_ERRORS}}},
        "/health": {"get": {"summary": "Database reachable, schema revision, each replica's lag and whether it serves.",
                            "security": [], "responses": {"200": {"description": "ok"}, "503": {"description": "database away"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics: requests and latency per endpoint and service, errors by "
                                        "SQLSTATE, pool use.", "security": [],
                             "responses": {"200": {"description": "text exposition format"}}}},
    },
}


def html_page() -> str:
    """The /docs page: every operation with its summary, request schema and answers."""
    parts = ["<!doctype html><meta charset=utf-8><title>fspg feature server API</title>",
             "<style>body{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
             "pre{background:#f5f5f5;padding:.75rem;overflow:auto;font-size:13px}h2{margin-top:2rem}"
             "code.m{background:#234;color:#fff;padding:.1rem .4rem;border-radius:3px}</style>",
             f"<h1>{html.escape(DOCUMENT['info']['title'])}</h1><p>{html.escape(DOCUMENT['info']['description'])}</p>",
             "<p>Machine-readable: <a href=openapi.json>openapi.json</a></p>"]
    for path, operations in DOCUMENT["paths"].items():
        for method, op in operations.items():
            parts.append(f"<h2><code class=m>{method.upper()}</code> {html.escape(path)}</h2>"
                         f"<p>{html.escape(op['summary'])}</p>")
            if "requestBody" in op:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                parts.append(f"<pre>{html.escape(json.dumps(schema, indent=2))}</pre>")
            parts.append("<ul>" + "".join(f"<li><b>{code}</b> {html.escape(r['description'])}</li>"
                                          for code, r in op["responses"].items()) + "</ul>")
    return "\n".join(parts)
