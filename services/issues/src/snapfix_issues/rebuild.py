"""Keeps the issues read model present: rebuilt from Mongo, by one scan, whenever Redis has none.

That is at the first start, and whenever Redis lost it (a flush, a restart without
persistence): a watcher looks for the ``built`` mark every ``check_s`` seconds. One
instance rebuilds at a time (a Redis lock); in this process the consumer waits meanwhile,
so no write of its own lands between a scan and its rows. Until the mark is set again,
readers use the store's queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from redis.exceptions import LockError, RedisError

from snapfix_issues.cache import CachedIssue, IssueCache
from snapfix_issues.readmodel import BUILT, PREFIX, ReadModel, ReadModelDown
from snapfix_issues.repository import ReportRepository

log = logging.getLogger(__name__)

LOCK = PREFIX + "rebuilding"
LOCK_TTL_S = 900
PROGRESS_EVERY = 10_000


class ReadModelKeeper:
    def __init__(self, readmodel: ReadModel, cache: IssueCache, repo: ReportRepository, *, check_s: float) -> None:
        self.readmodel, self.cache, self.repo, self.check_s = readmodel, cache, repo, check_s
        self._task: asyncio.Task[None] | None = None
        self.rebuilds = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="issues-readmodel-keeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            try:
                if not await self.readmodel.redis.exists(BUILT):
                    await self.rebuild()
            except (RedisError, ReadModelDown) as exc:
                log.warning("the issues read model could not be checked or rebuilt (will retry): %r", exc)
            except Exception:  # a bug must not end the watch: say so loudly and go on
                log.exception("rebuilding the issues read model failed")
            await asyncio.sleep(self.check_s)

    async def rebuild(self) -> int | None:
        """Scan the store into the read model; the number of reports, or None if another instance is at it."""
        lock = self.readmodel.redis.lock(LOCK, timeout=LOCK_TTL_S, blocking=False)
        if not await lock.acquire():
            log.info("another instance is rebuilding the issues read model")
            return None
        try:
            async with self.readmodel.writing:
                self.readmodel.forget_ready()
                if await self.readmodel.redis.exists(BUILT):
                    return 0
                return await self._scan()
        finally:
            with contextlib.suppress(LockError, RedisError):
                await lock.release()

    async def _scan(self) -> int:
        started = time.monotonic()
        log.info("rebuilding the issues read model from the store")
        comments = await self.repo.all_comments()
        count = 0
        async for chunk in self.repo.scan_reports():
            await self.cache.fill([CachedIssue(i, tuple(comments.get(i.id, ()))) for i in chunk])
            await self.readmodel.index(chunk, fill=True)
            before, count = count, count + len(chunk)
            if count // PROGRESS_EVERY > before // PROGRESS_EVERY:
                log.info("issues read model: %d reports so far (%.1f s)", count, time.monotonic() - started)
        follows = await self.repo.active_follows()
        await self.readmodel.follows([(i, u, True, int(since.timestamp() * 1000)) for i, u, since in follows])
        await self.readmodel.mark_built()
        self.rebuilds += 1
        log.info(
            "issues read model rebuilt: %d reports, %d comments, %d follows in %.1f s",
            count,
            sum(map(len, comments.values())),
            len(follows),
            time.monotonic() - started,
        )
        return count
