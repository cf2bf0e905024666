"""Tokens and sessions at the gateway against the real stack: logout, refresh rotation and its reuse
grace, RFC 8725 checks, and revocations from the feed (one Redis call a request, Redis asked
when the feed is lost).
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any
from unittest.mock import AsyncMock
from uuid import uuid4

import httpx
import jwt
import orjson
import pytest
from fastapi import FastAPI

from snapfix_gateway.config import DEV_JWT_SECRET
from snapfix_gateway.idempotency import store_key
from snapfix_gateway.identity.tokens import TokenCodec
from tests.integration.gateway_app import (
    bearer,
    gateway_settings,
    new_email,
    register,
    registered,
    running_app,
    sign_in,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration


async def test_logout_revokes_the_access_token_at_once(gw: httpx.AsyncClient) -> None:
    email = new_email()
    await register(gw, email)
    tokens = await sign_in(gw, email)
    assert (await gw.get("/v1/me", headers=bearer(tokens))).status_code == 200
    assert (await gw.post("/v1/auth/logout", headers=bearer(tokens))).status_code == 204
    after = await gw.get("/v1/me", headers=bearer(tokens))
    assert after.status_code == 401
    assert after.headers["www-authenticate"].startswith("Bearer")
    refresh = await gw.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 400


async def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_family(gw: httpx.AsyncClient) -> None:
    email = new_email()
    await register(gw, email)
    first = await sign_in(gw, email)
    second = (
        await gw.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await gw.get("/v1/me", headers=bearer(second))).status_code == 200
    third = (
        await gw.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    ).json()
    assert (await gw.get("/v1/me", headers=bearer(third))).status_code == 200

    # The first token, two rotations back (the reuse grace covers only the one just rotated away from).
    replay = await gw.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert replay.status_code == 400
    assert "revoked" in replay.json()["detail"]
    # The whole family is gone: the latest refresh token and every access token of the session.
    latest = await gw.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": third["refresh_token"]}
    )
    assert latest.status_code == 400
    assert (await gw.get("/v1/me", headers=bearer(third))).status_code == 401
    # Another sign-in of the same user is a separate session and unaffected.
    assert (await gw.get("/v1/me", headers=bearer(await sign_in(gw, email)))).status_code == 200


async def test_a_refresh_whose_answer_was_lost_can_be_retried_within_the_grace(gw: httpx.AsyncClient) -> None:
    email = new_email()
    await register(gw, email)
    first = await sign_in(gw, email)
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    lost = (await gw.post("/v1/auth/token", data=form)).json()  # rotated, but the client never read it
    retried = await gw.post("/v1/auth/token", data=form)
    assert retried.status_code == 200, retried.text
    again = await gw.post("/v1/auth/token", data=form)  # the retry's answer lost too: still honoured
    assert again.status_code == 200, again.text
    latest = again.json()
    assert len({lost["refresh_token"], retried.json()["refresh_token"], latest["refresh_token"]}) == 3
    assert (await gw.get("/v1/me", headers=bearer(latest))).status_code == 200
    # Whoever did receive a successor the retry replaced is a replay: the session ends.
    replay = await gw.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": lost["refresh_token"]}
    )
    assert replay.status_code == 400
    assert "revoked" in replay.json()["detail"]
    assert (await gw.get("/v1/me", headers=bearer(latest))).status_code == 401


def _forged(claims: dict[str, Any], *, key: str = DEV_JWT_SECRET, alg: str = "HS256", typ: str = "at+jwt") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"typ": typ})


async def test_tokens_are_checked_per_rfc_8725(gw: httpx.AsyncClient) -> None:
    email = new_email()
    user = await registered(gw, email)
    tokens = await sign_in(gw, email)
    good = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    now = int(time.time())
    bad_tokens = {
        "wrong key": _forged(good, key="another-secret-another-secret-another-secret"),
        "wrong audience": _forged(good | {"aud": "someone-else"}),
        "wrong issuer": _forged(good | {"iss": "https://evil.example"}),
        "expired": _forged(good | {"iat": now - 7200, "exp": now - 3600}),
        "no expiry": _forged({k: v for k, v in good.items() if k != "exp"}),
        "not an access token": _forged(good, typ="JWT"),
        "alg none": jwt.encode(good, None, algorithm="none", headers={"typ": "at+jwt"}),
        "no role": _forged({k: v for k, v in good.items() if k != "role"}),
    }
    # A token signed with the real key is trusted on its claims (its session is refused only
    # once revoked): forging another session or user takes the key itself.
    for name, token in bad_tokens.items():
        response = await gw.get("/v1/me", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
    assert good["sub"] == user["id"]
    assert (await gw.get("/v1/me", headers=bearer(tokens))).status_code == 200


def test_a_forged_token_cannot_pick_its_algorithm() -> None:
    codec = TokenCodec(DEV_JWT_SECRET, issuer="i", audience="a", ttl_s=60)
    token = codec.issue("u", "s")
    assert codec.verify(token).user_id == "u"
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["typ"]) == ("HS256", "at+jwt")


async def _redis_calls(redis: Any) -> dict[str, int]:
    """Calls Redis carried out, by command. A refused one is not counted: the first EVALSHA of a
    script Redis has not loaded yet is refused (NOSCRIPT), and redis-py loads it and calls again."""
    stats = await redis.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(value["calls"]) - int(value.get("failed_calls", 0))
        for name, value in stats.items()
    }


async def test_a_signed_in_request_makes_no_redis_call_of_its_own(stack: Stack) -> None:
    """No session lookup: the token is verified here and revocations come from the feed; the
    rate limit is counted in the process and added to Redis's count by a pipeline every
    ``rate_limit_settle_ms``, not per request (a POST with an Idempotency-Key makes one call)."""
    async for app, gw in running_app(gateway_settings(stack)):
        tokens, user_id = await _signed_in(app, gw)
        redis = app.state.runtime.redis
        counter = f"gw:rl:{{u:{user_id}}}:user:100/60"
        before, started = await _redis_calls(redis), time.monotonic()
        answers = [await gw.get("/v1/me", headers=bearer(tokens)) for _ in range(20)]
        served = await _redis_calls(redis)
        assert {a.status_code for a in answers} == {200}
        delta = {name: served.get(name, 0) - before.get(name, 0) for name in served}
        assert delta.get("evalsha", 0) + delta.get("eval", 0) == 0
        assert delta.get("hmget", 0) == delta.get("get", 0) == delta.get("exists", 0) == 0

        await asyncio.sleep(3 * app.state.settings.rate_limit_settle_ms / 1000)  # the last counts settle
        settles = (time.monotonic() - started) / app.state.settings.rate_limit_settle_ms * 1000 + 1
        after = await _redis_calls(redis)
        assert int(await redis.get(counter) or 0) == 20  # every request counted, in Redis too
        incrby = after.get("incrby", 0) - before.get("incrby", 0)
        assert 1 <= incrby <= settles  # one per settle that had counts, not one per request


async def _signed_in(app: FastAPI, gw: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    """A new citizen's tokens and user id, once the gateway follows the revocation feed."""
    email = new_email()
    await register(gw, email)
    tokens = await sign_in(gw, email)
    await _until_fresh(app)
    return tokens, jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]


