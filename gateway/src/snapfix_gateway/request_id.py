"""Request ids: taken from ``X-Request-ID`` when sane, else a new UUIDv7; echoed on every response.

The request id becomes the ``correlation_id`` of every command the request publishes.
"""

from __future__ import annotations

import re

import uuid_utils
from starlette.types import ASGIApp, Receive, Scope, Send

from snapfix_gateway.sending import adding_headers

HEADER = b"x-request-id"
_SANE = re.compile(rb"^[A-Za-z0-9._:-]{8,128}$")


def request_id_of(scope: Scope) -> str:
    """The request's id: its ``X-Request-ID`` when sane, else a new UUIDv7."""
    return request_id_from(dict(scope["headers"]).get(HEADER, b""))


def request_id_from(given: bytes) -> str:
    """The id for a request that gave ``given`` as its ``X-Request-ID`` (empty: none)."""
    # uuid_utils' own UUID (not the stdlib's its compat module makes): only its text is needed,
    # and that is made natively (0.3 against 2.2 µs a request).
    return given.decode() if _SANE.match(given) else str(uuid_utils.uuid7())


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        await self.app(scope, receive, adding_headers(send, [(HEADER, request_id.encode())]))
