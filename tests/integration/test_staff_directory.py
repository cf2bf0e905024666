"""The staff directory against the real stores: a department's list is kept in Redis, and an
administrator's change (a new staff member, a disabling, an enabling) shows in it at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from snapfix_gateway.identity.directory import cache_key
from snapfix_gateway.identity.sessions import Sessions
from tests.integration.gateway_app import ADMIN, PASSWORD, bearer, gateway_settings, running_app, sign_in
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def app_gw(stack: Stack) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async for pair in running_app(gateway_settings(stack)):
        yield pair


async def create_staff(gw: httpx.AsyncClient, admin: dict[str, Any], name: str, department: str) -> dict[str, Any]:
    body = {
        "email": f"{name.lower()}-{uuid4().hex[:8]}@city.example",
        "password": PASSWORD,
        "display_name": name,
        "departments": [department],
    }
    created = await gw.post("/v1/admin/users", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


async def names(gw: httpx.AsyncClient, admin: dict[str, Any], department: str) -> list[str]:
    answer = await gw.get("/v1/staff/directory", params={"department": department}, headers=bearer(admin))
    assert answer.status_code == 200, answer.text
    return [member["display_name"] for member in answer.json()["items"]]


async def test_the_list_is_cached_per_department_and_changes_show_at_once(
    app_gw: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, gw = app_gw
    sessions: Sessions = app.state.sessions
    redis = sessions.redis
    admin = await sign_in(gw, *ADMIN)
    dept = f"dir-{uuid4().hex[:8]}"
    zoya = await create_staff(gw, admin, "Zoya", dept)
    await create_staff(gw, admin, "Arun", dept)

    assert await names(gw, admin, dept) == ["Arun", "Zoya"]
    assert await redis.exists(cache_key(dept))
    assert 0 < await redis.ttl(cache_key(dept)) <= 30

    # A new member of the department is listed at once (the create clears the department's entry).
    await create_staff(gw, admin, "Meera", dept)
    assert await names(gw, admin, dept) == ["Arun", "Meera", "Zoya"]

    # Disabled: gone from the list at once.
    disabled = await gw.patch(f"/v1/admin/users/{zoya['id']}", json={"disabled": True}, headers=bearer(admin))
    assert disabled.status_code == 200, disabled.text
    assert await names(gw, admin, dept) == ["Arun", "Meera"]

    # Enabled again: back at once.
    enabled = await gw.patch(f"/v1/admin/users/{zoya['id']}", json={"disabled": False}, headers=bearer(admin))
    assert enabled.status_code == 200, enabled.text
    assert await names(gw, admin, dept) == ["Arun", "Meera", "Zoya"]
