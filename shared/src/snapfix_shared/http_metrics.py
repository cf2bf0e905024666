"""Prometheus RED metrics for HTTP: request rate, errors and latency per route template."""

from __future__ import annotations

import functools
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapfix_shared.tally import Tally

REQUESTS = Counter("snapfix_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram(
    "snapfix_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
# Each label set's child, looked up once and kept for the process (``labels`` takes a lock and
# checks its values every time); route templates, methods and statuses are few, an unknown path
# being "unmatched". The count is a ``Tally`` of its child (flushed to it in bulk).
_latency = functools.cache(LATENCY.labels)


@functools.cache
def _requests(service: str, method: str, route: str, status: int) -> Tally:
    return Tally(REQUESTS.labels(service, method, route, str(status)))


def record(service: str, method: str, route: str, status: int, seconds: float) -> None:
    """One answered request: its count by status and its latency, under its route template."""
    _requests(service, method, route, status).count += 1
    _latency(service, method, route).observe(seconds)


class NotedSend:
    """``send``, noting the status of the response it starts (500 until one starts: a failure)."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send, self.status = send, 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


class HttpMetricsMiddleware:
    """Pure ASGI middleware (no per-request task), cheap enough for the hot path."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        noted = NotedSend(send)
        try:
            await self.app(scope, receive, noted)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            if template not in {"/livez", "/readyz", "/metrics"}:
                record(self.service, scope["method"], template, noted.status, time.perf_counter() - start)
