"""The ``text/event-stream`` response of one live connection: it sends what the hub queues for its listener,
and ends the listener when the client hangs up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from redis.exceptions import RedisError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from snapfix_gateway.live_hub import LiveHub
from snapfix_gateway.live_listener import Listener
from snapfix_shared.tasks import cancelled

log = logging.getLogger(__name__)


class LiveResponse(Response):
    """A ``text/event-stream`` response fed by ``frames``; a task of its own only to notice a hang-up."""

    media_type = "text/event-stream"

    def __init__(self, hub: LiveHub, listener: Listener, frames: AsyncIterator[bytes]) -> None:
        super().__init__()
        self.hub, self.listener, self.frames = hub, listener, frames

    async def __call__(self, _scope: Scope, receive: Receive, send: Send) -> None:
        listener = self.listener
        watcher = asyncio.create_task(_hang_up(receive, lambda: self.hub.close(listener)))
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-store"),
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            async for chunk in self.frames:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not _gone(watcher):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, RedisError) as exc:  # the client left, or Redis failed a catch-up: the client reconnects
            log.debug("live stream ended: %r", exc)
        finally:
            self.hub.close(listener)
            await cancelled(watcher)


def _gone(watcher: asyncio.Task[None]) -> bool:
    return watcher.done()


def _hang_up(receive: Receive, then: Callable[[], None]) -> Coroutine[Any, Any, None]:
    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        then()

    return watch()
