"""Due times and send leases in Redis: one sorted set per kind of work (emails and in-app
notices, webhook deliveries), scored by when each item may be tried next.

- ``add`` puts recorded items in at their due time (``ZADD NX``: an item already there keeps
  its time, so a redelivered event never brings a leased or postponed item forward);
- ``take`` atomically (one Lua script) takes up to ``limit`` due items and moves each to
  ``now + lease``: one holder at a time across workers and instances, and the item of a
  holder that died is due again once its lease lapses;
- ``later`` postpones an item (a retry with backoff), ``done`` takes it out for good.

Mongo stays the store of record (the records, their outcomes). The set is its index of
what is left to do, rebuilt from the store when it is missing (``ready`` / ``mark_ready``):
FerretDB answers no query from an index, so the hot path never asks it "what is due?".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from redis.asyncio import Redis

# Returns [id, previous score, ...]: the previous score tells the caller whether anyone held the item before.
_TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due, 2 do redis.call('ZADD', KEYS[1], 'XX', ARGV[3], due[i]) end
return due
"""


class DueQueue:
    def __init__(self, redis: Redis, key: str) -> None:
        self.redis, self.key = redis, key
        self._ready_key = f"{key}:ready"
        self._take = redis.register_script(_TAKE)

    async def add(self, due: Mapping[str, float]) -> None:
        if due:
            await self.redis.zadd(self.key, dict(due), nx=True)

    async def take(self, now: float, lease_s: float, limit: int) -> list[tuple[str, float]]:
        """Up to ``limit`` due items, now leased for ``lease_s``, each with the score it had (its due time)."""
        if limit <= 0:
            return []
        flat = await self._take(keys=[self.key], args=[repr(now), limit, repr(now + lease_s)])
        return [(_text(flat[i]), float(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def later(self, key: str, at: float) -> None:
        await self.redis.zadd(self.key, {key: at}, xx=True)

    async def done(self, keys: Sequence[str]) -> None:
        if keys:
            await self.redis.zrem(self.key, *keys)

    def _awaiting(self, recipient_id: str) -> str:
        return f"{self.key}:awaiting:{recipient_id}"

    async def await_contact(self, recipient_id: str, key: str, ttl_s: float) -> None:
        """``key`` waits for its recipient's contact: ``contact_known`` makes it due at once."""
        waiting = self._awaiting(recipient_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(waiting, key)
            pipe.expire(waiting, max(1, int(ttl_s)))
            await pipe.execute()

    async def contact_known(self, recipient_id: str, now: float) -> int:
        """The keys waiting for this recipient's contact, due now (only those still queued); how many."""
        waiting = self._awaiting(recipient_id)
        keys = [_text(k) for k in await self.redis.smembers(waiting)]
        if keys:
            await self.redis.zadd(self.key, dict.fromkeys(keys, now), xx=True)
            await self.redis.srem(waiting, *keys)
        return len(keys)

    async def ready(self) -> bool:
        """False when the set was never built from the store, or Redis lost it."""
        return bool(await self.redis.exists(self._ready_key))

    async def mark_ready(self) -> None:
        await self.redis.set(self._ready_key, "1")

    async def size(self) -> int:
        return int(await self.redis.zcard(self.key))


# At shutdown in-flight sends get this long, then are cut: not finished (a send waiting on a
# receiver that never answers would hold the stop for its whole timeout).
STOP_GRACE_S = 1.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def finish_or_cut(tasks: set[asyncio.Task[None]], timeout_s: float = STOP_GRACE_S) -> None:
    """At shutdown: let in-flight sends finish within ``timeout_s``, then cancel what is left.

    A cut send has no outcome recorded: its lease lapses and it is due again (at most a
    repeat, which a deterministic id lets a receiver drop). Left running, it would hold
    the shutdown past the deployment's grace period.
    """
    if not tasks:
        return
    _, pending = await asyncio.wait(set(tasks), timeout=timeout_s)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1)
