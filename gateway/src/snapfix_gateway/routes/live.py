"""``GET /v1/events``: live updates on the reports a user filed or follows, as Server-Sent Events."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Request
from redis.exceptions import RedisError

from snapfix_gateway.deps import PrincipalDep
from snapfix_gateway.live_hub import LiveHub
from snapfix_gateway.live_listener import StreamRefused
from snapfix_gateway.live_response import LiveResponse
from snapfix_shared.problems import Problem, ServiceUnavailable

router = APIRouter(tags=["me"])

_EXAMPLE = (
    "id: 1764100000000-0\nevent: status_changed\n"
    'data: {"issue_id": "0199…", "from": "open", "to": "acknowledged", "note": "A crew is on its way."}\n\n'
)
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


@router.get(
    "/v1/events",
    response_class=LiveResponse,
    status_code=200,
    responses={
        200: {
            "content": {"text/event-stream": {"example": _EXAMPLE}},
            "description": (
                "`status_changed` and `comment` events, and `report_rejected` (a report of yours refused when "
                "applied, with the reason); each `id` can be sent back as `Last-Event-ID`"
            ),
        },
        400: {"description": "Last-Event-ID is not an id this stream gave out"},
        401: {"description": "Not signed in"},
        429: {"description": "You have as many streams open as allowed; close one"},
        503: {"description": "This gateway holds as many streams as it can, or cannot reach Redis; retry"},
    },
)
async def events(
    request: Request,
    principal: PrincipalDep,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id")] = None,
) -> LiveResponse:
    """Status changes and public comments on your reports and the ones you follow, as they happen;
    and, should a report of yours be refused after its 202, why.

    Reconnect with `Last-Event-ID` to receive what you missed (the last 500 updates are kept for 7 days).
    A comment line (`: ping`) comes every 15 s or so; a user may hold a few streams at once.
    """
    if last_event_id is not None and not _STREAM_ID.match(last_event_id):
        raise Problem(400, "Bad Request", "Last-Event-ID is not an id of this stream.")
    hub: LiveHub = request.app.state.live_hub
    try:
        listener = hub.open(principal.user_id, principal.session_id)
    except StreamRefused as exc:
        if exc.reason == "per_user":
            limit = hub.settings.live_streams_per_user
            raise Problem(
                429,
                "Too Many Requests",
                f"At most {limit} live streams per user at once; close one to open another.",
                headers={"Retry-After": "10"},
            ) from exc
        raise ServiceUnavailable("This gateway holds as many live streams as it can.", retry_after_s=5) from exc
    try:
        ready = await hub.start_at(listener, last_event_id)
    except (RedisError, OSError) as exc:
        hub.close(listener)
        raise ServiceUnavailable("Live updates cannot be read right now.") from exc
    except BaseException:
        hub.close(listener)
        raise
    return LiveResponse(hub, listener, hub.frames(listener, ready))
