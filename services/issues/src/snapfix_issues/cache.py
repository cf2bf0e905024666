"""The issues service's Redis cache: keys, TTLs and cache-aside reads of public views."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from uuid import UUID

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError


def issue_key(issue_id: UUID) -> str:
    return f"issues:issue:{issue_id}"


class IssueCache:
    """Cache-aside; a Redis failure degrades to a miss, never to an error."""

    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self.redis, self.ttl_s = redis, ttl_s

    async def get(self, issue_id: UUID) -> dict[str, object] | None:
        try:
            raw = await self.redis.get(issue_key(issue_id))
        except RedisError:
            return None
        return orjson.loads(raw) if raw else None

    async def put(self, issue_id: UUID, view: dict[str, object]) -> None:
        with contextlib.suppress(RedisError):
            await self.redis.set(issue_key(issue_id), orjson.dumps(view), ex=self.ttl_s)

    async def put_many(self, views: Mapping[UUID, dict[str, object]]) -> None:
        """Warm the cache with reports just created, so the reporter's first read is a hit."""
        if not views:
            return
        with contextlib.suppress(RedisError):
            async with self.redis.pipeline(transaction=False) as pipe:
                for issue_id, view in views.items():
                    pipe.set(issue_key(issue_id), orjson.dumps(view), ex=self.ttl_s)
                await pipe.execute()

    async def invalidate(self, issue_ids: Iterable[UUID]) -> None:
        keys = [issue_key(i) for i in issue_ids]
        if keys:
            with contextlib.suppress(RedisError):
                await self.redis.delete(*keys)
