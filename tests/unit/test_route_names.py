"""Server spans are named from a route lookup kept per method and path (``telemetry.RouteNames``):
the same names and ``http.route`` as the FastAPI instrumentation's own lookup, for every route."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI, routing
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import _get_default_span_details

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_shared.telemetry import RouteNames

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(GatewaySettings(redis_url="redis://127.0.0.1:1/0", live_updates=False))


def scope(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "app": app, "headers": [(b"host", b"x")]}


def requests(app: FastAPI) -> list[tuple[str, str]]:
    """A request for every route and method of the app, its path parameters filled in, and some that match none."""
    found = [("GET", "/no/such/path"), ("PATCH", "/v1/issues")]
    for context in routing.iter_route_contexts(app.routes):
        path = getattr(context.route, "path", None) or ""
        filled = re.sub(r"\{[^}]+\}", "0190a1b2-0000-7000-8000-000000000000", path)
        found.extend((method, filled) for method in getattr(context.route, "methods", None) or () if path)
    return found


def test_every_route_is_named_as_the_instrumentation_names_it(app: FastAPI) -> None:
    names = RouteNames(app, _get_default_span_details)
    cases = requests(app)
    assert len(cases) > 60
    for method, path in cases:
        assert names(scope(app, method, path)) == _get_default_span_details(scope(app, method, path)), (method, path)
    assert names(scope(app, "POST", "/v1/issues")) == ("POST /v1/issues", {"http.route": "/v1/issues"})


def test_a_path_is_looked_up_once(app: FastAPI) -> None:
    calls: list[str] = []

    def lookup(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        calls.append(scope["path"])
        return _get_default_span_details(scope)

    names = RouteNames(app, lookup)
    for _ in range(3):
        first = names(scope(app, "POST", "/v1/issues"))
        first[1]["changed"] = "by a caller"  # each caller gets its own attributes
    assert names(scope(app, "POST", "/v1/issues")) == ("POST /v1/issues", {"http.route": "/v1/issues"})
    names(scope(app, "GET", "/v1/issues"))
    assert calls == ["/v1/issues", "/v1/issues"]  # once for POST, once for GET


def test_the_apps_server_middleware_uses_it(app: FastAPI) -> None:
    layer: object = app.build_middleware_stack()
    while layer is not None and not isinstance(layer, OpenTelemetryMiddleware):
        layer = getattr(layer, "app", None)  # the gateway's edge cache is outside it
    assert isinstance(layer, OpenTelemetryMiddleware)
    assert isinstance(layer.default_span_details, RouteNames)
