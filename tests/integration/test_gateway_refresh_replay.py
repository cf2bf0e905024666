"""A replayed refresh token ends its session, and the end is announced to every replica even when
Redis fails the first attempt to announce it (unannounced, the stolen session's access tokens
would pass on the other replicas until they expire)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from snapfix_gateway.identity import sessions as sessions_module
from snapfix_gateway.identity.revocations import STREAM
from snapfix_gateway.identity.sessions import RefreshRejected, Sessions
from tests.stack import Stack

pytestmark = pytest.mark.integration


async def test_the_revocation_of_a_replayed_refresh_token_survives_a_failed_announcement(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = Redis.from_url(stack.redis_url)
    sessions = Sessions(redis, 3600)
    real_announce = sessions_module.announce
    attempts: list[list[str]] = []

    async def flaky(redis: Redis, session_ids: Any, *, keep_s: float) -> None:
        attempts.append(list(session_ids))
        if len(attempts) == 1:
            raise RedisConnectionError("a blip")
        await real_announce(redis, session_ids, keep_s=keep_s)

    try:
        session_id, refresh = await sessions.create(f"u-{uuid4().hex[:8]}", "citizen", ())
        _, rotated = await sessions.rotate(refresh)
        assert rotated != refresh
        monkeypatch.setattr(sessions_module, "announce", flaky)
        with pytest.raises(RefreshRejected) as refused:
            await sessions.rotate(refresh)  # the old one again: a thief or a replay
        assert refused.value.outcome == "reused"
        assert attempts == [[session_id], [session_id]]
        announced = await redis.xrevrange(STREAM, count=50)
        assert session_id.encode() in {fields[b"sid"] for _, fields in announced}
        assert await sessions.get(session_id) is None
    finally:
        await redis.aclose()
