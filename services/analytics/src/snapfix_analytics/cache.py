"""Cache-aside for the query API in the analytics Redis.

Keys: ``analytics:<database>:q:<generation>:<digest of the query>``. The consumer bumps
the generation after every applied batch, so an answer never outlives the data it was
computed from (old generations expire on their TTL); while nothing changes, repeated
dashboard queries are answered from Redis. Redis down: the query is computed directly.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
CacheUnavailable = RedisError  # what callers catch, so that they need no redis import


class QueryCache:
    def __init__(self, redis: Redis, *, database: str, ttl_s: int) -> None:
        self.redis, self.ttl_s = redis, ttl_s
        self.prefix = f"analytics:{database}:"

    async def invalidate(self) -> None:
        await self.redis.incr(self.prefix + "gen")

    async def get_or_compute(self, query: str, compute: Callable[[], Awaitable[bytes]]) -> tuple[bytes, bool]:
        """The answer to ``query`` and whether it came from the cache."""
        digest = hashlib.sha256(query.encode()).hexdigest()[:32]
        try:
            stored = await self.redis.get(self.prefix + "gen")
            generation = stored.decode() if isinstance(stored, bytes) else "0"
            key = f"{self.prefix}q:{generation}:{digest}"
            cached = await self.redis.get(key)
        except RedisError as exc:
            log.warning("analytics query cache bypassed: %r", exc)
            return await compute(), False
        if isinstance(cached, bytes):
            return cached, True
        body = await compute()
        try:
            await self.redis.set(key, body, ex=self.ttl_s)
        except RedisError as exc:
            log.warning("analytics query cache not filled: %r", exc)
        return body, False
