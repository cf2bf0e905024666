"""Live updates: issue events fanned out to per-user Redis streams and to the gateways' feed.

One consumer group for all gateway replicas (``gateway-live``) reads ``issues.events.v1``.
For a status change, a public comment or a report refused when applied, it appends the
update to the stream of each user who should hear of it (``gw:live:{user}``, capped: the durable source a client
resumes from with ``Last-Event-ID``), then one entry to the feed (``gw:live:feed``) that
names those users and the id each stream gave the update. Every gateway process reads the
feed with one connection (``live_hub``) and hands each entry to its own connections.
The offset is committed after the appends.

Who should hear of an issue (its reporter and followers) is a projection this consumer
keeps in the gateway's own Redis (``gw:aud:{issue}``), from the same events in the same
order: ``IssueReported`` (the reporter, ``actor_id``) and ``IssueFollowed``. An issue
reported before the projection existed (or whose projection expired) is asked of the
issues service once, through its API (its Redis is its own, DESIGN §2); its read model is
written before its events are published, so the answer holds every change up to the
event at hand, and the events that follow keep it current. A set is complete only while it
holds the ``KNOWN`` member; follows applied to an incomplete set are harmless, as the
first read replaces it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import ConsumerRecord
from redis.asyncio import Redis
from redis.exceptions import RedisError

from snapfix_gateway.upstream import Upstream, UpstreamError
from snapfix_shared.consuming import record_message, retry_transient, subscribe_batches
from snapfix_shared.messages import (
    ISSUE_EVENTS,
    IssueCommented,
    IssueEvent,
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
    ReportRejected,
)
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)

STREAM_MAXLEN = 500
STREAM_TTL_S = 7 * 24 * 3600
GROUP = "gateway-live"
# Each process's reader reads the feed with a blocking XREAD; an entry is small (ids of
# the users told, and the update once). A reader behind by more than this resyncs its
# connections from their own streams (live_hub).
FEED_KEY = "gw:live:feed"
FEED_MAXLEN = 100_000
# An issue's audience is kept while it sees events (refreshed by each), then asked again.
AUDIENCE_TTL_S = 30 * 24 * 3600
KNOWN = "."  # not a user id: marks an audience set as complete


def stream_key(user_id: str) -> str:
    return f"gw:live:{{{user_id}}}"


def audience_key(issue_id: str) -> str:
    return f"gw:aud:{{{issue_id}}}"


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
    if isinstance(event, ReportRejected):
        return {
            "type": "report_rejected",
            "issue_id": str(event.issue_id),
            "reason": event.reason,
            "errors": [error.model_dump() for error in event.errors],
            "at": event.occurred_at.isoformat(),
            "event_id": str(event.message_id),
        }
    return None


class LiveFanout:
    def __init__(self, runtime: Runtime, redis: Redis, issues_http: Upstream) -> None:
        self.runtime, self.redis, self.issues_http = runtime, redis, issues_http
        self.audience_fetches = 0  # asked of the issues service (once per issue, not per event)

    async def handle(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        # Audience changes in a row go to Redis in one round trip, before any update that reads them.
        changes: list[IssueReported | IssueFollowed] = []
        for record in records:
            event = await record_message(self.runtime, record, group=GROUP, adapter=ISSUE_EVENTS)
            if event is None:  # poison: dead-lettered
                continue
            # Past the deadline the batch is not committed and comes back (every step is idempotent
            # but the appends, which a client can tell apart by the update's event_id).
            if isinstance(event, IssueReported | IssueFollowed):
                changes.append(event)
                continue
            payload = live_payload(event)
            if payload is not None:
                if changes:
                    await retry_transient((RedisError,), self._project, changes)
                    changes = []
                await retry_transient((UpstreamError, RedisError), self._fan_out, event, payload)
        if changes:
            await retry_transient((RedisError,), self._project, changes)

    async def _project(self, events: Sequence[IssueReported | IssueFollowed]) -> None:
        """Apply audience changes in log order, in one pipeline (replaying them leaves the same sets)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                if event.actor_id is None:
                    continue
                key = audience_key(str(event.issue_id))
                if isinstance(event, IssueReported):
                    pipe.sadd(key, KNOWN, event.actor_id)  # a new issue: its whole audience
                elif event.follow:
                    pipe.sadd(key, event.actor_id)
                else:
                    pipe.srem(key, event.actor_id)
                pipe.expire(key, AUDIENCE_TTL_S)
            if len(pipe):
                await pipe.execute()

    async def audience(self, issue_id: str) -> list[str] | None:
        """The reporter and followers (from the projection, else asked once); None: no such issue."""
        key = audience_key(issue_id)
        raw: Any = await self.redis.smembers(key)  # redis-py types replies loosely
        members = {m.decode() for m in raw}
        if KNOWN in members:
            members.discard(KNOWN)
            return sorted(members)
        # An internal route: the gateway's own token, for no viewer.
        headers = self.runtime.internal_tokens.headers(None)
        answer = await self.issues_http.fetch("GET", f"/v1/issues/{issue_id}/audience", headers=headers)
        self.audience_fetches += 1
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise UpstreamError(f"audience of {issue_id}: {answer.status}")
        users: list[str] = orjson.loads(answer.body)["user_ids"]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.sadd(key, KNOWN, *users)
            pipe.expire(key, AUDIENCE_TTL_S)
            await pipe.execute()
        return users

    async def _fan_out(self, event: IssueEvent, payload: dict[str, Any]) -> None:
        if isinstance(event, ReportRejected):  # nothing was created: only its reporter hears why
            users = [event.actor_id] if event.actor_id else []
        else:
            users = await self.audience(str(event.issue_id)) or []
        if not users:
            return
        data = orjson.dumps(payload)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.expire(audience_key(str(event.issue_id)), AUDIENCE_TTL_S)  # kept while the issue lives
            for user_id in users:
                key = stream_key(user_id)
                pipe.xadd(key, {"type": payload["type"], "data": data}, maxlen=STREAM_MAXLEN, approximate=True)
                pipe.expire(key, STREAM_TTL_S)
            replies = await pipe.execute()
        ids = {user: entry_id.decode() for user, entry_id in zip(users, replies[1::2], strict=True)}
        await self.redis.xadd(
            FEED_KEY,
            {"type": payload["type"], "data": data, "users": orjson.dumps(ids)},
            maxlen=FEED_MAXLEN,
            approximate=True,
        )


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
