"""An administrator's changes to accounts, against the real stack: concurrent changes apply once, a
session in Redis takes the new role (and an ended one is never brought back), the list pages through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
from fastapi import FastAPI

from snapfix_gateway.identity.accounts import Accounts
from snapfix_gateway.identity.sessions import Sessions
from snapfix_shared.topics import Topic
from tests.integration.gateway_app import ADMIN, PASSWORD, bearer, gateway_settings, running_app, sign_in
from tests.stack import Stack, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def app_gw(stack: Stack) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async for pair in running_app(gateway_settings(stack)):
        yield pair


async def create_staff(gw: httpx.AsyncClient, admin: dict[str, Any], email: str) -> dict[str, Any]:
    body = {"email": email, "password": PASSWORD, "display_name": "Crew", "departments": ["roads"]}
    created = await gw.post("/v1/admin/users", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


async def test_concurrent_identical_changes_apply_and_are_announced_once(
    app_gw: tuple[FastAPI, httpx.AsyncClient], stack: Stack
) -> None:
    _, gw = app_gw
    admin = await sign_in(gw, *ADMIN)
    crew = await create_staff(gw, admin, f"race-{uuid4().hex[:10]}@city.example")
    answers = await asyncio.gather(
        *[gw.patch(f"/v1/admin/users/{crew['id']}", json={"disabled": True}, headers=bearer(admin)) for _ in range(5)]
    )
    assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
    assert all(a.json()["disabled"] is True for a in answers)
    key = crew["id"].encode()

    def updated(record: Any) -> bool:
        return record.key == key and b"UserUpdated" in (record.value or b"")

    await read_topic(stack.kafka, Topic.USERS_EVENTS, updated)
    records = await read_topic(stack.kafka, Topic.USERS_EVENTS, updated, count=2, timeout_s=3)
    assert [orjson.loads(r.value or b"null")["changed"] for r in records] == [["disabled"]]


async def test_a_live_session_takes_the_new_role_and_an_ended_one_stays_ended(
    app_gw: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, gw = app_gw
    sessions: Sessions = app.state.sessions
    admin = await sign_in(gw, *ADMIN)
    email = f"claims-{uuid4().hex[:10]}@city.example"
    crew = await create_staff(gw, admin, email)
    live, ended = await sign_in(gw, email), await sign_in(gw, email)
    assert (await gw.post("/v1/auth/logout", headers=bearer(ended))).status_code == 204
    live_id, ended_id = (t["refresh_token"].partition(".")[0] for t in (live, ended))

    changed = await gw.patch(
        f"/v1/admin/users/{crew['id']}", json={"role": "admin", "departments": ["parks"]}, headers=bearer(admin)
    )
    assert changed.status_code == 200, changed.text
    principal = await sessions.get(live_id)
    assert principal is not None
    assert (principal.role, principal.departments) == ("admin", ("parks",))
    assert await sessions.get(ended_id) is None
    assert not await sessions.redis.exists(f"gw:sess:{{{ended_id}}}")
    # The access token issued before keeps its claims until it expires; the refresh carries the new ones.
    assert (await gw.get("/v1/admin/users", headers=bearer(live))).status_code == 403
    refreshed = await gw.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": live["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert (await gw.get("/v1/admin/users", params={"limit": "1"}, headers=bearer(refreshed.json()))).status_code == 200


async def test_the_list_pages_through_every_match_once(app_gw: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, gw = app_gw
    admin = await sign_in(gw, *ADMIN)
    prefix = f"page-{uuid4().hex[:8]}"
    emails = [f"{prefix}-{n}@city.example" for n in range(5)]
    for email in emails:
        await create_staff(gw, admin, email)
    for sort, expected in (("newest", emails[::-1]), ("email", emails)):
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(5):
            params = {"q": prefix, "sort": sort, "limit": "2", **({"cursor": cursor} if cursor else {})}
            page = await gw.get("/v1/admin/users", params=params, headers=bearer(admin))
            assert page.status_code == 200, page.text
            seen += [u["email"] for u in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == expected, sort
    bad = await gw.get("/v1/admin/users", params={"cursor": "n.not-ours"}, headers=bearer(admin))
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_a_sign_in_that_a_disabling_overtook_keeps_no_session(
    app_gw: tuple[FastAPI, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, gw = app_gw
    accounts: Accounts = app.state.accounts
    sessions: Sessions = app.state.sessions
    admin = await sign_in(gw, *ADMIN)
    email = f"overtaken-{uuid4().hex[:10]}@city.example"
    crew = await create_staff(gw, admin, email)
    authenticate = accounts.authenticate

    async def then_disabled(address: str, password: str) -> Any:
        checked = await authenticate(address, password)  # the password is right, the account enabled...
        # ...and an administrator disables it before the session is made (its sessions ended before this one).
        await accounts.change(crew["id"], actor_id="someone", correlation_id="race", disabled=True)
        return checked

    monkeypatch.setattr(accounts, "authenticate", then_disabled)
    before = set(await sessions.redis.smembers(f"gw:user:{{{crew['id']}}}:sessions"))
    refused = await gw.post("/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "account_disabled"
    listed = set(await sessions.redis.smembers(f"gw:user:{{{crew['id']}}}:sessions")) - before
    assert len(listed) == 1  # the session was made...
    assert (
        await sessions.active([m.decode() if isinstance(m, bytes) else m for m in listed]) == set()
    )  # ...and ended at once
