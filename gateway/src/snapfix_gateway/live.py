"""Live updates: issue events fanned out to per-user Redis streams, served as Server-Sent Events.

One consumer group for all gateway replicas reads ``issues.events.v1``. For a status
change or a public comment it asks the issues service who should hear of it (the
reporter and the followers) and appends the update to each of their streams
(``gw:live:{user}``, capped). ``GET /v1/events`` reads the caller's stream: Redis stream
ids are the SSE event ids, so a client that reconnects with ``Last-Event-ID`` gets
exactly what it missed (within the cap). The offset is committed after the appends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from aiokafka import ConsumerRecord
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sse_starlette import ServerSentEvent

from snapfix_gateway.identity.sessions import Sessions
from snapfix_gateway.upstream import Upstream, UpstreamError
from snapfix_shared.consuming import retry_transient, subscribe_batches
from snapfix_shared.messages import ISSUE_EVENTS, IssueCommented, IssueEvent, IssueStatusChanged
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)

STREAM_MAXLEN = 500
STREAM_TTL_S = 7 * 24 * 3600
GROUP = "gateway-live"


def stream_key(user_id: str) -> str:
    return f"gw:live:{{{user_id}}}"


def live_payload(event: IssueEvent) -> dict[str, Any] | None:
    """What a follower is told; None for events nobody is told about live."""
    if isinstance(event, IssueStatusChanged):
        return {
            "type": "status_changed",
            "issue_id": str(event.issue_id),
            "from": event.from_status,
            "to": event.to_status,
            "note": event.note,
            "duplicate_of": str(event.duplicate_of) if event.duplicate_of else None,
            "at": event.changed_at.isoformat(),
            "event_id": str(event.message_id),
        }
    if isinstance(event, IssueCommented) and not event.internal:
        return {
            "type": "comment",
            "issue_id": str(event.issue_id),
            "comment_id": str(event.comment_id),
            "body": event.body,
            "at": event.commented_at.isoformat(),
            "event_id": str(event.message_id),
        }
    return None


class LiveFanout:
    def __init__(self, runtime: Runtime, redis: Redis, issues_http: Upstream) -> None:
        self.runtime, self.redis, self.issues_http = runtime, redis, issues_http

    async def handle(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        for record in records:
            try:
                event = ISSUE_EVENTS.validate_json(record.value or b"")
            except ValidationError as exc:
                await self.runtime.dead_letter(record, group=GROUP, reason="invalid", error=str(exc))
                continue
            payload = live_payload(event)
            if payload is not None:
                # Past the deadline the batch is not committed and comes back.
                await retry_transient((UpstreamError, RedisError), self._fan_out, event, payload)

    async def _fan_out(self, event: IssueEvent, payload: dict[str, Any]) -> None:
        answer = await self.issues_http.fetch("GET", f"/v1/issues/{event.issue_id}/audience")
        if answer.status == 404:
            return
        if answer.status != 200:
            raise UpstreamError(f"audience of {event.issue_id}: {answer.status}")
        data = orjson.dumps(payload)
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id in orjson.loads(answer.body)["user_ids"]:
                key = stream_key(user_id)
                pipe.xadd(key, {"type": payload["type"], "data": data}, maxlen=STREAM_MAXLEN, approximate=True)
                pipe.expire(key, STREAM_TTL_S)
            await pipe.execute()


def register(runtime: Runtime, fanout: LiveFanout) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.ISSUES_EVENTS,
        group=GROUP,
        handle=fanout.handle,
        max_records=200,
        start="latest",
        title="gateway-live",
        description="Fans status changes and public comments out to the live streams of reporters and followers.",
    )


async def stream(
    redis: Redis, sessions: Sessions, *, user_id: str, session_id: str, last_event_id: str | None, block_ms: int
) -> AsyncIterator[ServerSentEvent]:
    """The caller's updates from ``last_event_id`` on (only new ones without it); ends when the session does."""
    key = stream_key(user_id)
    position = last_event_id or "$"
    if position == "$":
        # Pin "now" to a concrete id, so nothing appended between two reads is skipped.
        latest: Any = await redis.xrevrange(key, count=1)  # redis-py types replies loosely
        position = latest[0][0].decode() if latest else "0-0"
        # Tells the client where "now" is, so even a quiet stream has an id to resume from.
        yield ServerSentEvent(data="{}", event="ready", id=position)
    while True:
        batches: Any = await redis.xread({key: position}, block=block_ms, count=100)
        for _, entries in batches or ():
            for entry_id, fields in entries:
                position = entry_id.decode()
                yield ServerSentEvent(data=fields[b"data"].decode(), event=fields[b"type"].decode(), id=position)
        if await sessions.get(session_id) is None:  # signed out: the stream ends with the session
            return
