"""Notifications, owned by the notify service: the in-app feed, preferences, area watches and
one-click unsubscribe. The gateway authenticates and relays; notify decides and answers, and its
answers are documented by its own models (``snapfix_shared.schemas.notify``).

Every ``/v1/me/...`` route acts on the signed-in user's own data only. The unsubscribe
endpoint is public: its signed token says whose preference it turns off (RFC 8058).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from snapfix_gateway.deps import PrincipalDep, RequestIdDep
from snapfix_gateway.upstream import Upstream, relay, relay_get, viewer_headers
from snapfix_shared.schemas.notify import FeedPage, MarkedRead, Preferences, WatchList, WatchView

router = APIRouter(tags=["notifications"])


async def get_notify(request: Request) -> Upstream:
    return request.app.state.notify_http  # type: ignore[no-any-return]


NotifyDep = Annotated[Upstream, Depends(get_notify)]
NotificationId = Annotated[str, Path(max_length=300, description="The id from the feed")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    404: {"description": "No such notification or watch of yours"},
    422: {"description": "Invalid body (each field named)"},
    503: {"description": "The notify service is unavailable; retry after Retry-After"},
}


# The names notify takes (snapfix_notify.preferences: MOMENTS, CHANNELS); a unit test keeps them equal.
Moment = Literal[
    "report_received",
    "acknowledged",
    "status_changed",
    "comment_added",
    "resolved",
    "duplicate",
    "followed_status_changed",
    "followed_comment_added",
    "assigned",
    "overdue",
    "area_report",
]
Channel = Literal["email", "in_app", "push"]


class PreferencesChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"moments": {"followed_comment_added": {"email": True}}}]},
    )

    moments: dict[Moment, dict[Channel, StrictBool]] = Field(
        description=(
            "A partial update. Moments: report_received, acknowledged, status_changed, comment_added, resolved, "
            "duplicate (your own reports; default email + in_app), followed_status_changed, "
            "followed_comment_added (reports you follow; default in_app), assigned, overdue (staff; default "
            "email + in_app), area_report (your watches; default in_app). Push is opt-in."
        )
    )


class WatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"lat": 52.52, "lon": 13.405, "radius_m": 800, "categories": ["pothole"]},
                {"cells": ["u33dc0", "u33dc1"], "digest": True},
            ]
        },
    )

    lat: float | None = Field(default=None, ge=-90, le=90, strict=True)
    lon: float | None = Field(default=None, ge=-180, le=180, strict=True)
    radius_m: float | None = Field(default=None, gt=0, le=50_000, strict=True)
    cells: list[str] | None = Field(default=None, min_length=1, max_length=50, description="Geohash cells")
    categories: list[str] = Field(default_factory=list, max_length=30, description="Only these; empty: all")
    digest: StrictBool = Field(default=False, description="One email per hour instead of a notification per report")


async def _send(
    notify: Upstream, method: str, path: str, *, request_id: str, principal: Any, body: BaseModel | None = None
) -> Response:
    headers = viewer_headers(request_id, principal)
    content = None
    if body is not None:
        headers["content-type"] = "application/json"
        content = body.model_dump_json(exclude_unset=True).encode()
    return relay(await notify.call(method, path, headers=headers, content=content))


@router.get("/v1/me/notifications", response_model=FeedPage, tags=["me"], responses=_ERRORS)
async def feed(
    principal: PrincipalDep,
    notify: NotifyDep,
    request_id: RequestIdDep,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """Your notifications, newest first, with the count of unread ones."""
    params = urlencode({k: v for k, v in {"cursor": cursor, "limit": limit}.items() if v is not None})
    return await relay_get(notify, "/v1/me/notifications", request_id=request_id, principal=principal, params=params)


@router.post("/v1/me/notifications/read-all", response_model=MarkedRead, tags=["me"], responses=_ERRORS)
async def read_all(principal: PrincipalDep, notify: NotifyDep, request_id: RequestIdDep) -> Response:
    """Mark every notification read; answers how many were unread."""
    return await _send(notify, "POST", "/v1/me/notifications/read-all", request_id=request_id, principal=principal)


@router.post("/v1/me/notifications/{notification_id}/read", status_code=204, tags=["me"], responses=_ERRORS)
async def read_one(
    notification_id: NotificationId, principal: PrincipalDep, notify: NotifyDep, request_id: RequestIdDep
) -> Response:
    return await _send(
        notify, "POST", f"/v1/me/notifications/{notification_id}/read", request_id=request_id, principal=principal
    )


@router.get("/v1/me/notification-preferences", response_model=Preferences, tags=["me"], responses=_ERRORS)
async def get_preferences(principal: PrincipalDep, notify: NotifyDep, request_id: RequestIdDep) -> Response:
    """Every moment with every channel: your choice where you made one, else the default."""
    return await relay_get(notify, "/v1/me/notification-preferences", request_id=request_id, principal=principal)


@router.put("/v1/me/notification-preferences", response_model=Preferences, tags=["me"], responses=_ERRORS)
async def put_preferences(
    body: PreferencesChange, principal: PrincipalDep, notify: NotifyDep, request_id: RequestIdDep
) -> Response:
    return await _send(
        notify, "PUT", "/v1/me/notification-preferences", request_id=request_id, principal=principal, body=body
    )


@router.post("/v1/me/watches", status_code=201, response_model=WatchView, tags=["me"], responses=_ERRORS)
async def create_watch(
    body: WatchRequest, principal: PrincipalDep, notify: NotifyDep, request_id: RequestIdDep
) -> Response:
    """Watch an area (a centre and radius, or geohash cells), optionally for some categories only."""
    return await _send(notify, "POST", "/v1/me/watches", request_id=request_id, principal=principal, body=body)


@router.get("/v1/me/watches", response_model=WatchList, tags=["me"], responses=_ERRORS)
async def list_watches(principal: PrincipalDep, notify: NotifyDep, request_id: RequestIdDep) -> Response:
    return await relay_get(notify, "/v1/me/watches", request_id=request_id, principal=principal)


@router.delete("/v1/me/watches/{watch_id}", status_code=204, tags=["me"], responses=_ERRORS)
async def delete_watch(
    watch_id: UUID, principal: PrincipalDep, notify: NotifyDep, request_id: RequestIdDep
) -> Response:
    return await _send(notify, "DELETE", f"/v1/me/watches/{watch_id}", request_id=request_id, principal=principal)


_TOKEN = Annotated[str, Query(max_length=1000, description="From the email's unsubscribe link")]


@router.get("/v1/notifications/unsubscribe", responses={400: {"description": "Not a valid link"}})
async def unsubscribe_page(token: _TOKEN, request: Request, notify: NotifyDep, request_id: RequestIdDep) -> Response:
    """Shows what the link unsubscribes from (a page for browsers, JSON otherwise); changes nothing."""
    headers = {"x-request-id": request_id, "accept": request.headers.get("accept", "application/json")}
    answer = await notify.call(
        "GET", "/v1/notifications/unsubscribe", headers=headers, params=urlencode({"token": token})
    )
    return relay(answer)


@router.post("/v1/notifications/unsubscribe", responses={400: {"description": "Not a valid link"}})
async def unsubscribe(token: _TOKEN, notify: NotifyDep, request_id: RequestIdDep) -> Response:
    """One-click unsubscribe (RFC 8058): that kind of email (or all) is turned off. No sign-in needed."""
    headers = {"x-request-id": request_id}
    answer = await notify.call(
        "POST", "/v1/notifications/unsubscribe", headers=headers, params=urlencode({"token": token})
    )
    return relay(answer)
