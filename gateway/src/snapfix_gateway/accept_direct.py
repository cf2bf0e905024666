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
(``ratelimit.admit``: a refusal is the limiter's own 429), the route's ``accept`` (through
``Idempotency.respond`` for a key: a repeat is answered from what was kept), inside the stack's
error middleware (the app's 500), with the headers the layers add (``RateLimit``,
``X-Request-ID``).

The two layers that answer for a route are not wrapped around the report: their work is done in
line (``_routed``). It is counted and timed with the metrics middleware's own ``record``, and only
a refusal (an exception the route raises) is handed to Starlette's exception middleware with the
app's handlers, which answers it as in the stack. Wrapped, they cost about 0.04 ms a report, a
seventh of its CPU (in process), for an answer that passes through them untouched.

Any other request (another content type, a key that is not valid, no token or a bad one, a
body over the cap or that does not validate, a reporter refused) goes through the lane's stack,
with the body read so far handed on as it came: every refusal is the stack's, word for word.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from prometheus_client import Counter
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapfix_gateway.body_limit import BodyLimitMiddleware
from snapfix_gateway.idempotency import Idempotency, replaying
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.ratelimit import Policy, RateLimitMiddleware, admit
from snapfix_gateway.request_id import HEADER as REQUEST_ID
from snapfix_gateway.request_id import request_id_from
from snapfix_gateway.routes.report_route import ReportRoute, is_json
from snapfix_gateway.sending import adding_headers
from snapfix_shared.http_metrics import HttpMetricsMiddleware, NotedSend, record
from snapfix_shared.tally import Tally

DIRECT_REPORTS = Tally(  # counted on every report: tallied (``snapfix_shared.tally``)
    Counter(
        "snapfix_gateway_accept_direct_total",
        "Reports in the accept lane answered directly (no FastAPI request machinery)",
    )
)
# Where the report being answered waits, in its scope, for the steps inside the layers built once.
PLAIN = "snapfix.plain_report"


def layer(stack: ASGIApp, kind: type[Any]) -> Any:
    """The middleware of ``kind`` in a stack (each layer holds the next as ``.app``)."""
    node: Any = stack
    while node is not None:
        if isinstance(node, kind):
            return node
        node = getattr(node, "app", None)
    raise LookupError(f"the stack has no {kind.__name__}")


@dataclass(slots=True)
class Plain:
    """A report the direct answer takes: what the stack's parts decided about it (one per report,
    never changed: not frozen only because a frozen dataclass sets each field through
    ``object.__setattr__``, a call per field on the hot path)."""

    request: Request
    body: Any
    raw: bytes
    principal: Principal
    caller: str
    checks: list[tuple[Policy, str]]
    key: str | None


class DirectReport:
    """Answers a plain report (True), or leaves the request, untouched, to ``stack`` (False)."""

    def __init__(self, fastapi: FastAPI, route: APIRoute, stack: ASGIApp) -> None:
        if not isinstance(route, ReportRoute):
            raise TypeError(f"{route.path}: the direct answer takes the steps of a ReportRoute")
        self.route = route
        self.rate_limit: RateLimitMiddleware = layer(stack, RateLimitMiddleware)
        self.idempotency: Idempotency = self.rate_limit.idempotency
        self.max_bytes: int = layer(stack, BodyLimitMiddleware).max_bytes
        errors: ServerErrorMiddleware = layer(stack, ServerErrorMiddleware)
        # As in the stack, the error middleware answers a failure, outside every other layer.
        self.answering = ServerErrorMiddleware(self._answer, handler=errors.handler, debug=errors.debug)
        # The route's answer is counted as the stack's metrics middleware counts it, and a refusal
        # answered by an exception middleware with the app's handlers (all but the 500 one, the
        # error middleware's: split as FastAPI does).
        self.service: str = layer(stack, HttpMetricsMiddleware).service
        self.refusals = {k: v for k, v in fastapi.exception_handlers.items() if k not in (500, Exception)}
        self.debug = errors.debug

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]
    ) -> tuple[bool, Receive]:
        """Whether the report was answered here; else the ``receive`` the stack must read (the body
        read so far, then the rest)."""
        plain, receive = await self._plain(scope, receive, headers)
        if plain is None:
            return False, receive
        request_id = request_id_from(headers.get("x-request-id", "").encode("latin-1"))
        scope.setdefault("state", {})["request_id"] = request_id
        scope[PLAIN] = plain
        try:
            await self.answering(scope, receive, send)
        finally:
            # The report holds its request, which holds the scope: left there, the two would be
            # a cycle only the garbage collector frees (an A/B: 7-12% more gateway CPU per report).
            del scope[PLAIN]
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
        receive = replaying(read, receive)
        body = None if raw is None else self.route.parse(raw)
        if raw is None or body is None:  # not all of it within the cap, or not a report
            return None, receive
        request = Request(scope, receive)
        try:
            principal = await self.route.reporter(request)
        except Exception:  # noqa: BLE001 - refused, or could not be decided: the stack answers, in its words
            return None, receive
        return Plain(request, body, raw, principal, caller, checks, key), receive

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The stack's steps for the report in ``scope``, in its order: request id, rate limit and
        key, then the route."""
        DIRECT_REPORTS.count += 1
        plain: Plain = scope[PLAIN]
        request_id = (REQUEST_ID, scope["state"]["request_id"].encode())
        claim = None
        if plain.key is not None:
            claim = self.idempotency.claim_of(scope, plain.raw, key=plain.key, caller=plain.caller)
        admitted = await admit(self.rate_limit.limiter, plain.checks, claim, scope, adding_headers(send, [request_id]))
        if admitted is None:  # refused: answered by the limiter
            return
        limits, outcome = admitted
        # The rate limit's headers, then the request id: as the two layers add theirs, in one.
        answering = adding_headers(send, [*limits, request_id])
        if claim is None:
            await self._routed(scope, receive, answering)
        else:
            await self.idempotency.respond(self._routed, scope, receive, answering, claim=claim, outcome=outcome)

    async def _routed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The route's answer to the report in ``scope``, as the metrics and exception middleware
        around the route give it: counted and timed under the route (a failure as a 500, as the
        metrics middleware counts one), a refusal answered by the app's handler for it."""
        plain: Plain = scope[PLAIN]
        start = time.perf_counter()
        status = 500
        try:
            try:
                response = await self.route.accept(plain.request, plain.body, plain.principal, plain.key)
            except Exception as exc:  # noqa: BLE001 - the exception middleware answers it, or raises it on
                status = await self._refuse(scope, receive, send, exc)
                return
            status = response.status_code
            await response(scope, receive, send)
        finally:
            record(self.service, scope["method"], self.route.path, status, time.perf_counter() - start)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> int:
        """Answer a refusal with the app's handler for it (an exception without one goes on, to
        the error middleware); the status it was answered with."""

        async def refused(_scope: Scope, _receive: Receive, _send: Send) -> None:
            raise exc  # the route, as the exception middleware sees it

        noted = NotedSend(send)
        await ExceptionMiddleware(refused, handlers=self.refusals, debug=self.debug)(scope, receive, noted)
        return noted.status

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
