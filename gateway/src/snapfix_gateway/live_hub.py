"""One Redis reader per gateway process, fanned out in-process to its Server-Sent Events.

The consumer (``live``) appends each update to its users' streams (``gw:live:{user}``,
the durable record a client resumes from) and one entry naming them to the feed
(``gw:live:feed``). Here, one task per process reads the feed with one blocking XREAD
on its own connection and hands each entry to the connections of the users it names
that this process holds. Other Redis work of the live path (where "now" is on a user's
stream, catching a connection up after ``Last-Event-ID`` or after it fell behind, the
periodic session check) are short calls on the process's pool, which is bounded
(``redis_max_connections``; a call finding it busy waits), at most
``live_redis_connections`` of them at once however many clients are connected: a
burst of streams leaves the other requests their share. So the process holds at most
``redis_max_connections`` + 1 Redis connections for any number of streams (+ 1 more for
the revocation feed).

Why a feed stream rather than pub/sub: a reader that loses its connection resumes from
the feed id it had reached (nothing published meanwhile is lost); only a reader behind by
more than the feed's cap, or a Redis that lost the feed, makes every connection catch up
from its own stream (bounded by the same connections). Why not one XREAD over every
connected user's key: each call would name up to 10,000 keys, and be repeated after every
update.

Each connection keeps a short queue of ready frames; one that overflows (a client reading
slower than its updates come) is dropped and the connection catches up from its stream
instead, so memory per connection is bounded. Ids are compared as Redis stream ids, so
an update met both in a catch-up and in the feed is sent once. Heartbeats (an SSE comment)
and the session check are driven by one ticker per process, not a task per connection.

A connection's queue is a ``Listener`` (``live_listener``, with the frames and stream ids); its response,
``LiveResponse``, is in ``live_response``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import orjson
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from sse_starlette.sse import AppStatus

from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.live import FEED_KEY, stream_key
from snapfix_gateway.live_listener import Listener, StreamRefused, frame, parse_id, session_key
from snapfix_shared.redis_client import RedisBusy, redis_client
from snapfix_shared.runtime import Runtime
from snapfix_shared.tasks import cancelled

log = logging.getLogger(__name__)

T = TypeVar("T")
CATCH_UP_PAGE = 100
HEARTBEAT = b": ping\n\n"
SESSION_PAGE = 500
POOL_RETRIES = (0.1, 0.4)

STREAMS = Gauge("snapfix_gateway_live_streams", "Live update streams (GET /v1/events) open in this process")
REFUSED = Counter("snapfix_gateway_live_refused_total", "Live update streams refused", ["reason"])
DELIVERED = Counter("snapfix_gateway_live_delivered_total", "Live updates handed to connections by the feed reader")
CATCH_UPS = Counter("snapfix_gateway_live_catch_ups_total", "Connections caught up from their own stream")


class LiveHub:
    def __init__(
        self, settings: GatewaySettings, redis: Redis, revoked: Callable[[str], bool] = lambda _session: False
    ) -> None:
        self.settings = settings
        # This process's revocation set (``identity.revocations``): a stream ends within a second
        # of its session's end, with no Redis call; the slower check below also catches the rest.
        self.revoked = revoked
        self.block_ms = int(settings.live_block_s * 1000)
        # The reader's connection: one task uses it, one call at a time.
        self.reader_redis = redis_client(settings, socket_timeout=settings.live_block_s + 5)
        # Everything else of the live path: short calls on the process's (bounded) pool, at most
        # live_redis_connections at once, so a storm of reconnecting streams leaves requests the rest.
        self.redis = redis
        self._slots = asyncio.Semaphore(settings.live_redis_connections)
        self._by_user: dict[str, set[Listener]] = {}
        self.count = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.feed_position = "0-0"
        self.reader_connected = asyncio.Event()

    @classmethod
    def started_with(
        cls, runtime: Runtime, settings: GatewaySettings, revoked: Callable[[str], bool] = lambda _session: False
    ) -> LiveHub:
        """A hub that starts and stops with ``runtime``."""
        assert runtime.redis is not None
        hub = cls(settings, runtime.redis, revoked)
        runtime.on_startup.append(hub.start)
        runtime.on_shutdown.append(hub.stop)
        return hub

    # -- connections ----------------------------------------------------------------------

    def open(self, user_id: str, session_id: str) -> Listener:
        """A new stream for ``user_id``, registered before its start is read, so nothing falls between."""
        mine = self._by_user.get(user_id, set())
        if len(mine) >= self.settings.live_streams_per_user:
            REFUSED.labels("per_user").inc()
            raise StreamRefused("per_user")
        if self.count >= self.settings.live_max_streams:
            REFUSED.labels("process").inc()
            raise StreamRefused("process")
        listener = Listener(user_id, session_id)
        self._by_user.setdefault(user_id, set()).add(listener)
        self.count += 1
        STREAMS.inc()
        return listener

    def close(self, listener: Listener) -> None:
        mine = self._by_user.get(listener.user_id)
        if mine is None or listener not in mine:
            return
        mine.discard(listener)
        if not mine:
            del self._by_user[listener.user_id]
        self.count -= 1
        STREAMS.dec()
        listener.wake(close=True)

    def listeners(self) -> list[Listener]:
        return [listener for mine in self._by_user.values() for listener in mine]

    async def call(self, work: Callable[[Redis], Awaitable[T]]) -> T:
        """One call of the live path on the process's pool, at most live_redis_connections at once.

        A connection not free in time (a burst of requests holds the bounded pool) is waited for
        a little longer, twice, before the caller is told (then a stream answers 503).
        """
        async with self._slots:
            for pause in POOL_RETRIES:
                try:
                    return await work(self.redis)
                except (RedisBusy, RedisConnectionError):
                    await asyncio.sleep(pause * (0.5 + random.random()))  # noqa: S311 - jitter
            return await work(self.redis)

    async def start_at(self, listener: Listener, last_event_id: str | None) -> str | None:
        """Where ``listener`` starts: after ``last_event_id`` (caught up first), else now (the id returned)."""
        if last_event_id is not None:
            listener.start(parse_id(last_event_id))
            listener.catch_up = True
            return None
        latest: Any = await self.call(lambda r: r.xrevrange(stream_key(listener.user_id), count=1))
        position = latest[0][0].decode() if latest else "0-0"
        listener.start(parse_id(position))
        return position

    async def frames(self, listener: Listener, ready: str | None) -> AsyncIterator[bytes]:
        """The stream's bytes: ``ready`` first (if given), then updates and heartbeats until closed."""
        if ready is not None:
            # Tells the client where "now" is, so even a quiet stream has an id to resume from.
            yield frame(ready, b"ready", b"{}")
        while not listener.closed:
            if listener.catch_up:
                listener.catch_up = False
                listener.pending.clear()  # the catch-up reads past them
                async for chunk in self._catch_up(listener):
                    yield chunk
            while listener.pending and not listener.catch_up:
                entry_id, chunk = listener.pending.popleft()
                if listener.to_send(entry_id):
                    yield chunk
            if listener.heartbeat:
                listener.heartbeat = False
                yield HEARTBEAT
            if not (listener.pending or listener.catch_up or listener.closed):
                await listener.wait()

    async def _catch_up(self, listener: Listener) -> AsyncIterator[bytes]:
        CATCH_UPS.inc()
        key = stream_key(listener.user_id)
        while True:
            start = "({}-{}".format(*listener.position)
            entries: Any = await self.call(lambda r, s=start: r.xrange(key, min=s, count=CATCH_UP_PAGE))  # type: ignore[misc]
            for entry_id, fields in entries:
                if listener.to_send(parse_id(entry_id)):
                    yield frame(entry_id.decode(), fields[b"type"], fields[b"data"])
            if len(entries) < CATCH_UP_PAGE:
                return

    # -- the reader and the ticker --------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._read_feed(), name="live-feed-reader"),
            asyncio.create_task(self._tick(), name="live-ticker"),
        ]

    async def stop(self) -> None:
        for listener in self.listeners():
            self.close(listener)
        await cancelled(*self._tasks)
        await self.reader_redis.aclose()

    async def _read_feed(self) -> None:
        position: str | None = None
        backoff = 0.1
        while True:
            try:
                if position is None:
                    # Pinned to a concrete id, so nothing appended between two reads is skipped; whatever
                    # came before (a first start, or after a lost feed) each connection reads from its stream.
                    latest: Any = await self.reader_redis.xrevrange(FEED_KEY, count=1)
                    position = latest[0][0].decode() if latest else "0-0"
                    self._resync_all()
                self.feed_position = position
                self.reader_connected.set()
                replies: Any = await self.reader_redis.xread({FEED_KEY: position}, block=self.block_ms, count=500)
                backoff = 0.1
                entries = replies[0][1] if replies else []
                if len(entries) == 500 and await self._lost_some(position):
                    position = None
                    continue
                for entry_id, fields in entries:
                    position = entry_id.decode()
                    self._dispatch(fields)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.reader_connected.clear()
                log.warning("live feed: %r; reading again in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                # Redis may have restarted without the feed: then start again from its end.
                position = await self._still_there(position)
            except Exception:
                log.exception("live feed: an entry could not be handed out")

    async def _still_there(self, position: str | None) -> str | None:
        if position is None or position == "0-0":
            return None
        try:
            first: Any = await self.reader_redis.xrange(FEED_KEY, count=1)
        except (RedisError, OSError):
            return position  # asked again on the next turn
        return position if first and parse_id(first[0][0]) <= parse_id(position) else None

    async def _lost_some(self, position: str) -> bool:
        """Behind by a full read: did the feed's cap trim entries this reader had not read?"""
        info: Any = await self.reader_redis.xinfo_stream(FEED_KEY)
        deleted = info.get("max-deleted-entry-id") or info.get(b"max-deleted-entry-id")
        lost = deleted is not None and parse_id(deleted) > parse_id(position)
        if lost:
            log.warning("live feed: this reader fell behind the feed's cap; every connection catches up")
        return lost

    def _resync_all(self) -> None:
        for listener in self.listeners():
            listener.wake(catch_up=True)

    def _dispatch(self, fields: dict[bytes, bytes]) -> None:
        users: dict[str, str] = orjson.loads(fields[b"users"])
        kind, data = fields[b"type"], fields[b"data"]
        for user_id, entry_id in users.items():
            mine = self._by_user.get(user_id)
            if not mine:
                continue
            chunk = frame(entry_id, kind, data)
            parsed = parse_id(entry_id)
            for listener in mine:
                listener.offer(parsed, chunk)
                DELIVERED.inc()

    async def _tick(self) -> None:
        heartbeat_at = session_check_at = time.monotonic()
        while True:
            await asyncio.sleep(1)
            try:
                self._end_stopped_or_revoked()
                now = time.monotonic()
                if now - heartbeat_at >= self.settings.live_heartbeat_s:
                    heartbeat_at = now
                    for listener in self.listeners():
                        listener.wake(heartbeat=True)
                if now - session_check_at >= self.settings.live_session_check_s:
                    session_check_at = now
                    await self._end_ended_sessions()
            except asyncio.CancelledError:
                raise
            except Exception:  # a tick that fails must not end heartbeats and checks for good
                log.exception("live: a tick failed; ticking on")

    def _end_stopped_or_revoked(self) -> None:
        # The server is stopping: end every stream, so it need not wait for them. Else end those signed
        # out on any replica (a second ago at most).
        stopping = AppStatus.should_exit
        for listener in self.listeners():
            if stopping or self.revoked(listener.session_id):
                self.close(listener)

    async def active_sessions(self, session_ids: list[str]) -> set[str]:
        """Those of ``session_ids`` whose session still exists (pipelined, a page per call)."""
        active: set[str] = set()
        for start in range(0, len(session_ids), SESSION_PAGE):
            page = session_ids[start : start + SESSION_PAGE]

            async def exists(redis: Redis, page: list[str] = page) -> list[Any]:
                async with redis.pipeline(transaction=False) as pipe:
                    for session_id in page:
                        pipe.exists(session_key(session_id))
                    return await pipe.execute()

            found = await self.call(exists)
            active.update(session_id for session_id, n in zip(page, found, strict=True) if n)
        return active

    async def _end_ended_sessions(self) -> None:
        """Streams end with their session (signed out, or every session ended by a password reset)."""
        listeners = self.listeners()
        ids = sorted({listener.session_id for listener in listeners})
        try:
            active = await self.active_sessions(ids)
        except (RedisError, OSError) as exc:
            log.warning("live: sessions not checked this time: %r", exc)
            return
        for listener in listeners:
            if listener.session_id not in active:
                self.close(listener)
