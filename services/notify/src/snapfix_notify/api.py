"""The notify service's HTTP API (internal: reached through the gateway).

The gateway authenticates and passes the user as ``x-snapfix-user``; every ``/v1/me``
route reads and changes only that user's own data.

- ``GET /v1/me/notifications?cursor=&limit=``: the in-app feed, newest first, with ``unread``;
- ``POST /v1/me/notifications/{id}/read`` and ``POST /v1/me/notifications/read-all``;
- ``GET``/``PUT /v1/me/notification-preferences``: per moment, per channel;
- ``POST``/``GET /v1/me/watches``, ``DELETE /v1/me/watches/{id}``: area watches;
- ``GET``/``POST /v1/notifications/unsubscribe?token=``: one-click unsubscribe (public).
"""

from __future__ import annotations

import base64
import html
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse
from uuid_utils.compat import uuid7

from snapfix_notify import preferences
from snapfix_notify.models import Notification, Watch
from snapfix_notify.repository import Feed, PersonalData, Preferences, StoreError
from snapfix_notify.schemas import (
    FeedPage,
    MarkedRead,
    NotificationItem,
    PreferencesBody,
    PreferencesOut,
    UserExport,
    WatchBody,
    WatchList,
    WatchView,
)
from snapfix_notify.service import InvalidChoice, TooManyWatches, UserChoices
from snapfix_notify.unsubscribe import InvalidToken, UnsubscribeTokens
from snapfix_shared import geo
from snapfix_shared.messages.base import utcnow
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.viewer import SignedInDep, UserIdDep

router = APIRouter(prefix="/v1")
MAX_WATCHES = 20


UserDep = UserIdDep  # the signed-in user, from the gateway's internal token (snapfix_shared.viewer)


# -- helpers ---------------------------------------------------------------------------


def _notification(n: Notification) -> NotificationItem:
    return NotificationItem(
        id=n.id,
        moment=n.moment,
        title=n.title,
        body=n.body,
        link=n.link,
        issue_id=n.issue_id,
        created_at=n.created_at,
        read=n.read_at is not None,
    )


def _watch(w: Watch) -> WatchView:
    return WatchView(**w.model_dump(include=set(WatchView.model_fields)))


def _state(request: Request) -> Any:
    return request.app.state


def _cursor(n: Notification) -> str:
    return base64.urlsafe_b64encode(f"{n.created_at.isoformat()}|{n.id}".encode()).decode()


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), key
    except ValueError as exc:
        raise Problem(400, "Bad Request", "The cursor is not valid.") from exc


# -- the feed --------------------------------------------------------------------------


