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
from collections.abc import Callable

from redis.exceptions import LockError, RedisError

from snapfix_issues.cache import CachedIssue, IssueCache
from snapfix_issues.readmodel import BUILT, PREFIX, ReadModel, ReadModelDown
from snapfix_issues.repository import ReportRepository
from snapfix_shared.tasks import cancelled

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
        await cancelled(self._task)

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

    async def rebuild(self, *, force: bool = False, progress: Callable[[int], None] | None = None) -> int | None:
        """Scan the store into the read model; the number of reports, or None if another instance is at it.

        ``force`` (``snapfix readmodels rebuild issues``, with no consumer running): the model held
        is dropped and every row and entry written anew. ``progress`` hears the reports done so far.
        """
        lock = self.readmodel.redis.lock(LOCK, timeout=LOCK_TTL_S, blocking=False)
        if not await lock.acquire():
            log.info("another instance is rebuilding the issues read model")
            return None
        try:
            async with self.readmodel.writing:
                self.readmodel.forget_ready()
                if force:
                    await self._clear()
                elif await self.readmodel.redis.exists(BUILT):
                    return 0
                return await self._scan(overwrite=force, progress=progress)
        finally:
            with contextlib.suppress(LockError, RedisError):
                await lock.release()

    async def _clear(self) -> None:
        """Drop the whole model but the lock (``built`` first: readers fall back to the store at once)."""
        redis = self.readmodel.redis
        await redis.delete(BUILT)
        self.readmodel.forget_ready()
        keys = [k async for k in redis.scan_iter(match=PREFIX + "*", count=1000)]
        doomed = [k for k in keys if (k.decode() if isinstance(k, bytes) else k) != LOCK]
        for start in range(0, len(doomed), 500):  # one hash tag: a multi-key call works on a cluster too
            await redis.unlink(*doomed[start : start + 500])
        log.info("issues read model dropped (%d keys) to be rebuilt whole", len(doomed))

    async def _scan(self, *, overwrite: bool = False, progress: Callable[[int], None] | None = None) -> int:
        started = time.monotonic()
        log.info("rebuilding the issues read model from the store")
        comments = await self.repo.all_comments()
        count = 0
        async for chunk in self.repo.scan_reports():
            entries = [CachedIssue(i, tuple(comments.get(i.id, ()))) for i in chunk]
            await (self.cache.store(entries) if overwrite else self.cache.fill(entries))
            await self.readmodel.index(chunk, fill=not overwrite)
            before, count = count, count + len(chunk)
            if progress is not None:
                progress(count)
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
