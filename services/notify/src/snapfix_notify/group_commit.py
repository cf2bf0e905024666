"""Group commit: many concurrent writers, one store call for whatever is waiting.

Each ``put`` returns once its own item is written (or raises what the write raised); items
that arrive while a write is in flight go together in the next one. The store sees one
insert per group instead of one per item, and no one is told "written" early.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._writing = asyncio.Lock()

    async def put(self, item: T) -> None:
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, written))
        async with self._writing:
            if not written.done():  # not taken by the group before: this call writes what waits
                group, self._waiting = self._waiting, []
                try:
                    await self._write([i for i, _ in group])
                except BaseException as exc:  # every writer of the group hears of it
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc) if isinstance(exc, Exception) else future.cancel()
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for _, future in group:
                        if not future.done():
                            future.set_result(None)
        await written