@router.get("/me/notifications", response_model=FeedPage)
async def feed(
    user: UserDep,
    request: Request,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> FeedPage:
    repo: Feed = _state(request).feed
    before = _parse_cursor(cursor) if cursor else None
    try:
        items = await repo.page(user, before=before, limit=limit + 1)
        unread = await repo.unread(user)
    except StoreError as exc:
        raise ServiceUnavailable("Notifications cannot be read right now.") from exc
    more = len(items) > limit
    items = items[:limit]
    return FeedPage(
        items=[_notification(n) for n in items],
        unread=unread,
        next_cursor=_cursor(items[-1]) if more and items else None,
    )


@router.post("/me/notifications/read-all", response_model=MarkedRead)
async def read_all(user: UserDep, request: Request) -> MarkedRead:
    try:
        marked = await _state(request).feed.read_all(user, utcnow())
    except StoreError as exc:
        raise ServiceUnavailable("Notifications cannot be changed right now.") from exc
    return MarkedRead(marked=marked)


@router.post("/me/notifications/{notification_id}/read", status_code=204)
async def read_one(notification_id: str, user: UserDep, request: Request) -> Response:
    try:
        found = await _state(request).feed.read(user, notification_id, utcnow())
    except StoreError as exc:
        raise ServiceUnavailable("Notifications cannot be changed right now.") from exc
    if found is None:  # someone else's is "not found" too: ids are not confirmed to others
        raise Problem(404, "Not Found", f"No notification {notification_id}.")
    return Response(status_code=204)


# -- preferences -----------------------------------------------------------------------


def _preferences_out(choices: dict[str, dict[str, bool]] | None) -> PreferencesOut:
    return PreferencesOut(
        moments=preferences.effective(choices),
        channels=list(preferences.CHANNELS),
        always_email=list(preferences.ACCOUNT),
    )


@router.get("/me/notification-preferences", response_model=PreferencesOut)
async def get_preferences(user: UserDep, request: Request) -> PreferencesOut:
    repo: Preferences = _state(request).preferences
    try:
        return _preferences_out(await repo.get(user))
    except StoreError as exc:
        raise ServiceUnavailable("Preferences cannot be read right now.") from exc


@router.put("/me/notification-preferences", response_model=PreferencesOut)
async def put_preferences(body: PreferencesBody, user: UserDep, request: Request) -> PreferencesOut:
    choices: UserChoices = _state(request).choices
    try:
        updated = await choices.change_preferences(user, body.moments)
    except InvalidChoice as exc:
        raise Problem(
            422, "Unprocessable Content", str(exc), extra={"errors": [{"field": "moments", "message": str(exc)}]}
        ) from exc
    except StoreError as exc:
        raise ServiceUnavailable("Preferences cannot be changed right now.") from exc
    return _preferences_out(updated)


# -- area watches ----------------------------------------------------------------------


@router.post("/me/watches", status_code=201, response_model=WatchView)
async def create_watch(body: WatchBody, user: UserDep, request: Request) -> WatchView:
    choices: UserChoices = _state(request).choices
    if body.cells is not None:
        cells = list(dict.fromkeys(body.cells))
    else:
        assert body.lat is not None
        assert body.lon is not None
        assert body.radius_m is not None
        cells = geo.search_cells(body.lat, body.lon, body.radius_m)
    watch = Watch(
        id=UUID(str(uuid7())),
        user_id=user,
        lat=body.lat,
        lon=body.lon,
        radius_m=body.radius_m,
        cells=cells,
        categories=list(dict.fromkeys(body.categories)),
        digest=body.digest,
        created_at=utcnow(),
    )
    try:
        await choices.add_watch(watch)
    except TooManyWatches as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
    except StoreError as exc:
        raise ServiceUnavailable("Watches cannot be saved right now.") from exc
    return _watch(watch)


@router.get("/me/watches", response_model=WatchList)
async def list_watches(user: UserDep, request: Request) -> WatchList:
    try:
        return WatchList(items=[_watch(w) for w in await _state(request).watches.of_user(user)])
    except StoreError as exc:
        raise ServiceUnavailable("Watches cannot be read right now.") from exc


@router.delete("/me/watches/{watch_id}", status_code=204)
async def delete_watch(watch_id: UUID, user: UserDep, request: Request) -> Response:
    try:
        deleted = await _state(request).watches.delete(user, watch_id)
    except StoreError as exc:
        raise ServiceUnavailable("Watches cannot be changed right now.") from exc
    if not deleted:
        raise Problem(404, "Not Found", f"No watch {watch_id}.")
    return Response(status_code=204)


# -- a user's data, for their export (the gateway's GET /v1/me/export) --------------------

EXPORT_LIMIT = 10_000  # of each kind


@router.get("/users/{user_id}/export", responses={200: {"model": UserExport}})
async def export(user_id: str, viewer: SignedInDep, request: Request) -> Response:
    """What notify holds about a user: their feed, preferences, area watches and push devices (without
    the push tokens). For that user alone."""
    if viewer.user_id != user_id:
        raise Problem(403, "Forbidden", "A user's data is for that user alone.")
    try:
        found = await PersonalData().export(user_id, EXPORT_LIMIT)
        devices = await request.app.state.push.devices.of_user(user_id)
    except StoreError as exc:
        raise ServiceUnavailable("The user's data cannot be read right now.") from exc
    found["devices"] = [
        d.model_dump(mode="json", include={"device_id", "platform", "created_at", "updated_at"}) for d in devices
    ]
    return Response(orjson.dumps(found), media_type="application/json", headers={"Cache-Control": "no-store"})


# -- one-click unsubscribe (RFC 8058) --------------------------------------------------


def _read_token(request: Request, token: str) -> tuple[str, str | None]:
    tokens: UnsubscribeTokens = _state(request).tokens
    try:
        found = tokens.read(token)
    except InvalidToken as exc:
        raise Problem(400, "Bad Request", "The unsubscribe link is not valid.") from exc
    return found.user_id, found.moment


@router.get("/notifications/unsubscribe", response_model=None)
async def unsubscribe_page(
    request: Request, token: Annotated[str, Query(max_length=1000)]
) -> HTMLResponse | dict[str, Any]:
    """A confirmation page (a GET must change nothing: mail scanners follow links)."""
    _, moment = _read_token(request, token)
    what = "all notification emails" if moment is None else f"emails about {moment.replace('_', ' ')}"
    if "text/html" not in request.headers.get("accept", ""):
        return {"moment": moment or "all", "confirm": "POST this URL to unsubscribe"}
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body><p>Stop {html.escape(what)}?</p>
<form method="post"><button type="submit">Unsubscribe</button></form></body></html>"""
    return HTMLResponse(page)


@router.post("/notifications/unsubscribe")
async def unsubscribe(request: Request, token: Annotated[str, Query(max_length=1000)]) -> dict[str, str]:
    """One click: that moment's emails (or all) are turned off for the token's user."""
    user, moment = _read_token(request, token)
    choices: UserChoices = _state(request).choices
    try:
        await choices.unsubscribe(user, moment)
    except InvalidChoice as exc:
        raise Problem(400, "Bad Request", str(exc)) from exc
    except StoreError as exc:
        raise ServiceUnavailable("Preferences cannot be changed right now.") from exc
    return {"unsubscribed": moment or "all"}


def install(app: FastAPI) -> None:
    app.include_router(router)
