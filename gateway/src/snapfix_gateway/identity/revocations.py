"""Revoked sessions, known in every gateway process without a Redis call per request.

A logout, a password reset or a replayed refresh token appends the session id to one Redis
stream (``gw:revoked``; an entry's id is the revocation time). Each process reads the
stream's last ``keep_s`` once (at start and after every reconnect), then follows it with a
blocking ``XREAD``: a revocation reaches every replica within milliseconds.

The feed is *fresh* while its last read covered the stream up to ``max_lag_s`` ago. Access
tokens are trusted on their signature alone only while it is fresh; otherwise the caller
asks Redis for the session itself (see ``deps.get_optional_principal``), so a lost feed can
never hide a revocation for longer than ``max_lag_s``. Entries older than ``keep_s`` (the
access token's lifetime and a margin) no longer matter: no token of that session is valid.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from snapfix_shared.tasks import cancelled

log = logging.getLogger(__name__)

STREAM = "gw:revoked"
_PAGE = 1000

# With several workers (Prometheus in multiprocess mode): fresh only while every worker's feed is.
FEED_FRESH = Gauge(
    "snapfix_gateway_revocation_feed_fresh",
    "1 while the revocation feed is fresh, else 0",
    multiprocess_mode="min",
)
REVOKED_KNOWN = Gauge(
    "snapfix_gateway_revoked_sessions", "Revoked sessions this process knows of", multiprocess_mode="max"
)


async def announce(redis: Redis, session_ids: Iterable[str], *, keep_s: float) -> None:
    """Append the sessions to the stream (one round trip), trimming what no longer matters."""
    min_id = f"{int((time.time() - keep_s) * 1000)}-0"
    async with redis.pipeline(transaction=False) as pipe:  # one key, one slot: one node on a cluster
        for session_id in session_ids:
            pipe.xadd(STREAM, {"sid": session_id}, minid=min_id, approximate=True)
        await pipe.execute()


def _ms(entry_id: bytes | str) -> int:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.partition("-")[0])


def _ended(task: asyncio.Task[None]) -> None:
    FEED_FRESH.set(0)
    if not task.cancelled() and task.exception() is not None:
        # Safe (every request then asks Redis for its session) but slower: say so loudly.
        log.error("the revocation feed stopped", exc_info=task.exception())


class Revocations:
    """This process's copy of the revoked sessions, fed from the stream."""

    def __init__(self, redis: Redis, *, keep_s: float, max_lag_s: float = 1.0, block_s: float = 0.25) -> None:
        # ``redis`` is used for blocking reads only: its socket timeout must exceed ``block_s``.
        self.redis, self.keep_s, self.max_lag_s, self.block_s = redis, keep_s, max_lag_s, block_s
        self._until: dict[str, float] = {}  # session id -> wall time after which it no longer matters
        self._fresh_as_of = float("-inf")  # monotonic time up to which the stream has been read
        self._task: asyncio.Task[None] | None = None
        self._pruned_at = 0.0

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self._fresh_as_of <= self.max_lag_s

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self._until

    def note(self, session_ids: Iterable[str], *, at: float | None = None) -> None:
        """Known here at once (the request that revoked them ran in this process)."""
        until = (at if at is not None else time.time()) + self.keep_s
        for session_id in session_ids:
            self._until[session_id] = max(until, self._until.get(session_id, 0.0))
        REVOKED_KNOWN.set(len(self._until))

    async def start(self) -> None:
        self._task = asyncio.create_task(self.follow(), name="revocation-feed")
        self._task.add_done_callback(_ended)

    async def stop(self) -> None:
        await cancelled(self._task)

    async def follow(self) -> None:
        """Runs for the life of the process: reload, then follow; after an error, the same again."""
        pause = 0.1
        while True:
            try:
                position = await self._reload()
                pause = 0.1
                while True:
                    position = await self._read_after(position)
                    self._prune()
            except (RedisError, OSError) as exc:
                FEED_FRESH.set(0)
                log.warning("revocation feed lost (%r); requests check sessions in Redis until it is back", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def _reload(self) -> str:
        """Every revocation that still matters; returns the id to follow from."""
        sent = time.monotonic()
        start = f"{int((time.time() - self.keep_s) * 1000)}-0"
        position = start
        while True:
            entries: Any = await self.redis.xrange(
                STREAM, min=position if position == start else f"({position}", count=_PAGE
            )
            self._apply(entries)
            if entries:
                position = entries[-1][0].decode()
            if len(entries) < _PAGE:
                break
        self._fresh_as_of = sent
        FEED_FRESH.set(1)
        return position

    async def _read_after(self, position: str) -> str:
        sent = time.monotonic()
        block_ms = int(self.block_s * 1000)
        batches: Any = await self.redis.xread({STREAM: position}, block=block_ms, count=_PAGE)
        entries = [entry for _, stream_entries in batches or () for entry in stream_entries]
        self._apply(entries)
        # An empty answer came after the server waited block_ms for news: the stream is read
        # up to then. Entries answered at once cover the stream up to when the read was sent.
        self._fresh_as_of = sent + (self.block_s if not entries else 0.0)
        FEED_FRESH.set(1)
        return entries[-1][0].decode() if entries else position

    def _apply(self, entries: list[Any]) -> None:
        for entry_id, fields in entries:
            session_id = fields.get(b"sid")
            if session_id:
                self.note([session_id.decode()], at=_ms(entry_id) / 1000)

    def _prune(self) -> None:
        now = time.time()
        if now - self._pruned_at < 5:
            return
        self._pruned_at = now
        self._until = {sid: until for sid, until in self._until.items() if until > now}
        REVOKED_KNOWN.set(len(self._until))
