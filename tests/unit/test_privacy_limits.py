"""The privacy routes' own limits: deleting one's account checks a password, so it counts against the
per-IP credential budget; the export reads from every service, so each user has a budget of their own
(``rate_limit_export``) on top of the user's."""

from __future__ import annotations

import httpx
import pytest
from uuid_utils.compat import uuid7

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings

pytestmark = pytest.mark.unit


def _settings(**limits: str) -> GatewaySettings:
    # Nothing listens on port 1: limits are counted in memory, by the same keys as in Redis.
    return GatewaySettings(
        redis_url="redis://127.0.0.1:1/0",
        redis_timeout_s=0.2,
        mongo_url="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200",
        live_updates=False,
        rate_limit_anonymous="1000/minute",
        rate_limit_user="1000/minute",
        **limits,
    )


async def test_deleting_the_account_counts_against_the_credential_budget() -> None:
    app = create_app(_settings(rate_limit_token="2/minute"))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        answers = [(await http.request("DELETE", "/v1/me", json={"password": "x"})).status_code for _ in range(3)]
    assert 429 not in answers[:2], answers
    assert answers[2] == 429, answers


async def test_the_export_has_a_budget_per_user() -> None:
    app = create_app(_settings(rate_limit_export="2/hour"))
    tokens = app.state.tokens
    first, second = (tokens.issue(str(uuid7()), str(uuid7()), role="citizen") for _ in range(2))
    # No store behind it: past the limits, the route itself fails (500 here); only the 429s matter.
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 40000), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:

        async def export(token: str) -> httpx.Response:
            return await http.get("/v1/me/export", headers={"authorization": f"Bearer {token}"})

        answers = [(await export(first)).status_code for _ in range(3)]
        refused = await export(first)
        other = await export(second)  # another user's budget is their own
    assert 429 not in answers[:2], answers
    assert answers[2] == 429, answers
    assert refused.status_code == 429
    assert refused.headers["ratelimit-policy"] == '"export";q=2;w=3600'
    assert int(refused.headers["retry-after"]) > 60
    assert other.status_code != 429
