"""Accounts, sessions, rate limits and idempotency keys at the gateway, against the real stack."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import jwt
import orjson
import pytest
from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError

from snapfix_gateway.app import create_app
from snapfix_gateway.config import DEV_JWT_SECRET, GatewaySettings
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.sessions import Sessions
from snapfix_gateway.identity.tokens import TokenCodec
from snapfix_shared.messages import EmailVerificationRequested
from snapfix_shared.sealing import DEV_LINK_SEAL_KEY, LinkSeal
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
    """Register; the answer never says whether the address was new (finding 10), so it is the generic one."""
    body = {"email": email or new_email(), "password": PASSWORD, "display_name": "Ada", **extra}
    response = await gw.post("/v1/auth/register", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "accepted"
    return response.json()  # type: ignore[no-any-return]


async def registered(gw: httpx.AsyncClient, email: str) -> dict[str, Any]:
    """Register, sign in and read /v1/me: the account as its owner sees it."""
    await register(gw, email)
    me = await gw.get("/v1/me", headers=bearer(await sign_in(gw, email)))
    assert me.status_code == 200, me.text
    return me.json()  # type: ignore[no-any-return]


async def sign_in(gw: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await gw.post("/v1/auth/token", data={"grant_type": "password", "username": email, "password": password})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()  # type: ignore[no-any-return]


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens['access_token']}"}


async def test_register_sign_in_and_read_me(gw: httpx.AsyncClient) -> None:
    tag = uuid4().hex[:8]
    await register(gw, f"  Grace.Hopper.{tag}@Example.ORG ")
    email = f"grace.hopper.{tag}@example.org"
    tokens = await sign_in(gw, email)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    me = await gw.get("/v1/me", headers=bearer(tokens))
    assert me.status_code == 200
    user = me.json()
    assert (user["email"], user["role"], user["email_verified"]) == (email, "citizen", False)


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


async def _sealed_link(stack: Stack, user_id: str, event_type: bytes, field: str) -> httpx.URL:
    """The link of the user's latest event of that type: sealed on the topic, never in clear (finding 8)."""
    records = await read_topic(
        stack.kafka, Topic.USERS_EVENTS, lambda r: r.key == user_id.encode() and event_type in (r.value or b"")
    )
    raw = records[-1].value or b""
    assert b"token=" not in raw
    assert b"/v1/auth/" not in raw
    link = httpx.URL(LinkSeal(DEV_LINK_SEAL_KEY).unseal(orjson.loads(raw)[field]))
    assert len(link.params["token"]) >= 40
    return link


async def test_email_verification_link(gw: httpx.AsyncClient, stack: Stack) -> None:
    email = new_email()
    user = await registered(gw, email)
    link = await _sealed_link(stack, user["id"], b"EmailVerificationRequested", "verify_url_sealed")
    assert link.path == "/v1/auth/verify-email"
    verified = await gw.get(link.path, params=link.params)  # an API client: JSON
    assert verified.status_code == 200
    assert verified.json() == {"status": "verified"}
    me = await gw.get("/v1/me", headers=bearer(await sign_in(gw, email)))
    assert me.json()["email_verified"] is True
    assert (await gw.get(link.path, params=link.params)).status_code == 404  # used up


BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_a_browser_following_the_verification_link_gets_a_page(gw: httpx.AsyncClient, stack: Stack) -> None:
    user = await registered(gw, new_email())
    link = await _sealed_link(stack, user["id"], b"EmailVerificationRequested", "verify_url_sealed")
    page = await gw.get(link.path, params=link.params, headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Your address is confirmed" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    again = await gw.get(link.path, params=link.params, headers=BROWSER)
    assert again.status_code == 404
    assert "does not work" in again.text


async def test_the_emailed_reset_link_opens_a_form_that_sets_the_password(gw: httpx.AsyncClient, stack: Stack) -> None:
    """Finding 8: the link in the e-mail is a GET; it used to answer 405."""
    email = new_email()
    user = await registered(gw, email)
    before = await sign_in(gw, email)
    assert (await gw.post("/v1/auth/password-reset", json={"email": email})).status_code == 202
    link = await _sealed_link(stack, user["id"], b"PasswordResetRequested", "reset_url_sealed")
    assert link.path == "/v1/auth/password-reset"

    page = await gw.get(link.path, params=link.params, headers=BROWSER)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "form-action 'self'" in page.headers["content-security-policy"]
    form = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert form is not None
    action = httpx.URL(str(page.url)).join(form.group(1))
    assert action.path == "/v1/auth/password-reset/form"
    assert f'name="token" value="{link.params["token"]}"' in page.text

    weak = await gw.post(action, data={"token": link.params["token"], "new_password": "password12"})
    assert weak.status_code == 422
    assert "too weak" in weak.text
    assert 'name="new_password"' in weak.text  # the form again, the token still usable
    again = re.search(r'<form method="post" action="([^"]+)"', weak.text)
    assert again is not None  # and it still posts to the form's route from the page it is shown on
    assert httpx.URL(str(weak.url)).join(again.group(1)).path == "/v1/auth/password-reset/form"
    done = await gw.post(action, data={"token": link.params["token"], "new_password": "amber-falcon-38-meadow"})
    assert done.status_code == 200, done.text
    assert "Your password is changed" in done.text
    await sign_in(gw, email, "amber-falcon-38-meadow")
    assert (await gw.get("/v1/me", headers=bearer(before))).status_code == 401  # every session ended
    used = await gw.post(action, data={"token": link.params["token"], "new_password": "amber-falcon-38-meadow"})
    assert used.status_code == 400
    assert "does not work" in used.text


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


# Each starts an app of its own: after the tests of the module's gateway (see above).
async def test_registration_does_not_tell_whether_an_address_has_an_account(stack: Stack) -> None:
    """Finding 10 (OWASP, account enumeration): a taken address gets the answer a new one gets,
    after the same work (a password hash); nothing changes, and only the owner is told, by e-mail,
    once an hour however often someone tries."""
    hashes: list[str] = []
    async for app, gw in running_app(gateway_settings(stack)):
        passwords = app.state.accounts.passwords
        real_hash = passwords.hash

        async def counted(password: str, real_hash: Any = real_hash) -> str:
            hashes.append(password)
            return await real_hash(password)  # type: ignore[no-any-return]

        passwords.hash = counted
        email = new_email()
        fresh = await gw.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "A"})
        owner = await gw.get("/v1/me", headers=bearer(await sign_in(gw, email)))
        other_password = "another-" + PASSWORD
        hashes.clear()
        taken = [
            await gw.post(
                "/v1/auth/register", json={"email": email.upper(), "password": other_password, "display_name": "B"}
            )
            for _ in range(2)
        ]
        assert [a.status_code for a in [fresh, *taken]] == [202, 202, 202]
        assert taken[0].json() == taken[1].json() == fresh.json()
        assert {k for k in fresh.headers if k.lower() not in {"date", "x-request-id", "content-length"}} == {
            k for k in taken[0].headers if k.lower() not in {"date", "x-request-id", "content-length"}
        }
        assert hashes == [other_password, other_password]  # hashed as if it were new
        # Nothing changed: the owner's password still works, the other one does not.
        await sign_in(gw, email)
        refused = await gw.post(
            "/v1/auth/token", data={"grant_type": "password", "username": email, "password": other_password}
        )
        assert refused.status_code == 400
        # The owner is told, once for both attempts, with no secret in the event.
        key = owner.json()["id"].encode()
        await read_topic(
            stack.kafka, Topic.USERS_EVENTS, lambda r, key=key: r.key == key and b"RegistrationAttempted" in r.value
        )
        await asyncio.sleep(0.5)  # a second notice would have been published by now
        records = await read_topic(stack.kafka, Topic.USERS_EVENTS, lambda r, key=key: r.key == key)
        notices = [orjson.loads(r.value) for r in records if b"RegistrationAttempted" in (r.value or b"")]
        # One notice: one event, though it may be published more than once (at least once: the request's own
        # flush and the periodic outbox relay can both read the account while its outbox is still pending).
        # notify's delivery is keyed by the event's message_id, so a copy sends no second e-mail.
        assert len({notice["message_id"] for notice in notices}) == 1, notices
        assert (notices[0]["email"], notices[0]["user_id"]) == (email, owner.json()["id"])
        assert "password" not in (records[-1].value or b"").decode().lower()


