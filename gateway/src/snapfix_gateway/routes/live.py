"""``GET /v1/events``: live updates on the reports a user filed or follows, as Server-Sent Events."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Request
from redis.asyncio import Redis
from sse_starlette import EventSourceResponse

from snapfix_gateway.deps import PrincipalDep, SessionsDep, SettingsDep
from snapfix_gateway.live import stream
from snapfix_shared.problems import Problem

router = APIRouter(tags=["me"])

_EXAMPLE = (
    "id: 1764100000000-0\nevent: status_changed\n"
    'data: {"issue_id": "0199…", "from": "open", "to": "acknowledged", "note": "A crew is on its way."}\n\n'
)
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


@router.get(
    "/v1/events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"example": _EXAMPLE}},
            "description": "`status_changed` and `comment` events; each `id` can be sent back as `Last-Event-ID`",
        },
        400: {"description": "Last-Event-ID is not an id this stream gave out"},
        401: {"description": "Not signed in"},
    },
)
async def events(
    request: Request,
    principal: PrincipalDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id")] = None,
) -> EventSourceResponse:
    """Status changes and public comments on your reports and the ones you follow, as they happen.

    Reconnect with `Last-Event-ID` to receive what you missed (the last 500 updates are kept for 7 days).
    """
    if last_event_id is not None and not _STREAM_ID.match(last_event_id):
        raise Problem(400, "Bad Request", "Last-Event-ID is not an id of this stream.")
    live_redis: Redis = request.app.state.live_redis
    updates = stream(
        live_redis,
        sessions,
        user_id=principal.user_id,
        session_id=principal.session_id,
        last_event_id=last_event_id,
        block_ms=int(settings.live_block_s * 1000),
    )
    return EventSourceResponse(updates, ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