async def _until_fresh(app: FastAPI, fresh: bool = True, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while app.state.revocations.fresh is not fresh:
        assert time.monotonic() < deadline, f"the revocation feed did not become {'fresh' if fresh else 'stale'}"
        await asyncio.sleep(0.05)


async def test_a_lost_revocation_feed_makes_requests_ask_redis(stack: Stack) -> None:
    async for app, gw in running_app(gateway_settings(stack)):
        email = new_email()
        await register(gw, email)
        tokens = await sign_in(gw, email)
        await _until_fresh(app)
        assert (await gw.get("/v1/me", headers=bearer(tokens))).status_code == 200

        await app.state.revocations.stop()  # the feed is lost (as if its connection hung)
        await _until_fresh(app, fresh=False)
        still = await gw.get("/v1/me", headers=bearer(tokens))
        assert still.status_code == 200  # the session exists: Redis says so
        # A revocation the feed never delivers (the session deleted behind this process's back).
        session_id = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
        assert await app.state.runtime.redis.delete(f"gw:sess:{{{session_id}}}") == 1
        refused = await gw.get("/v1/me", headers=bearer(tokens))
        assert refused.status_code == 401
        metrics = (await gw.get("/metrics")).text
        checked = next(
            line for line in metrics.splitlines() if line.startswith("snapfix_gateway_sessions_checked_total")
        )
        assert float(checked.split()[-1]) >= 2


async def test_a_request_with_an_idempotency_key_makes_one_redis_call_and_its_answer_is_kept(stack: Stack) -> None:
    """The key's claim is the request's one round trip (with its rate limit); the answers are
    written together every ``rate_limit_settle_ms`` (a SET pipeline per interval, not per request)."""
    async for app, gw in running_app(gateway_settings(stack)):
        tokens, user_id = await _signed_in(app, gw)
        redis = app.state.runtime.redis
        keys = [f"k-{uuid4()}" for _ in range(20)]
        # Each pipeline that writes answers (one round trip), spied on: the real write still runs.
        writes = app.state.idempotency._write = AsyncMock(wraps=app.state.idempotency._write)
        before, started = await _redis_calls(redis), time.monotonic()
        # Refused by validation (no other service needed): a 4xx is an answer, and is kept.
        answers = [
            await gw.post("/v1/issues", json={"title": "?"}, headers={**bearer(tokens), "idempotency-key": key})
            for key in keys
        ]
        served = await _redis_calls(redis)
        assert {a.status_code for a in answers} == {422}
        delta = {name: served.get(name, 0) - before.get(name, 0) for name in served}
        assert delta.get("evalsha", 0) + delta.get("eval", 0) == 20  # one claim per request

        await asyncio.sleep(3 * app.state.settings.rate_limit_settle_ms / 1000)  # the last answers are written
        settles = (time.monotonic() - started) / app.state.settings.rate_limit_settle_ms * 1000 + 1
        after = await _redis_calls(redis)
        # Commands run by the claim's script count too: 20 claims (SET NX) and 20 answers.
        assert after.get("set", 0) - before.get("set", 0) == 40
        written = [len(call.args[0]) for call in writes.await_args_list]
        assert sum(written) == 20
        assert 1 <= len(written) <= settles  # one pipeline per interval that had answers, not one per request
        for key, answer in zip(keys, answers, strict=True):
            kept = orjson.loads(await redis.get(store_key(f"u:{user_id}", key)))
            assert (kept["state"], kept["status"]) == ("done", 422)
            assert base64.b64decode(kept["body"]) == answer.content


async def test_a_retry_before_its_answer_is_written_is_answered_from_the_process(stack: Stack) -> None:
    """Until the interval writes it, Redis holds the key's claim (another replica answers 409,
    retry later) and this process answers a retry from the answer it keeps."""
    settings = gateway_settings(stack).model_copy(update={"rate_limit_settle_ms": 60_000})
    async for app, gw in running_app(settings):
        tokens, user_id = await _signed_in(app, gw)
        redis = app.state.runtime.redis
        key, body = f"k-{uuid4()}", {"title": "?"}
        headers = {**bearer(tokens), "idempotency-key": key}
        first = await gw.post("/v1/issues", json=body, headers=headers)
        again = await gw.post("/v1/issues", json=body, headers=headers)
        assert first.status_code == again.status_code == 422
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
        stored = store_key(f"u:{user_id}", key)
        assert orjson.loads(await redis.get(stored))["state"] == "pending"
        other = await gw.post("/v1/issues", json={"title": "!"}, headers=headers)
        assert other.status_code == 422
        assert "different request" in other.json()["detail"]

        await app.state.idempotency.write_kept()
        kept = orjson.loads(await redis.get(stored))
        assert (kept["state"], kept["status"]) == ("done", 422)
        assert base64.b64decode(kept["body"]) == first.content
        assert 23 * 3600 < await redis.ttl(stored) <= 24 * 3600
