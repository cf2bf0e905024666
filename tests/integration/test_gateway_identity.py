"""Accounts at the gateway against the real stack: registration and sign-in, staff accounts that only
admins create, and a registration that never tells whether an address has an account.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest

from snapfix_gateway.app import create_app
from snapfix_shared.topics import Topic
from tests.integration.gateway_app import (
    ADMIN,
    PASSWORD,
    bearer,
    gateway_settings,
    new_email,
    register,
    running_app,
    sign_in,
)
from tests.stack import Stack, read_topic

pytestmark = pytest.mark.integration


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


def test_the_openapi_document_offers_the_password_flow(stack: Stack) -> None:
    app = create_app(gateway_settings(stack))
    schemes = app.openapi()["components"]["securitySchemes"]
    flow = next(iter(schemes.values()))["flows"]["password"]
    assert flow["tokenUrl"] == "/v1/auth/token"


# Starts an app of its own, so it runs after the tests that use the module's gateway: Beanie binds
# documents to the database of the app started last.
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
