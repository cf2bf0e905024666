"""Idempotency keys and rate limits at the gateway against the real stack (Redis)."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import httpx
import pytest

from tests.integration.gateway_app import (
    PASSWORD,
    bearer,
    gateway_settings,
    new_email,
    register,
    running,
    sign_in,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration


async def test_an_idempotency_key_replays_the_first_answer(gw: httpx.AsyncClient) -> None:
    key = f"retry-{uuid4()}"
    body = {"email": new_email(), "password": PASSWORD, "display_name": "Ada"}
    first = await gw.post("/v1/auth/register", json=body, headers={"idempotency-key": key})
    again = await gw.post("/v1/auth/register", json=body, headers={"idempotency-key": key})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # Without the key, the same body is a second attempt, answered (not replayed) like the first.
    plain = await gw.post("/v1/auth/register", json=body)
    assert plain.status_code == 202
    assert "idempotent-replayed" not in plain.headers

    other = await gw.post("/v1/auth/register", json=body | {"display_name": "Eve"}, headers={"idempotency-key": key})
    assert other.status_code == 422
    assert "different request" in other.json()["detail"]


async def test_answers_of_concurrent_requests_are_all_kept_for_replay(gw: httpx.AsyncClient) -> None:
    """Answers written together (one pipeline for the requests finishing meanwhile) are each replayed."""
    bodies = [{"email": new_email(), "password": PASSWORD, "display_name": f"Ada {i}"} for i in range(12)]
    keys = [{"idempotency-key": f"together-{uuid4()}"} for _ in bodies]

    async def twice(body: dict[str, str], key: dict[str, str]) -> tuple[httpx.Response, httpx.Response]:
        first = await gw.post("/v1/auth/register", json=body, headers=key)
        return first, await gw.post("/v1/auth/register", json=body, headers=key)

    for first, again in await asyncio.gather(*(twice(b, k) for b, k in zip(bodies, keys, strict=True))):
        assert first.status_code == again.status_code == 202, first.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()


async def test_the_101st_request_in_a_minute_is_refused(gw: httpx.AsyncClient) -> None:
    email = new_email()
    await register(gw, email)
    tokens = await sign_in(gw, email)
    answers = [await gw.get("/v1/me", headers=bearer(tokens)) for _ in range(100)]
    assert {a.status_code for a in answers} == {200}
    assert answers[0].headers["ratelimit-policy"] == '"user";q=100;w=60'
    assert answers[-1].headers["ratelimit"].startswith('"user";r=0;')

    refused = await gw.get("/v1/me", headers=bearer(tokens))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # The limit is per user: someone else is not affected.
    other = new_email()
    await register(gw, other)
    assert (await gw.get("/v1/me", headers=bearer(await sign_in(gw, other)))).status_code == 200


async def test_tokens_are_never_kept_for_idempotent_replay(gw: httpx.AsyncClient) -> None:
    email = new_email()
    await register(gw, email)
    form = {"grant_type": "password", "username": email, "password": PASSWORD}
    key = {"idempotency-key": f"token-{uuid4()}"}
    first, again = [await gw.post("/v1/auth/token", data=form, headers=key) for _ in range(2)]
    assert first.status_code == again.status_code == 200
    assert "idempotent-replayed" not in again.headers
    assert first.json()["refresh_token"] != again.json()["refresh_token"]  # two sign-ins, nothing stored


# Runs after the tests that use the module's gateway: Beanie binds documents to the
# database of the app started last, and this one starts (and closes) its own.
async def test_limits_reset_after_their_window_and_guard_the_token_endpoint(stack: Stack) -> None:
    # Windows long enough that a slow machine still makes its requests inside one; the test
    # then waits as long as the 429's Retry-After says, not a guessed time.
    settings = gateway_settings(stack, rate_limit_user="3/10 seconds", rate_limit_token="4/10 seconds")
    async for gw in running(settings):
        email = new_email()
        await register(gw, email)
        # Attempts at the token endpoint are limited per client address, signed in or not.
        attempts = [
            await gw.post(
                "/v1/auth/token", data={"grant_type": "password", "username": email, "password": "nope-nope-1"}
            )
            for _ in range(4)
        ]
        assert attempts[-1].status_code == 429
        await asyncio.sleep(int(attempts[-1].headers["retry-after"]) + 0.5)
        tokens = await sign_in(gw, email)
        answers = [await gw.get("/v1/me", headers=bearer(tokens)) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        # A refused request does not claim its Idempotency-Key (one script counts and claims).
        key = {"idempotency-key": f"refused-{uuid4()}"}
        assert (await gw.post("/v1/auth/logout", headers=bearer(tokens) | key)).status_code == 429
        await asyncio.sleep(int(answers[-1].headers["retry-after"]) + 0.5)
        assert (await gw.get("/v1/me", headers=bearer(tokens))).status_code == 200
        assert (await gw.post("/v1/auth/logout", headers=bearer(tokens) | key)).status_code == 204
