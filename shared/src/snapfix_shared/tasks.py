"""Background tasks of a process: started at its start, cancelled and awaited at its stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


async def cancelled(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel each task (None: not started) and wait until it has stopped.

    Its cancellation is expected and swallowed; any other error it ends with is raised.
    """
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def every(interval_s: float, work: Callable[[], Awaitable[None]], *, what: str) -> None:
    """Run ``work`` every ``interval_s`` until cancelled; an error is logged and the next round tries again."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await work()
        except Exception:  # the loop must not die: what it writes would pile up, never written
            log.exception("%s failed; retrying in %.2f s", what, interval_s)


class Flusher:
    """Writes what a process gathers (``flush``) every ``interval_s`` while it runs, and once more
    at its stop, so that the last of it is written too. ``interval_s`` None: never on a timer
    (the owner writes as it goes); the stop still flushes."""

    def __init__(self, interval_s: float | None, flush: Callable[[], Awaitable[None]], *, name: str) -> None:
        self.interval_s, self.flush, self.name = interval_s, flush, name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.interval_s is not None and self._task is None:
            self._task = asyncio.create_task(every(self.interval_s, self.flush, what=self.name), name=self.name)

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
        await self.flush()
