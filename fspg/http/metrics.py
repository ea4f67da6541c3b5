"""Prometheus metrics of the feature server (``GET /metrics``), on a registry of its own
so two servers in one process (tests) never share counts."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

#: lookups are sub-millisecond to tens of milliseconds: buckets say which
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Request counts and latencies per endpoint and service, errors by SQLSTATE, pool use."""

    def __init__(self, pool_stats: Callable[[], Iterable[tuple[str, str, dict[str, int]]]]):
        self.registry = CollectorRegistry()
        self.requests = Counter("fspg_http_requests", "Requests answered, by endpoint, service and HTTP status.",
                                ["endpoint", "service", "status"], registry=self.registry)
        self.latency = Histogram("fspg_http_request_seconds", "Time to answer a request, by endpoint and service.",
                                 ["endpoint", "service"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.errors = Counter("fspg_http_errors", "Requests that failed, by endpoint and SQLSTATE (or fspg's own code).",
                              ["endpoint", "sqlstate"], registry=self.registry)
        self.entities = Counter("fspg_lookup_entities", "Entities looked up, by service.", ["service"],
                                registry=self.registry)
        self.events = Counter("fspg_push_events", "Events pushed, by feature view and outcome.", ["view", "outcome"],
                              registry=self.registry)
        self.registry.register(_PoolCollector(pool_stats))

    def observe(self, endpoint: str, service: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(endpoint, service, str(status)).inc()
        self.latency.labels(endpoint, service).observe(seconds)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


class _PoolCollector:
    """Connection pool gauges, read from psycopg_pool's counters at scrape time."""

    def __init__(self, pool_stats: Callable[[], Iterable[tuple[str, str, dict[str, int]]]]):
        self._pool_stats = pool_stats

    def collect(self) -> Iterable[Metric]:
        size = GaugeMetricFamily("fspg_pool_connections", "Open connections per pool.", labels=["role", "pool"])
        idle = GaugeMetricFamily("fspg_pool_available", "Idle connections per pool.", labels=["role", "pool"])
        waiting = GaugeMetricFamily("fspg_pool_waiting", "Requests waiting for a connection.", labels=["role", "pool"])
        limit = GaugeMetricFamily("fspg_pool_max", "Connections a pool may open.", labels=["role", "pool"])
        for role, pool, stats in self._pool_stats():
            size.add_metric([role, pool], stats.get("pool_size", 0))
            idle.add_metric([role, pool], stats.get("pool_available", 0))
            waiting.add_metric([role, pool], stats.get("requests_waiting", 0))
            limit.add_metric([role, pool], stats.get("pool_max", 0))
        yield from (size, idle, waiting, limit)

    def describe(self) -> list[Any]:
        return []
