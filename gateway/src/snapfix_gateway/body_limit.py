"""A cap on request bodies, applied before anything reads them: past it, ``413`` problem+json.

Every body but a photo's is JSON or a form, and small: the largest, a report, stays under
100 kB even with every character escaped. Photos stream through their own route under its
own cap (``routes/media.py``). A declared ``Content-Length`` over the cap is refused before
a byte is read; a body without one is counted as it arrives and refused at the first chunk
past the cap, whoever reads it (the ``Idempotency-Key`` fingerprint, a route's parsing), so
no caller can make the gateway hold or hash more than the cap.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapfix_shared.problems import send_problem

# Routes that stream their body under a cap of their own.
STREAMED = re.compile(r"^/v1/media/[^/]+/upload$")


class BodyTooLarge(HTTPException):
    """Raised by the capped receive. An HTTPException, so that a route's body parsing lets it
    through to the problem handlers (FastAPI turns other errors there into a 400)."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"A request body may have at most {cap} bytes.")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Only the photo upload itself (a PUT) streams past the cap, under its own 15 MB one.
        if scope["type"] != "http" or (scope["method"] == "PUT" and STREAMED.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        cap = self.max_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > cap:
                await send_problem(scope, send, 413, "Content Too Large", str(BodyTooLarge(cap).detail))
                return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(cap)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, watched_send)
        except BodyTooLarge as exc:
            # Raised where a middleware read the body (the route's own reading answers through
            # the problem handlers instead).
            if started:
                raise
            await send_problem(scope, send, 413, "Content Too Large", exc.detail)
