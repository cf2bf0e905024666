"""The accept lane's direct answer: a plain report, answered without FastAPI's request machinery.

In the accept lane (``accept_lane``) a report still crosses FastAPI's whole middleware stack:
about ten layers (error handling, request id, body cap, rate limit, allowed methods, metrics,
exception handlers, the exit stack), each wrapping ``send``, then a ``Request`` and a
``Response`` of Starlette's. Under the accept benchmark that machinery was about a third of
the lane's CPU (py-spy, in process), for a request none of whose layers has anything to decide.

So the common report is answered directly: a JSON body (with a valid ``Idempotency-Key`` or
none), signed in by a token the rate limiter accepts, a body that parses and validates, a
reporter the route accepts. Each of those is decided by the stack's own parts (the rate
limiter's ``checks_of``, the route's ``parse`` and ``reporter``), before anything is counted or
kept. Then, in the stack's order: the request id, the key's claim and the rate limit
(``ratelimit.admit``, the limiter's own: a refusal is its 429), the route's ``accept`` (through
``Idempotency.respond`` for a key: a repeat is answered from what was kept), the app's
exception handlers, and the response with the headers the layers add (``RateLimit``,
``X-Request-ID``) and the metrics they record.

Any other request (another content type, a key that is not valid, no token or a bad one, a
body over the cap or that does not validate, a reporter refused) goes through the lane's stack,
with the body read so far handed on as it came: every refusal is the stack's, word for word.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import Any, cast

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from prometheus_client import Counter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapfix_gateway.body_limit import BodyLimitMiddleware
from snapfix_gateway.idempotency import Idempotency
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.ratelimit import Policy, RateLimitMiddleware, admit
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


@dataclass(frozen=True)
class Plain:
    """A report the direct answer takes: what the stack's parts decided about it."""

    request: Request
    body: Any
    principal: Principal
    caller: str
    checks: list[tuple[Policy, str]]
    key: str | None


class DirectReport:
    """Answers a plain report (True), or leaves the request, untouched, to ``stack`` (False)."""

    def __init__(self, fastapi: FastAPI, route: APIRoute, stack: ASGIApp) -> None:
        if not isinstance(route, ReportRoute):
            raise TypeError(f"{route.path}: the direct answer takes the steps of a ReportRoute")
        self.fastapi, self.route = fastapi, route
        self.rate_limit: RateLimitMiddleware = layer(stack, RateLimitMiddleware)
        self.idempotency: Idempotency = self.rate_limit.idempotency
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
        plain, receive = await self._plain(scope, receive, headers)
        if plain is None:
            return False, receive
        await self._answer(plain, start, scope, receive, send)
        return True, receive

    async def _plain(self, scope: Scope, receive: Receive, headers: dict[str, str]) -> tuple[Plain | None, Receive]:
        """The report, when it is plain (None: the stack answers it); nothing counted or kept yet."""
        length = headers.get("content-length", "")
        key = headers.get("idempotency-key")
        if (
            not is_json(headers.get("content-type", ""))
            or not length.isdigit()
            or int(length) > self.max_bytes
            or (key is not None and not self.idempotency.valid(key))
        ):
            return None, receive
        caller, checks = self.rate_limit.checks_of(scope, self.route.path)
        if not caller.startswith("u:"):  # no token, or one the limiter does not accept
            return None, receive
        raw, read = await self._body(receive)
        receive = _replay(read, receive)
        body = self.route.parse(raw) if raw is not None else None
        if body is None:
            return None, receive
        request = Request(scope, receive)
        try:
            principal = await self.route.reporter(request)
        except Exception:  # noqa: BLE001 - refused, or could not be decided: the stack answers, in its words
            return None, receive
        return Plain(request, body, principal, caller, checks, key), receive

    async def _answer(self, plain: Plain, start: float, scope: Scope, receive: Receive, send: Send) -> None:
        """The stack's steps, in its order: request id, rate limit and key, route, error handling."""
        DIRECT_REPORTS.inc()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        with_id = _adding(send, [(REQUEST_ID, request_id.encode())])
        claim = None
        if plain.key is not None:  # claiming reads the body again: the messages already read
            claim, receive = await self.idempotency.claim(scope, receive, key=plain.key, caller=plain.caller)
        admitted = await admit(self.rate_limit.limiter, plain.checks, claim, scope, with_id)
        if admitted is None:  # refused: answered by the limiter
            return
        limits, outcome = admitted

        async def route(scope: Scope, receive: Receive, send: Send) -> None:
            await self._route(plain, start, scope, receive, send)

        try:
            if claim is None:
                await route(scope, receive, _adding(with_id, limits))
            else:
                await self.idempotency.respond(
                    route, scope, receive, _adding(with_id, limits), claim=claim, outcome=outcome
                )
        except Exception as exc:
            # As Starlette's error middleware, outside every other layer: answered, then raised on
            # to the server's log.
            handler = self.fastapi.exception_handlers.get(500) or self.fastapi.exception_handlers.get(Exception)
            if handler is not None:
                await (await _handled(handler, plain.request, exc))(scope, receive, send)
            raise

    async def _route(self, plain: Plain, start: float, scope: Scope, receive: Receive, send: Send) -> None:
        """The route's answer, or the app's exception handler's for a refusal, with the metrics
        the stack's ``HttpMetricsMiddleware`` records. A failure (no handler but the catch-all)
        is raised, as the stack's exception middleware raises it."""
        status = 500
        try:
            try:
                response = await self.route.accept(plain.request, plain.body, plain.principal)
            except Exception as exc:
                handler = self._refusal_handler(exc)
                if handler is None:
                    raise
                response = await _handled(handler, plain.request, exc)
            status = response.status_code
            await response(scope, receive, send)
        finally:
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

    def _refusal_handler(self, exc: Exception) -> Any:
        """The app's handler for ``exc`` (for the closest class it has one for), but the catch-all one."""
        handlers = self.fastapi.exception_handlers
        if isinstance(exc, HTTPException) and exc.status_code in handlers:  # as Starlette looks them up
            return handlers[exc.status_code]
        for kind in type(exc).__mro__:
            if kind is Exception:
                return None
            if kind in handlers:
                return handlers[kind]
        return None


async def _handled(handler: Any, request: Request, exc: Exception) -> Response:
    """A Starlette exception handler's answer (the app's are coroutines; Starlette allows functions)."""
    answer = handler(request, exc)
    return cast("Response", await answer if inspect.isawaitable(answer) else answer)


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
