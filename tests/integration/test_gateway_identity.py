"""Accounts, sessions, rate limits and idempotency keys at the gateway, against the real stack."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import jwt
import orjson
import pytest
from fastapi import FastAPI

from snapfix_gateway.app import create_app
from snapfix_gateway.config import DEV_JWT_SECRET, GatewaySettings
from snapfix_gateway.identity.tokens import TokenCodec
from snapfix_shared.topics import Topic
from tests.stack import Stack, read_topic

pytestmark = pytest.mark.integration

PASSWORD = "violet-harbour-71-lantern"
ADMIN = ("admin@city.example", "amber-walrus-93-fjord")


def gateway_settings(stack: Stack, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": stack.kafka,
        "mongo_url": stack.mongo_url,
        "redis_url": stack.redis_url,
        "bootstrap_admin_email": ADMIN[0],
        "bootstrap_admin_password": ADMIN[1],
        # Generous per-IP limits here: every request of this module comes from one address.
        "rate_limit_anonymous": "10000/minute",
        "rate_limit_token": "10000/minute",
        "live_updates": False,  # no issues service runs here to ask for audiences
        **overrides,
    }
    return GatewaySettings(**values)


async def running(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    async for _, http in running_app(settings):
        yield http


async def running_app(settings: GatewaySettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield app, http


@pytest.fixture(scope="module")
async def gw(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async for http in running(gateway_settings(stack)):
        yield http


def new_email() -> str:
    return f"user-{uuid4().hex[:10]}@example.org"


async def register(gw: httpx.AsyncClient, email: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"email": email or new_email(), "password": PASSWORD, "display_name": "Ada", **extra}
    response = await gw.post("/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def sign_in(gw: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await gw.post("/v1/auth/token", data={"grant_type": "password", "username": email, "password": password})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()  # type: ignore[no-any-return]


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens['access_token']}"}


async def test_register_sign_in_and_read_me(gw: httpx.AsyncClient) -> None:
    tag = uuid4().hex[:8]
    user = await register(gw, f"  Grace.Hopper.{tag}@Example.ORG ")
    email = f"grace.hopper.{tag}@example.org"
    assert (user["email"], user["role"], user["email_verified"]) == (email, "citizen", False)
    tokens = await sign_in(gw, email)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    me = await gw.get("/v1/me", headers=bearer(tokens))
    assert me.status_code == 200
    assert me.json() == user


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address", "password": PASSWORD, "display_name": "A"}, "email"),
        ({"email": "x@example.org", "password": "password123", "display_name": "A"}, "password"),
        ({"email": "x@example.org", "password": "short", "display_name": "A"}, "password"),
        ({"email": "x@example.org", "password": PASSWORD}, "display_name"),
    ],
)
async def test_invalid_registrations_name_the_field(gw: httpx.AsyncClient, body: dict[str, str], field: str) -> None:
    response = await gw.post("/v1/auth/register", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_an_email_registers_once(gw: httpx.AsyncClient) -> None:
    email = new_email()
    await register(gw, email)
    again = await gw.post("/v1/auth/register", json={"email": email.upper(), "password": PASSWORD, "display_name": "B"})
    assert again.status_code == 409


async def test_wrong_password_and_unknown_user_get_the_same_answer(gw: httpx.AsyncClient) -> None:
    email = new_email()
    await register(gw, email)
    answers = [
        await gw.post("/v1/auth/token", data={"grant_type": "password", "username": u, "password": "wrong-password-1"})
        for u in (email, new_email())
    ]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json()["detail"] == answers[1].json()["detail"]
    assert answers[0].json()["error"] == "invalid_grant"


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

    replay = await gw.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert replay.status_code == 400
    assert "revoked" in replay.json()["detail"]
    # The whole family is gone: the latest refresh token and every access token of the session.
    latest = await gw.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    assert latest.status_code == 400
    assert (await gw.get("/v1/me", headers=bearer(second))).status_code == 401
    # Another sign-in of the same user is a separate session and unaffected.
    assert (await gw.get("/v1/me", headers=bearer(await sign_in(gw, email)))).status_code == 200


def _forged(claims: dict[str, Any], *, key: str = DEV_JWT_SECRET, alg: str = "HS256", typ: str = "at+jwt") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"typ": typ})


async def test_tokens_are_checked_per_rfc_8725(gw: httpx.AsyncClient) -> None:
    email = new_email()
    user = await register(gw, email)
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


async def test_only_admins_create_staff(gw: httpx.AsyncClient, stack: Stack) -> None:
    citizen_email = new_email()
    await register(gw, citizen_email)
    citizen = await sign_in(gw, citizen_email)
    admin = await sign_in(gw, *ADMIN)
    staff_body = {"email": new_email(), "password": PASSWORD, "display_name": "Road crew", "departments": ["roads"]}

    assert (await gw.post("/v1/admin/users", json=staff_body, headers=bearer(citizen))).status_code == 403
    assert (await gw.post("/v1/admin/users", json=staff_body)).status_code == 401
    no_department = await gw.post("/v1/admin/users", json=staff_body | {"departments": []}, headers=bearer(admin))
    assert no_department.status_code == 422

    created = await gw.post("/v1/admin/users", json=staff_body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    staff = created.json()
    assert (staff["role"], staff["departments"]) == ("staff", ["roads"])
    me = await gw.get("/v1/me", headers=bearer(await sign_in(gw, staff_body["email"])))
    assert me.json()["role"] == "staff"

    # Other services learn about the account from users.events.v1, without secrets.
    records = await read_topic(stack.kafka, Topic.USERS_EVENTS, lambda r: r.key == staff["id"].encode())
    event = orjson.loads(records[0].value)
    assert (event["type"], event["role"], event["departments"]) == ("UserRegistered", "staff", ["roads"])
    assert event["actor_id"] != staff["id"]  # the admin who created it
    assert "password" not in records[0].value.decode().lower()


async def test_email_verification_link(gw: httpx.AsyncClient, stack: Stack) -> None:
    email = new_email()
    user = await register(gw, email)
    records = await read_topic(
        stack.kafka,
        Topic.USERS_EVENTS,
        lambda r: r.key == user["id"].encode() and b"EmailVerificationRequested" in r.value,
    )
    link = httpx.URL(orjson.loads(records[0].value)["verify_url"])
    assert (await gw.get(link.path, params=link.params)).status_code == 200
    me = await gw.get("/v1/me", headers=bearer(await sign_in(gw, email)))
    assert me.json()["email_verified"] is True
    assert (await gw.get(link.path, params=link.params)).status_code == 404  # used up


async def test_an_idempotency_key_replays_the_first_answer(gw: httpx.AsyncClient) -> None:
    key = f"retry-{uuid4()}"
    body = {"email": new_email(), "password": PASSWORD, "display_name": "Ada"}
    first = await gw.post("/v1/auth/register", json=body, headers={"idempotency-key": key})
    again = await gw.post("/v1/auth/register", json=body, headers={"idempotency-key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    # Without the key, the same body is a second attempt, refused because the first one took effect once.
    assert (await gw.post("/v1/auth/register", json=body)).status_code == 409

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
        assert first.status_code == again.status_code == 201, first.text
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


def test_the_openapi_document_offers_the_password_flow(stack: Stack) -> None:
    app = create_app(gateway_settings(stack))
    schemes = app.openapi()["components"]["securitySchemes"]
    flow = next(iter(schemes.values()))["flows"]["password"]
    assert flow["tokenUrl"] == "/v1/auth/token"


def test_a_forged_token_cannot_pick_its_algorithm() -> None:
    codec = TokenCodec(DEV_JWT_SECRET, issuer="i", audience="a", ttl_s=60)
    token = codec.issue("u", "s")
    assert codec.verify(token).user_id == "u"
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["typ"]) == ("HS256", "at+jwt")


async def _redis_calls(redis: Any) -> dict[str, int]:
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def test_a_signed_in_request_makes_one_redis_call(stack: Stack) -> None:
    """No session lookup: the token is verified here and revocations come from the feed; the
    rate limit is the one call (a script, with the idempotency claim for a POST with a key)."""
    async for app, gw in running_app(gateway_settings(stack)):
        email = new_email()
        await register(gw, email)
        tokens = await sign_in(gw, email)
        await _until_fresh(app)
        redis = app.state.runtime.redis
        before = await _redis_calls(redis)
        answers = [await gw.get("/v1/me", headers=bearer(tokens)) for _ in range(20)]
        after = await _redis_calls(redis)
        assert {a.status_code for a in answers} == {200}
        delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
        assert delta.get("evalsha", 0) + delta.get("eval", 0) == 20
        assert delta.get("hmget", 0) == delta.get("get", 0) == delta.get("exists", 0) == 0


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
