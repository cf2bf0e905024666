"""Whole issues in the issues service's Redis: the detail read model, written through by the consumer.

An entry holds the stored issue and its comments (not a rendered view): each reader
gets its own rendering (an anonymous reporter, internal comments), from one entry. The
consumer writes each new state as it stores it (``store``, ``add_comment``), without
expiry; a reader that misses reads the store and fills the entry (cache-aside, with a TTL).

Each issue has a generation counter, bumped by every write after it is stored. A reader
notes the generation before it reads the store and caches what it read only if the
generation is still the same; so a read that raced a write never puts the older state
back (the plain cache-aside race). Both keys share a hash tag (Redis Cluster).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from snapfix_issues.domain import CommentRecord, IssueRecord
from snapfix_issues.readmodel import ReadModelDown, run_batched
from snapfix_shared.breakers import REDIS_DOWN, Breakers, CircuitOpen

# Long enough to outlive any read in flight; a counter that expired restarts at 0.
GENERATION_TTL_S = 24 * 3600

# KEYS: entry, generation of each issue; ARGV: the generations' TTL, then each entry.
_STORE = """
for i = 1, #KEYS, 2 do
  redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], ARGV[1])
  redis.call('SET', KEYS[i], ARGV[(i + 1) / 2 + 1])
end
return 1
"""

# A comment joins the entry it belongs to, spliced into the stored JSON (which ends with the
# comments' list: see ``CachedIssue.dumps``); without an entry, the next reader fills one.
_ADD_COMMENT = """
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
if string.find(raw, ARGV[3], 1, true) then return 1 end
if string.sub(raw, -2) ~= ']}' then
  redis.call('DEL', KEYS[1])
  return 0
end
local body = string.sub(raw, 1, -3)
local sep = ','
if string.sub(body, -1) == '[' then sep = '' end
redis.call('SET', KEYS[1], body .. sep .. ARGV[1] .. ']}', 'KEEPTTL')
return 1
"""

# A rebuild fills only what no writer has put there since Redis was emptied. KEYS/ARGV: entry of each.
_FILL = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then redis.call('SET', KEYS[i], ARGV[i]) end
end
return 1
"""

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
                # With the commands applied and their events: the consumer knows a redelivery by them.
                "issue": self.issue.model_dump(mode="json"),
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
    """Reads degrade to a miss when Redis fails; writes raise ``ReadModelDown``, never pass silently.

    Reads go through the ``redis`` circuit, so while Redis is down they are skipped at once
    instead of each waiting out its timeout. Writes always try: skipping one could leave a
    stale entry behind when Redis comes back, so the consumer retries and does not commit.
    """

    def __init__(self, redis: Redis, ttl_s: int, breakers: Breakers | None = None) -> None:
        self.redis, self.ttl_s = redis, ttl_s
        self.breakers = breakers or Breakers("issues")
        self._put_if_current = redis.register_script(_PUT_IF_CURRENT)
        self._store = redis.register_script(_STORE)
        self._add_comment = redis.register_script(_ADD_COMMENT)
        self._fill = redis.register_script(_FILL)

    async def generation(self, issue_id: UUID) -> str | None:
        """The issue's write generation, noted before reading the store (None: Redis is down)."""
        try:
            async with self.breakers.guard("redis", REDIS_DOWN):
                raw = await self.redis.get(generation_key(issue_id))
        except (RedisError, CircuitOpen):
            return None
        return raw.decode() if isinstance(raw, bytes) else (raw or "0")

    async def raw(self, issue_id: UUID) -> bytes | None:
        """The entry's bytes as Redis holds them (None: a miss, or Redis is down)."""
        try:
            async with self.breakers.guard("redis", REDIS_DOWN):
                raw = await self.redis.get(issue_key(issue_id))
        except (RedisError, CircuitOpen):
            return None
        if not raw:
            return None
        return raw.encode() if isinstance(raw, str) else raw

    async def get(self, issue_id: UUID) -> CachedIssue | None:
        raw = await self.raw(issue_id)
        if raw is None:
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

    async def store(self, entries: Sequence[CachedIssue]) -> None:
        """Write through: each entry as just stored, a new generation (so no raced read lands after it)."""
        items = [([issue_key(e.issue.id), generation_key(e.issue.id)], [e.dumps()]) for e in entries]
        await self._batched(self._store, items, [GENERATION_TTL_S])

    async def add_comment(self, comment: CommentRecord) -> None:
        """Write through a new comment; the issue's entry, if any, gains it once."""
        args = [orjson.dumps(comment.model_dump(mode="json")), GENERATION_TTL_S, str(comment.id)]
        keys = [issue_key(comment.issue_id), generation_key(comment.issue_id)]
        await self._batched(self._add_comment, [(keys, args)])

    async def fill(self, entries: Sequence[CachedIssue]) -> None:
        """A rebuild's entries, where no writer has put one since."""
        await self._batched(self._fill, [([issue_key(e.issue.id)], [e.dumps()]) for e in entries])

    async def invalidate(self, issue_ids: Iterable[UUID]) -> None:
        """After a write is stored whose new state is not at hand: a new generation, the entry gone."""
        ids = list(issue_ids)
        if not ids:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for issue_id in ids:
                    pipe.incr(generation_key(issue_id))
                    pipe.expire(generation_key(issue_id), GENERATION_TTL_S)
                    pipe.delete(issue_key(issue_id))
                await pipe.execute()
        except RedisError as exc:
            raise ReadModelDown(f"issue entries not invalidated: {exc!r}") from exc

    async def _batched(
        self, script: AsyncScript, items: Sequence[tuple[list[str], list[Any]]], shared: Sequence[Any] = ()
    ) -> None:
        try:
            await run_batched(self.redis, script, items, shared)
        except RedisError as exc:
            raise ReadModelDown(f"{len(items)} issue entries not written: {exc!r}") from exc
