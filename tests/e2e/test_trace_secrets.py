"""No span a process exports carries a secret a URL's query string held: the e-mailed tokens
reach the gateway (server span), travel on to notify (the gateway's client span, notify's
server span), and arrive at the collector masked everywhere (the real processes, real OTLP)."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

import httpx
import pytest

from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e


async def test_tokens_in_query_strings_reach_no_exported_span(system: System) -> None:
    secret = f"e2e-secret-{uuid4().hex}"
    async with httpx.AsyncClient(base_url=system.gateway, timeout=10) as client:
        for path in ("/v1/notifications/unsubscribe", "/v1/auth/verify-email", "/v1/auth/password-reset"):
            answered = await client.get(path, params={"token": secret})
            assert answered.status_code < 500, (path, answered.text)

    wanted = {
        ("snapfix-gateway", "GET /v1/notifications/unsubscribe"),
        ("snapfix-gateway", "GET /v1/auth/verify-email"),
        ("snapfix-notify", "GET /v1/notifications/unsubscribe"),
    }
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        spans = system.traces.snapshot()
        seen = {(s.service, s.name) for s in spans}
        if wanted <= seen:
            break
        await asyncio.sleep(0.3)
    else:
        pytest.fail(f"spans missing: {wanted - seen}")

    leaking = [
        (s.service, s.name, k) for s in spans for k, v in s.attributes.items() if secret in v or secret in s.name
    ]
    assert leaking == []
    urls = [v for s in spans for k, v in s.attributes.items() if k in {"http.url", "url.full"} and "token=" in v]
    assert any("token=REDACTED" in u for u in urls)
