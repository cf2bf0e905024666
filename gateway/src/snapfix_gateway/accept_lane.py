"""The accept lane: ``POST /v1/issues`` through the app's own middleware, straight to its route.

Every request of the app goes through FastAPI's router (about 100 routes, matched one included
router after another) and the tracing middleware. For a report neither matching nor, when its
trace is not kept (nine in ten, by default: ``telemetry.DEFAULT_RATIO``), the tracing
middleware does anything the answer needs: the route is known from the method and the path, and
the span is not recorded. Under the accept benchmark they were a third of the gateway's CPU
(cProfile, in process: OpenTelemetry 16 %, FastAPI's routing 16 %).

So a report takes a stack of its own: the one FastAPI builds for the app (its error middleware,
every middleware the app added, its exception handlers, in the same order: request id, body cap,
rate limit and ``Idempotency-Key``, metrics, allowed methods) around that one route instead of
the router; a plain report is answered without even that machinery (``accept_direct``).

- A report whose trace is not kept skips the tracing middleware. Its trace context is the one
  that middleware would have made current: the caller's trace id (or a new one), not sampled,
  propagated with the command.
- A report whose trace is kept goes through the app's own tracing layers (copies of those the
  instrumentation built for the app, sharing its tracer and instruments) around the same lane:
  the same server span, named and attributed as for the whole stack, with the trace id its
  sampling was decided for (``ServerSampling``), and the producer span inside it. Through the
  whole stack such a report cost twice what an unsampled one does (router and request
  machinery): a tenth of the gateway's CPU at the default ratio.

Everything else takes the app's whole stack, as before: another path or method, and any request
while a test overrides a dependency (which is how the tests get the whole stack's answer to
compare with).
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
from snapfix_shared.tally import Tally
from snapfix_shared.telemetry import ServerSampling, tracing_layers

METHOD, PATH = "POST", "/v1/issues"

LANE_REQUESTS = Counter(
    "snapfix_gateway_accept_lane_requests_total",
    "Reports that took the accept lane: the app's middleware and the route, no router",
    ["traced"],
)
# Counted on every report: tallied (``snapfix_shared.tally``).
UNTRACED, TRACED = Tally(LANE_REQUESTS.labels("false")), Tally(LANE_REQUESTS.labels("true"))


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
    """Sends ``POST /v1/issues`` through ``lane`` (inside the app's tracing layers when its trace
    is kept), every other request through ``app`` (the whole stack, wrapped as middleware wraps)."""

    def __init__(self, app: ASGIApp, *, fastapi: FastAPI, tracer_provider: TracerProvider, direct: bool) -> None:
        self.app, self.fastapi = app, fastapi
        self.sampling = ServerSampling(tracer_provider, f"{METHOD} {PATH}")  # the server span's name
        route = report_route(fastapi)
        self.lane = lane_stack(fastapi, route)
        # A plain report is answered without FastAPI's request machinery (``accept_direct``).
        self.direct = DirectReport(fastapi, route, self.lane) if direct else None
        self.traced = tracing_layers(app, self._traced)

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
        headers = _text(scope)
        unsampled = self.sampling.unsampled(headers)
        if unsampled is None:  # kept: the tracing layers record it, with the trace id decided here
            TRACED.count += 1
            await self.traced(scope, receive, send)
            return
        UNTRACED.count += 1
        token = otel_context.attach(unsampled)
        try:
            await self._answer(scope, receive, send, headers)
        finally:
            otel_context.detach(token)

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._answer(scope, receive, send, _text(scope))

    async def _answer(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        if self.direct is not None:
            answered, receive = await self.direct(scope, receive, send, headers)
            if answered:
                return
        await self.lane(scope, receive, send)


def _text(scope: Scope) -> dict[str, str]:
    """A request's headers by (lower-case) name; a name sent twice has its first value, as
    Starlette's ``Headers.get`` and the stack's ``Idempotency-Key`` layer read it."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])}
