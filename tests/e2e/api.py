"""Signed-in clients of the gateway for end-to-end tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import httpx
import orjson
import pytest
from pymongo import AsyncMongoClient

from tests.e2e.conftest import ADMIN, System
from tests.stack import Stack

PASSWORD = "violet-harbour-71-lantern"


async def sign_in(system: System, email: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """A client holding the user's access token; the caller closes it (``aclose``)."""
    client = httpx.AsyncClient(base_url=system.gateway, timeout=30)
    response = await client.post(
        "/v1/auth/token", data={"grant_type": "password", "username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    client.headers["authorization"] = f"Bearer {response.json()['access_token']}"
    me = (await client.get("/v1/me")).json()
    client.headers["x-test-user-id"] = me["id"]  # ignored by the gateway; handy in assertions
    return client


async def citizen(system: System, *, verified: bool = False) -> httpx.AsyncClient:
    """A new citizen, signed in; ``verified``: with a verified e-mail address (uploads need one)."""
    email = f"citizen-{uuid4().hex[:10]}@example.org"
    async with httpx.AsyncClient(base_url=system.gateway) as anonymous:
        body = {"email": email, "password": PASSWORD, "display_name": "Citizen"}
        response = await anonymous.post("/v1/auth/register", json=body)
        assert response.status_code == 202, response.text
    client = await sign_in(system, email)
    if verified:
        await mark_verified(system.stack, user_id(client))
    return client


async def mark_verified(stack: Stack, user: str) -> None:
    """Verify the account's address as its e-mailed link would (test_media_verified follows the link itself)."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, uuidRepresentation="standard")
    try:
        result = await mongo["snapfix_gateway"]["accounts"].update_one(
            {"_id": UUID(user)}, {"$set": {"email_verified": True, "verify_token_hash": None}}
        )
    finally:
        await mongo.close()
    assert result.matched_count == 1, user


async def staff(system: System, *departments: str) -> httpx.AsyncClient:
    email = f"staff-{uuid4().hex[:10]}@city.example"
    admin = await sign_in(system, *ADMIN)
    try:
        body = {"email": email, "password": PASSWORD, "display_name": "Crew", "departments": list(departments)}
        response = await admin.post("/v1/admin/users", json=body)
        assert response.status_code == 201, response.text
    finally:
        await admin.aclose()
    return await sign_in(system, email)


def user_id(client: httpx.AsyncClient) -> str:
    return client.headers["x-test-user-id"]


async def eventually(
    client: httpx.AsyncClient, path: str, until: Callable[[dict[str, Any]], bool], timeout_s: float = 30.0
) -> dict[str, Any]:
    """GET ``path`` until it is 200 and ``until`` holds for its body (commands apply shortly after 202)."""
    deadline = time.monotonic() + timeout_s
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        last = await client.get(path)
        if last.status_code == 200 and until(last.json()):
            return last.json()  # type: ignore[no-any-return]
        assert last.status_code in {200, 404}, last.text
        await asyncio.sleep(0.1)
    pytest.fail(f"{path} did not reach the expected state within {timeout_s}s: {last.text if last else None}")


async def read_events(
    client: httpx.AsyncClient,
    count: int,
    *,
    last_event_id: str | None = None,
    started: asyncio.Event | None = None,
    timeout_s: float = 30.0,
) -> list[dict[str, Any]]:
    """Read ``count`` events from ``GET /v1/events`` (after its ``ready`` event), as dicts with id/event/data."""
    headers = {"last-event-id": last_event_id} if last_event_id else {}
    events: list[dict[str, Any]] = []

    async def read() -> None:
        async with client.stream("GET", "/v1/events", headers=headers, timeout=timeout_s + 5) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            current: dict[str, Any] = {}
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    continue
                if line:
                    name, _, value = line.partition(":")
                    current[name] = value.removeprefix(" ")
                    continue
                if not current:
                    continue
                if current.get("event") == "ready":
                    if started:
                        started.set()
                else:
                    events.append({**current, "data": orjson.loads(current["data"])})
                    if len(events) >= count:
                        return
                current = {}

    try:
        await asyncio.wait_for(read(), timeout_s)
    except TimeoutError:
        pytest.fail(f"only {len(events)} of {count} live events arrived within {timeout_s}s: {events}")
    return events
