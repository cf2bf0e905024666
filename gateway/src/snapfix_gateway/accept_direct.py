"""The accept lane's direct answer: a plain report, answered without FastAPI's request machinery.

In the accept lane (``accept_lane``) a report still crosses FastAPI's whole middleware stack:
about ten layers (error handling, request id, body cap, rate limit, allowed methods, metrics,
exception handlers, the exit stack), each wrapping ``send``, then a ``Request`` and a
``Response`` of Starlette's. Under the accept benchmark that machinery was about a third of
the lane's CPU (py-spy, in process), for a request none of whose layers has anything to decide.

So the common report is answered directly: a JSON body, no ``Idempotency-Key``, signed in by a
token the rate limiter accepts, a body that parses and validates, a reporter the route accepts.
Each of those is decided by the stack's own parts (the rate limiter's ``checks_of``, the route's
``parse`` and ``reporter``), before anything is counted or kept. Then, in the stack's order:
the request id, the rate limit (``Limiter.check_all``; a refusal is the limiter's own 429),
the route's ``accept``, the app's exception handlers for a refusal, and the response with the
headers the layers add (``RateLimit``, ``X-Request-ID``) and the metrics they record.

Any other request (a key, another content type, no token or a bad one, a body over the cap or
that does not validate, a reporter refused) goes through the lane's stack, with the body read
so far handed on as it came: every refusal is the stack's, word for word.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapfix_gateway.body_limit import BodyLimitMiddleware
from snapfix_gateway.ratelimit import RateLimitMiddleware, ratelimit_headers, refuse, shown_verdict
from snapfix_gateway.request_id import HEADER as REQUEST_ID
from snapfix_gateway.request_id import request_id_of
from snapfix_gateway.routes.report_route import ReportRoute, is_json
from snapfix_shared.http_metrics import LATENCY, REQUESTS, HttpMetricsMiddleware

DIRECT_REPORTS = Counter(
    "snapfix_gateway_accept_direct_total",
    "Reports in the accept lane answered directly (no FastAPI request machinery)",
)


def layers(stack: ASGIApp) -> list[Any]:
    """The middleware of a stack, outermost first (each holds the next as ``.app``)."""
    found: list[Any] = []
    node: Any = stack
    while node is not None and len(found) < 64:
        found.append(node)
        node = getattr(node, "app", None)
    return found


def layer(stack: ASGIApp, kind: type[Any]) -> Any:
    for node in layers(stack):
        if isinstance(node, kind):
            return node
    raise LookupError(f"the stack has no {kind.__name__}")


class DirectReport:
    """Answers a plain report (True), or leaves the request, untouched, to ``stack`` (False)."""

    def __init__(self, fastapi: FastAPI, route: APIRoute, stack: ASGIApp) -> None:
        if not isinstance(route, ReportRoute):
            raise TypeError(f"{route.path}: the direct answer takes the steps of a ReportRoute")
        self.fastapi, self.route = fastapi, route
        self.rate_limit: RateLimitMiddleware = layer(stack, RateLimitMiddleware)
        self.max_bytes: int = layer(stack, BodyLimitMiddleware).max_bytes
        service = layer(stack, HttpMetricsMiddleware).service
        self.labels = (service, "POST", route.path)
        self.latency = LATENCY.labels(*self.labels)
        self.accepted = REQUESTS.labels(*self.labels, str(route.status_code))

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]
    ) -> tuple[bool, Receive]:
        """Whether the report was answered here; else the ``receive`` the stack must read (the body
        read so far, then the rest)."""
        start = time.perf_counter()
        length = headers.get("content-length", "")
        if (
            "idempotency-key" in headers
            or not is_json(headers.get("content-type", ""))
            or not length.isdigit()
            or int(length) > self.max_bytes
        ):
            return False, receive
        caller, checks = self.rate_limit.checks_of(scope, self.route.path)
        if not caller.startswith("u:"):  # no token, or one the limiter does not accept
            return False, receive
        raw, read = await self._body(receive)
        receive = _replay(read, receive)
        body = self.route.parse(raw) if raw is not None else None
        if body is None:
            return False, receive
        request = Request(scope, receive)
        try:
            principal = await self.route.reporter(request)
        except Exception:  # noqa: BLE001 - refused, or could not be decided: the stack answers, in its words
            return False, receive
        # Counted and answered here from now on, in the stack's order.
        DIRECT_REPORTS.inc()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        verdicts, _ = await self.rate_limit.limiter.check_all(checks)
        shown = shown_verdict(verdicts)
        limits = ratelimit_headers(shown)
        with_id = _adding(send, [(REQUEST_ID, request_id.encode())])
        if not shown.allowed:
            await refuse(scope, with_id, shown, limits)
            return True, receive
        failure: Exception | None = None
        try:
            response = await self.route.accept(request, body, principal)
        except Exception as exc:  # noqa: BLE001 - answered by the app's handler for it, as in the stack
            response, failure = await self._handled(request, exc)
        if failure is None:
            await response(scope, receive, _adding(with_id, limits))
            self._measured(response.status_code, start)
            return True, receive
        # As Starlette's error middleware, outside every other layer: answered as it is, then
        # on to the server's log.
        await response(scope, receive, send)
        self._measured(response.status_code, start)
        raise failure

    def _measured(self, status: int, start: float) -> None:
        """The metrics the stack's ``HttpMetricsMiddleware`` records."""
        counter = self.accepted if status == self.route.status_code else REQUESTS.labels(*self.labels, str(status))
        counter.inc()
        self.latency.observe(time.perf_counter() - start)

    async def _body(self, receive: Receive) -> tuple[bytes | None, list[Message]]:
        """The whole body (None: not all of it, within the cap) and the messages read."""
        read: list[Message] = []
        size = 0
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                return None, read
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return None, read
            if not message.get("more_body", False):
                break
        return b"".join(m.get("body", b"") for m in read), read

    async def _handled(self, request: Request, exc: Exception) -> tuple[Response, Exception | None]:
        """The app's own handler's answer to ``exc`` (the closest class it has one for), and the
        exception itself when it is a failure, not a refusal (only the catch-all handler has it)."""
        handlers = self.fastapi.exception_handlers
        for kind in type(exc).__mro__:
            if kind in handlers:
                answer = handlers[kind](request, exc)
                response = await answer if inspect.isawaitable(answer) else answer  # the app's are async
                return response, exc if kind is Exception else None
        raise exc


def _adding(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", []).extend(headers)
        await send(message)

    return sending


def _replay(read: list[Message], receive: Receive) -> Receive:
    """``receive`` that gives the messages already read first."""
    pending = list(read)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
