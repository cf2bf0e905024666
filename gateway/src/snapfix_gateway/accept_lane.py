"""The accept lane: ``POST /v1/issues`` through the app's own middleware, straight to its route.

Every request of the app goes through the tracing middleware (one server span) and FastAPI's
router (about 100 routes, matched one included router after another). For a report whose trace
is not kept (nine in ten, by default: ``telemetry.DEFAULT_RATIO``), neither does anything the
answer needs: the span is not recorded and the route is known from the method and the path.
Under the accept benchmark they were a third of the gateway's CPU (cProfile, in process:
OpenTelemetry 16 %, FastAPI's routing 16 %).

So such a report takes a stack of its own: the one FastAPI builds for the app (its error
middleware, every middleware the app added, its exception handlers, in the same order: request
id, body cap, rate limit and ``Idempotency-Key``, metrics, allowed methods) around that one
route instead of the router. Its trace context is the one the tracing middleware would have
made current: the caller's trace id (or a new one), not sampled, propagated with the command.

Everything else takes the app's whole stack, as before: another path or method, a trace that
is kept (then with the trace id its sampling was decided for: ``ServerSampling``), and any
request while a test overrides a dependency.
"""

from __future__ import annotations

import copy
from typing import cast

from fastapi import FastAPI, routing
from fastapi.routing import APIRoute
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from snapfix_gateway.accept_direct import DirectReport
from snapfix_shared.telemetry import ServerSampling

METHOD, PATH = "POST", "/v1/issues"

LANE_REQUESTS = Counter(
    "snapfix_gateway_accept_lane_requests_total",
    "Reports that took the accept lane (trace not sampled): the app's middleware and the route, no router",
)


def report_route(app: FastAPI) -> APIRoute:
    """The app's ``POST /v1/issues`` route, as its router declared it (included without options:
    no prefix, dependencies or limits of the inclusion's own, so the route handles a request as
    the router would)."""
    for context in routing.iter_route_contexts(app.routes):
        route = context.route
        if isinstance(route, APIRoute) and route.path == PATH and METHOD in (route.methods or ()):
            return route
    raise LookupError(f"the app has no {METHOD} {PATH} route")


def _route_only(app: FastAPI, route: APIRoute) -> ASGIApp:
    """What the router does for this route once it matched: the route in the scope, then its handling."""
    router = app.router

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route
        scope.setdefault("path_params", {})
        scope.setdefault("router", router)
        await route.handle(scope, receive, send)

    return routed


def lane_stack(app: FastAPI, route: APIRoute) -> ASGIApp:
    """FastAPI's own middleware stack for ``app``, around ``route`` instead of the router.

    Built by FastAPI's ``build_middleware_stack`` itself (the class's, without the tracing
    instrumentation that wraps the app's), on a shallow copy of the app whose router is the route.
    """
    shadow = copy.copy(app)
    shadow.router = cast("object", _route_only(app, route))  # type: ignore[assignment]
    return FastAPI.build_middleware_stack(shadow)


class AcceptLane:
    """Sends an unsampled ``POST /v1/issues`` through ``lane``, every other request through ``app``
    (the whole stack, wrapped as middleware wraps)."""

    def __init__(self, app: ASGIApp, *, fastapi: FastAPI, tracer_provider: TracerProvider, direct: bool) -> None:
        self.app, self.fastapi = app, fastapi
        self.sampling = ServerSampling(tracer_provider, f"{METHOD} {PATH}")  # the server span's name
        route = report_route(fastapi)
        self.lane = lane_stack(fastapi, route)
        # A plain report is answered without FastAPI's request machinery (``accept_direct``).
        self.direct = DirectReport(fastapi, route, self.lane) if direct else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != METHOD
            or scope["path"] != PATH
            or scope.get("root_path")
            or self.fastapi.dependency_overrides
        ):
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        unsampled = self.sampling.unsampled(headers)
        if unsampled is None:  # kept: the tracing middleware records it, with the trace id decided here
            await self.app(scope, receive, send)
            return
        LANE_REQUESTS.inc()
        token = otel_context.attach(unsampled)
        try:
            if self.direct is not None:
                answered, receive = await self.direct(scope, receive, send, headers)
                if answered:
                    return
            await self.lane(scope, receive, send)
        finally:
            otel_context.detach(token)
