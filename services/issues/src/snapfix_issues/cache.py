"""The issues service's Redis cache: keys, TTLs and cache-aside reads of stored issues.

The cache holds the stored issue and its comments (not a rendered view): each reader
gets its own rendering (an anonymous reporter, internal comments), from one entry.

Each issue has a generation counter, bumped by every write after it is stored. A reader
notes the generation before it reads the store and caches what it read only if the
generation is still the same; so a read that raced a write never puts the older state
back (the plain cache-aside race). Both keys share a hash tag (Redis Cluster).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

import orjson
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from snapfix_issues.domain import CommentRecord, IssueRecord
from snapfix_shared.breakers import REDIS_DOWN, Breakers, CircuitOpen

# What a cached entry leaves out: only the command side needs it, and it only grows.
NOT_CACHED = {"events", "applied_commands"}


# Long enough to outlive any read in flight; a counter that expired restarts at 0.
GENERATION_TTL_S = 24 * 3600

_PUT_IF_CURRENT = """
local generation = redis.call('GET', KEYS[2]) or '0'
if generation == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


def issue_key(issue_id: UUID) -> str:
    return f"issues:{{{issue_id}}}:issue"


def generation_key(issue_id: UUID) -> str:
    return f"issues:{{{issue_id}}}:generation"


@dataclass(frozen=True)
class CachedIssue:
    issue: IssueRecord
    comments: tuple[CommentRecord, ...] = ()

    def dumps(self) -> bytes:
        return orjson.dumps(
            {
                "issue": self.issue.model_dump(mode="json", exclude=NOT_CACHED),
                "comments": [c.model_dump(mode="json") for c in self.comments],
            }
        )

    @classmethod
    def loads(cls, raw: bytes | str) -> CachedIssue:
        data = orjson.loads(raw)
        return cls(
            IssueRecord.model_validate(data["issue"]),
            tuple(CommentRecord.model_validate(c) for c in data["comments"]),
        )


class IssueCache:
    """Cache-aside; a Redis failure degrades to a miss, never to an error.

    Reads go through the ``redis`` circuit, so while Redis is down they are skipped at once
    instead of each waiting out its timeout. Invalidations always try: skipping one could
    leave a stale entry behind when Redis comes back.
    """

    def __init__(self, redis: Redis, ttl_s: int, breakers: Breakers | None = None) -> None:
        self.redis, self.ttl_s = redis, ttl_s
        self.breakers = breakers or Breakers("issues")
        self._put_if_current = redis.register_script(_PUT_IF_CURRENT)

    async def generation(self, issue_id: UUID) -> str | None:
        """The issue's write generation, noted before reading the store (None: Redis is down)."""
        try:
            async with self.breakers.guard("redis", REDIS_DOWN):
                raw = await self.redis.get(generation_key(issue_id))
        except (RedisError, CircuitOpen):
            return None
        return raw.decode() if isinstance(raw, bytes) else (raw or "0")

    async def get(self, issue_id: UUID) -> CachedIssue | None:
        try:
            async with self.breakers.guard("redis", REDIS_DOWN):
                raw = await self.redis.get(issue_key(issue_id))
        except (RedisError, CircuitOpen):
            return None
        if not raw:
            return None
        try:
            return CachedIssue.loads(raw)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError):  # an older shape: a miss
            return None

    async def put(self, entry: CachedIssue, generation: str | None) -> bool:
        """Cache what was read at ``generation``, unless a write has come since; True if cached."""
        if generation is None:
            return False
        issue_id = entry.issue.id
        try:
            async with self.breakers.guard("redis", REDIS_DOWN):
                stored = await self._put_if_current(
                    keys=[issue_key(issue_id), generation_key(issue_id)],
                    args=[generation, entry.dumps(), self.ttl_s],
                )
        except (RedisError, CircuitOpen):
            return False
        return bool(stored)

    async def put_many(self, entries: Sequence[CachedIssue]) -> None:
        """Warm the cache with reports just created, so the reporter's first read is a hit."""
        if not entries:
            return
        with contextlib.suppress(RedisError):
            async with self.redis.pipeline(transaction=False) as pipe:
                for entry in entries:
                    pipe.set(issue_key(entry.issue.id), entry.dumps(), ex=self.ttl_s)
                await pipe.execute()

    async def invalidate(self, issue_ids: Iterable[UUID]) -> None:
        """After a write is stored: a new generation, and the cached entry gone."""
        ids = list(issue_ids)
        if not ids:
            return
        with contextlib.suppress(RedisError):
            async with self.redis.pipeline(transaction=False) as pipe:
                for issue_id in ids:
                    pipe.incr(generation_key(issue_id))
                    pipe.expire(generation_key(issue_id), GENERATION_TTL_S)
                    pipe.delete(issue_key(issue_id))
                await pipe.execute()
