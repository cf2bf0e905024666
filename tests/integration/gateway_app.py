"""The gateway run in-process against the real stack (no issues service behind it), and the
account steps its tests take: register, sign in, the bearer header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
from fastapi import FastAPI

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from tests.stack import Stack

PASSWORD = "violet-harbour-71-lantern"
ADMIN = ("admin@city.example", "amber-walrus-93-fjord")


def gateway_settings(stack: Stack, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        **stack.connections(),
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
