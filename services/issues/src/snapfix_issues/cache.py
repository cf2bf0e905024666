"""The issues service's Redis cache: keys, TTLs and cache-aside reads of stored issues.

The cache holds the stored issue and its comments (not a rendered view): each reader
gets its own rendering (an anonymous reporter, internal comments), from one entry.
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

# What a cached entry leaves out: only the command side needs it, and it only grows.
NOT_CACHED = {"events", "applied_commands"}


def issue_key(issue_id: UUID) -> str:
    return f"issues:issue:{issue_id}"


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
    """Cache-aside; a Redis failure degrades to a miss, never to an error."""

    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self.redis, self.ttl_s = redis, ttl_s

    async def get(self, issue_id: UUID) -> CachedIssue | None:
        try:
            raw = await self.redis.get(issue_key(issue_id))
        except RedisError:
            return None
        if not raw:
            return None
        try:
            return CachedIssue.loads(raw)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError):  # an older shape: a miss
            return None

    async def put(self, entry: CachedIssue) -> None:
        with contextlib.suppress(RedisError):
            await self.redis.set(issue_key(entry.issue.id), entry.dumps(), ex=self.ttl_s)

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
        keys = [issue_key(i) for i in issue_ids]
        if keys:
            with contextlib.suppress(RedisError):
                await self.redis.delete(*keys)
