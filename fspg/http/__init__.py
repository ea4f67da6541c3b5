"""``fspg serve``: the feature server, an HTTP face of the online store.

Starlette on uvicorn (chosen by a measured benchmark: see docs/decisions.md). Modules:
``app`` (routes and error handling), ``feast`` (Feast's request and response shapes),
``tokens`` (bearer tokens mapped to PostgreSQL roles), ``metrics`` (Prometheus),
``replicas`` (lag-aware read routing), ``openapi`` (the API document at /docs).
"""
