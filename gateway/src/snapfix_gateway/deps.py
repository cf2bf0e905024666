"""Request-scoped dependencies of the gateway's routes."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Request

from snapfix_gateway.config import GatewaySettings
from snapfix_shared.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def get_settings(request: Request) -> GatewaySettings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_issues_http(request: Request) -> httpx.AsyncClient:
    return request.app.state.issues_http  # type: ignore[no-any-return]


async def get_request_id(request: Request) -> str:
    return str(request.state.request_id)


async def get_actor_id(request: Request) -> str | None:
    """The signed-in user. Accounts and JWT sessions come with the mobile API; until then anonymous."""
    return None


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
IssuesHttpDep = Annotated[httpx.AsyncClient, Depends(get_issues_http)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
ActorDep = Annotated[str | None, Depends(get_actor_id)]
