"""Signed upload URLs: a malformed signature is refused (never a crash), and the gateway hands it on encoded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID, uuid4

import httpx
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.deps import get_media_http, get_principal
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.upstream import Answer
from snapfix_media.signing import UploadSigner

pytestmark = pytest.mark.unit

MEDIA_ID = UUID("0192f6a8-3c1e-7d2a-9b4e-5f6a7b8c9d0e")


@pytest.mark.parametrize(
    "signature", ["é" * 64, "\u0663" * 64, "ü", ""], ids=["latin", "arabic-digits", "short", "empty"]
)
def test_a_non_ascii_or_malformed_signature_does_not_verify(signature: str) -> None:
    signer = UploadSigner("upload-secret-0123456789abcdef0123456789")
    assert signer.verify(MEDIA_ID, "user-1", 2_000_000_000, signature) is False


def test_the_signature_issued_verifies_for_its_owner_only() -> None:
    signer = UploadSigner("upload-secret-0123456789abcdef0123456789")
    signature = signer.sign(MEDIA_ID, "user-1", 2_000_000_000)
    assert signer.verify(MEDIA_ID, "user-1", 2_000_000_000, signature)
    assert not signer.verify(MEDIA_ID, "user-2", 2_000_000_000, signature)
    assert not signer.verify(MEDIA_ID, "user-1", 2_000_000_001, signature)


class RecordingMedia:
    """The media service as the gateway's upload route sees it: records what it was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_stream(self, method: str, path: str, **kwargs: Any) -> Answer:
        body = b"".join([chunk async for chunk in kwargs.pop("body")])
        self.sent.append({"method": method, "path": path, "body": body, **kwargs})
        problem = b'{"type":"about:blank","title":"Forbidden","status":403}'
        return Answer(403, problem, CIMultiDictProxy(CIMultiDict({"content-type": "application/problem+json"})))


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[httpx.AsyncClient, RecordingMedia]]:
    # Nothing listens on port 1: rate limits fall back to memory; no other I/O is needed here.
    app = create_app(GatewaySettings(redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.2, live_updates=False))
    media = RecordingMedia()
    app.dependency_overrides[get_principal] = lambda: Principal(
        user_id="user-1", role="citizen", departments=(), session_id="s-1"
    )
    app.dependency_overrides[get_media_http] = lambda: media
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield http, media


async def test_the_gateway_passes_the_upload_signature_on_url_encoded(
    gateway: tuple[httpx.AsyncClient, RecordingMedia],
) -> None:
    http, media = gateway
    hostile = "ab&expires=1 é+%41#x"
    response = await http.put(
        f"/v1/media/{uuid4()}/upload", params={"expires": "2000000000", "signature": hostile}, content=b"photo"
    )
    assert response.status_code == 403
    (sent,) = media.sent
    # Exactly two parameters, each as the client sent it: nothing injected, nothing lost.
    assert parse_qsl(sent["params"], strict_parsing=True) == [("expires", "2000000000"), ("signature", hostile)]
    assert sent["body"] == b"photo"
