"""A real HTTP receiver on loopback for webhook tests, and a Standard Webhooks verifier written
from the specification (hmac + base64 here, independent of the library the service signs with).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.stack import free_port


def spec_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """``v1,`` + base64(HMAC-SHA256(base64-decoded secret, "{id}.{timestamp}.{body}")), per the spec."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verifies(secret: str, headers: dict[str, str], body: bytes, *, tolerance_s: int = 300) -> bool:
    """True when one of the ``webhook-signature`` entries is ours and the timestamp is recent."""
    msg_id, timestamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
    if not msg_id or not timestamp or abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    expected = spec_signature(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split(" "))


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    url: str
    answer: Callable[[Received], int]
    requests: list[Received] = field(default_factory=list)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@asynccontextmanager
async def receiver(answer: Callable[[Received], int] = lambda _r: 200, *, port: int = 0) -> AsyncIterator[Receiver]:
    """An aiohttp server on 127.0.0.1 (``port`` or a free one) that records every request and answers
    ``answer(request)``."""
    port = port or free_port()
    state = Receiver(f"http://127.0.0.1:{port}", answer)

    async def handle(request: web.Request) -> web.Response:
        received = Received(time.monotonic(), request.path, dict(request.headers), await request.read())
        received.headers = {k.lower(): v for k, v in received.headers.items()}
        state.requests.append(received)
        return web.Response(status=state.answer(received), text="ok")

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield state
    finally:
        await runner.cleanup()


def scripted(*statuses: int, then: int = 200) -> Callable[[Received], int]:
    """Answer ``statuses`` in order, then ``then`` for ever."""
    remaining = list(statuses)
    return lambda _r: remaining.pop(0) if remaining else then
