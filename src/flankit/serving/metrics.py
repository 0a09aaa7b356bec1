"""Prometheus metrics for the server, in a registry private to each app.

A per-app `CollectorRegistry` (not the process-global default) lets tests and benchmarks run
several apps in one process without "duplicated timeseries" errors, and keeps /metrics limited
to what this server measures. `MetricsMiddleware` is plain ASGI (not Starlette's
BaseHTTPMiddleware) so streamed responses are timed until their last byte and client
disconnects still reach the endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServerMetrics:
    """The server's counters, histograms and gauges; `render()` gives the Prometheus text."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "flankit_requests", "HTTP requests by route and status code", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "flankit_request_latency_seconds",
            "Time to the last response byte",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_requests = Histogram(
            "flankit_batch_requests", "Requests per engine call", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_rows = Histogram(
            "flankit_batch_rows", "Rows (prompts x n) per engine call", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_tokens = Counter("flankit_batch_tokens", "Token budget used by engine calls", registry=r)
        self.queue_depth = Gauge("flankit_queue_depth", "Requests waiting for the engine", registry=r)
        self.admitted = Gauge(
            "flankit_requests_admitted", "Requests holding a queue slot (waiting or running)", registry=r
        )
        self.prompt_tokens = Counter(
            "flankit_prompt_tokens", "Prompt tokens of answered requests", registry=r
        )
        self.completion_tokens = Counter(
            "flankit_completion_tokens", "Generated tokens of answered requests", registry=r
        )
        self.rejected = Counter(
            "flankit_rejected_requests",
            "Requests refused before the engine, by reason",
            ["reason"],
            registry=r,
        )

    def watch_queue(self, depth: Callable[[], int], admitted: Callable[[], int]) -> None:
        """Read the queue gauges from the batcher at scrape time."""
        self.queue_depth.set_function(depth)
        self.admitted.set_function(admitted)

    def observe_batch(self, jobs: int, rows: int, tokens: int) -> None:
        self.batch_requests.observe(jobs)
        self.batch_rows.observe(rows)
        self.batch_tokens.inc(tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts HTTP requests and times them per route template (bounded label cardinality)."""

    def __init__(self, app, metrics: ServerMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 499}  # stays 499 ("client closed request") if nothing was sent

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # the router records the matched route in the scope; its template keeps labels few
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
