"""Request bodies past the gateway's cap are refused (413 problem+json) without being read whole.

A counting ASGI ``receive`` stands in for the client: it says how many bytes the gateway
took before answering, whoever read them (the Idempotency-Key fingerprint or a route).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.deps import get_principal
from snapfix_gateway.identity.sessions import Principal
from tests.builders import http_scope

pytestmark = pytest.mark.unit

CAP = 64 * 1024
CHUNK = 16 * 1024
SIXTEEN_MB = 16 * 1024 * 1024


class Client:
    """Sends ``size`` bytes of body in ``CHUNK``-sized messages, counting what was taken."""

    def __init__(self, size: int, body: bytes = b"") -> None:
        self.size, self.body, self.taken = size, body, 0
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.answer = b""

    async def receive(self) -> dict[str, Any]:
        if self.taken >= self.size:
            return {"type": "http.disconnect"}
        start, self.taken = self.taken, min(self.size, self.taken + CHUNK)
        chunk = self.body[start : self.taken] if self.body else b"{" * (self.taken - start)
        return {"type": "http.request", "body": chunk, "more_body": self.taken < self.size}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            self.answer += message.get("body", b"")


def scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    return http_scope(
        method, path, [(k.lower().encode(), v.encode()) for k, v in headers.items()], client=("203.0.113.8", 50000)
    )


@pytest.fixture
def gateway() -> FastAPI:
    # Nothing listens on port 1: limits are counted in memory, keys go unenforced. No other I/O here.
    settings = GatewaySettings(
        redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.2, live_updates=False, max_body_bytes=CAP
    )
    app = create_app(settings)
    app.dependency_overrides[get_principal] = lambda: Principal(
        user_id="user-1", role="citizen", departments=(), session_id="s-1"
    )
    return app


async def call(app: FastAPI, client: Client, method: str, path: str, **headers: str) -> Client:
    await app(scope(method, path, {"content-type": "application/json", **headers}), client.receive, client.send)
    return client


def assert_too_large(client: Client) -> None:
    assert client.status == 413
    assert client.headers["content-type"] == "application/problem+json"
    problem = orjson.loads(client.answer)
    assert (problem["status"], problem["title"]) == (413, "Content Too Large")
    assert str(CAP) in problem["detail"]


ROUTES = [
    ("/v1/issues", "application/json"),
    ("/v1/auth/register", "application/json"),
    ("/open311/v2/requests.json", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(("path", "content_type"), ROUTES)
async def test_a_huge_body_with_an_idempotency_key_is_refused_before_it_is_read(
    gateway: FastAPI, path: str, content_type: str
) -> None:
    headers = {"idempotency-key": "k-1", "content-type": content_type}
    client = await call(gateway, Client(SIXTEEN_MB), "POST", path, **headers)
    assert_too_large(client)
    assert client.taken <= CAP + CHUNK


@pytest.mark.parametrize(("path", "content_type"), ROUTES)
async def test_a_huge_body_without_a_key_is_refused_before_it_is_read(
    gateway: FastAPI, path: str, content_type: str
) -> None:
    client = await call(gateway, Client(SIXTEEN_MB), "POST", path, **{"content-type": content_type})
    assert_too_large(client)
    assert client.taken <= CAP + CHUNK


async def test_a_declared_length_over_the_cap_is_refused_without_reading_a_byte(gateway: FastAPI) -> None:
    client = await call(gateway, Client(SIXTEEN_MB), "POST", "/v1/issues", **{"content-length": str(SIXTEEN_MB)})
    assert_too_large(client)
    assert client.taken == 0


async def test_a_body_within_the_cap_reaches_the_route(gateway: FastAPI) -> None:
    """Padded to just under the cap: validated (422 for the overlong title), not refused for its size."""
    report = {"title": "x" * (CAP - 200), "category": "pothole", "lat": 1.0, "lon": 2.0}
    body = orjson.dumps(report)
    assert CAP - CHUNK < len(body) <= CAP
    client = await call(gateway, Client(len(body), body), "POST", "/v1/issues", **{"idempotency-key": "k-2"})
    assert client.status == 422, client.answer
    assert client.taken == len(body)


async def test_the_photo_upload_streams_under_its_own_cap(gateway: FastAPI) -> None:
    """Not this cap: the route streams photos to the media service and caps them at 15 MB itself."""
    path = "/v1/media/0192f6a8-3c1e-7d2a-9b4e-5f6a7b8c9d0e/upload"
    client = Client(CAP * 4)
    headers = {"content-length": str(CAP * 4)}
    await gateway(
        scope("PUT", path, {"content-type": "application/octet-stream", **headers}), client.receive, client.send
    )
    assert client.status != 413


async def test_only_the_upload_put_is_exempt_from_the_cap(gateway: FastAPI) -> None:
    """A POST to the upload's path (with a key: the fingerprint reads bodies) is capped like any other."""
    path = "/v1/media/0192f6a8-3c1e-7d2a-9b4e-5f6a7b8c9d0e/upload"
    client = await call(gateway, Client(SIXTEEN_MB), "POST", path, **{"idempotency-key": "k-4"})
    assert_too_large(client)
    assert client.taken <= CAP + CHUNK


class LeavingClient(Client):
    """Sends part of its body, then disconnects."""

    async def receive(self) -> dict[str, Any]:
        if self.taken >= CHUNK:
            return {"type": "http.disconnect"}
        self.taken = CHUNK
        return {"type": "http.request", "body": b"{" * CHUNK, "more_body": True}


async def test_a_client_gone_mid_body_claims_no_key_and_gets_no_answer(gateway: FastAPI) -> None:
    """Its half body is never fingerprinted nor handed to the route (whose 422 the key would then keep)."""
    client = await call(gateway, LeavingClient(SIXTEEN_MB), "POST", "/v1/issues", **{"idempotency-key": "k-3"})
    assert client.status is None
    assert client.answer == b""
