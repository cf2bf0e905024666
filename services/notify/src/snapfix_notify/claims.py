"""Send claims in Redis: who may send a delivery now, for how long (a lease).

``SET key token NX PX lease``: one claimant at a time, across workers and instances, and a
claim whose holder died lapses by itself. The outbox in Mongo stays untouched on the hot
path (FerretDB scans a collection for every update, so updates are kept for rare events).
The durable "sent" mark is the delivery's Outcome, never this claim.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

PREFIX = "notify:claim:"


class Claims:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def take(self, keys: Sequence[str], token: str, lease_s: float) -> list[str]:
        """The keys this token now holds (the others are held by someone else)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(PREFIX + key, token, nx=True, px=int(lease_s * 1000))
            results = await pipe.execute()
        return [key for key, ok in zip(keys, results, strict=True) if ok]

    async def release(self, keys: Sequence[str]) -> None:
        if keys:
            await self.redis.delete(*(PREFIX + k for k in keys))
