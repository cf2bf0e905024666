"""Every route that takes a credential or a one-time token from a form counts against the
per-IP credential budget, not only the anonymous one (60 a minute), so that guessing a reset
token or a password through any of them is throttled alike."""

from __future__ import annotations

import httpx
import pytest

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings

pytestmark = pytest.mark.unit

CREDENTIAL_ROUTES = (
    "/v1/auth/token",
    "/v1/auth/register",
    "/v1/auth/password-reset",
    "/v1/auth/password-reset/confirm",
    "/v1/auth/password-reset/form",
)


@pytest.mark.parametrize("path", CREDENTIAL_ROUTES)
async def test_the_credential_budget_covers_the_route(path: str) -> None:
    # Nothing listens on port 1: limits are counted in memory, by the same keys as in Redis.
    settings = GatewaySettings(
        redis_url="redis://127.0.0.1:1/0",
        redis_timeout_s=0.2,
        mongo_url="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200",
        live_updates=False,
        rate_limit_anonymous="1000/minute",
        rate_limit_token="2/minute",
    )
    transport = httpx.ASGITransport(app=create_app(settings), client=("203.0.113.5", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        answers = [(await http.post(path, data={"token": "x"})).status_code for _ in range(3)]
    assert 429 not in answers[:2], answers
    assert answers[2] == 429, answers