async def test_with_a_web_app_the_emailed_links_lead_there(stack: Stack) -> None:
    settings = gateway_settings(stack, web_base_url="https://app.city.example/")
    async for gw in running(settings):
        for path, route in (("/v1/auth/password-reset", "password-reset"), ("/v1/auth/verify-email", "verify-email")):
            answer = await gw.get(path, params={"token": "a-token-of-the-link-0123"}, headers=BROWSER)
            assert answer.status_code == 303, (path, answer.text)
            assert answer.headers["location"] == f"https://app.city.example/{route}?token=a-token-of-the-link-0123"
        # The web app itself asks with JSON: answered, not sent round again.
        api = await gw.get("/v1/auth/verify-email", params={"token": "a-token-of-the-link-0123"})
        assert api.status_code == 404
        assert api.headers["content-type"] == "application/problem+json"


async def test_an_outbox_entry_from_before_sealing_is_sealed_on_its_way_out(stack: Stack) -> None:
    """An outbox entry written by a release that sent links in clear (Kafka was down then) goes out sealed."""
    async for app, gw in running_app(gateway_settings(stack)):
        email = new_email()
        account_id = (await registered(gw, email))["id"]
        clear = "http://127.0.0.1:8000/v1/auth/verify-email?token=legacy-token-0123456789"
        legacy = EmailVerificationRequested(
            correlation_id="legacy",
            actor_id=account_id,
            user_id=UUID(account_id),
            email=email,
            display_name="Ada",
            verify_url_sealed="-",
        ).model_dump(mode="json")
        del legacy["verify_url_sealed"]
        legacy["verify_url"] = clear
        accounts = Account.get_pymongo_collection()
        await accounts.update_one(
            {"_id": UUID(account_id)}, {"$push": {"outbox": legacy}, "$set": {"outbox_pending": True}}
        )
        account = await Account.get(UUID(account_id))
        assert account is not None
        await app.state.accounts._flush(account)  # what the outbox relay does

        marker = legacy["message_id"].encode()
        records = await read_topic(stack.kafka, Topic.USERS_EVENTS, lambda r, marker=marker: marker in (r.value or b""))
        raw = records[0].value or b""
        assert b"legacy-token" not in raw
        assert LinkSeal(DEV_LINK_SEAL_KEY).unseal(orjson.loads(raw)["verify_url_sealed"]) == clear
        assert (await Account.get(UUID(account_id))).outbox == []  # type: ignore[union-attr]


async def test_a_reset_ends_every_session_even_when_ending_them_in_redis_fails(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of finding 2: Redis failing between the new password and revoke_all left the
    attacker's refresh session alive until its absolute end (the used link cannot be retried)."""

    async def redis_gone(*_: Any) -> int:
        raise RedisConnectionError("Redis went away mid-reset")

    async for gw in running(gateway_settings(stack)):  # its own app, as the tests above have
        email = new_email()
        user = await registered(gw, email)
        stolen = await sign_in(gw, email)
        assert (await gw.post("/v1/auth/password-reset", json={"email": email})).status_code == 202
        link = await _sealed_link(stack, user["id"], b"PasswordResetRequested", "reset_url_sealed")

        monkeypatch.setattr(Sessions, "revoke_all", redis_gone)
        confirm = {"token": link.params["token"], "new_password": "amber-falcon-38-meadow"}
        answer = await gw.post("/v1/auth/password-reset/confirm", json=confirm)
        assert answer.status_code == 503  # the password changed; the sessions could not be ended in Redis
        monkeypatch.undo()

        refresh = {"grant_type": "refresh_token", "refresh_token": stolen["refresh_token"]}
        refreshed = await gw.post("/v1/auth/token", data=refresh)
        assert refreshed.status_code == 400, refreshed.text
        assert refreshed.json()["error"] == "invalid_grant"
        fresh = await sign_in(gw, email, "amber-falcon-38-meadow")  # the owner signs in anew and refreshes
        again = await gw.post(
            "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]}
        )
        assert again.status_code == 200, again.text
