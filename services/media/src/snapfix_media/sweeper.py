"""The sweep of upload URLs that were issued but never used.

``POST /v1/uploads`` creates a photo record ``awaiting_upload`` with an expiring URL. A
client that never uploads leaves that record behind; one that gave up mid-stream may
leave part of an original in storage. Every ``upload_sweep_interval_s`` (with jitter, so
replicas spread out) each media instance gives up, in bounded batches, the uploads whose
URL expired more than ``upload_sweep_grace_s`` ago: any partial original is deleted
first, then the record moves to ``expired`` (a compare-and-set, so replicas sweeping at
once, or an upload finishing at that moment, never conflict: the upload wins or is
refused and removes what it wrote). No TTL index: the portable subset (DESIGN §6) has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import datetime, timedelta

from snapfix_media.repository import MediaRepository
from snapfix_media.storage import STORE_UNAVAILABLE, BlobStore, original_key
from snapfix_shared.messages.base import utcnow

log = logging.getLogger(__name__)
EXPIRED_REASON = "The upload URL expired before a photo was uploaded."


class UploadSweeper:
    def __init__(
        self, repo: MediaRepository, store: BlobStore, *, interval_s: float, grace_s: float, batch: int
    ) -> None:
        self.repo, self.store = repo, store
        self.interval_s, self.grace, self.batch = interval_s, timedelta(seconds=grace_s), batch
        self._task: asyncio.Task[None] | None = None

    async def sweep(self, now: datetime | None = None) -> int:
        """One pass; returns how many uploads were given up."""
        now = now or utcnow()
        expired = 0
        for media in await self.repo.unused_uploads(now - self.grace, self.batch):
            await self.store.delete(original_key(media.id))  # what a broken-off upload left
            if await self.repo.expire(media.id, reason=EXPIRED_REASON, at=now):
                expired += 1
        if expired:
            log.info("gave up %d uploads that never came", expired)
        return expired

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security
            try:
                await self.sweep()
            except (*STORE_UNAVAILABLE, OSError) as exc:  # the next pass tries again
                log.warning("upload sweep failed: %s", exc)
            except Exception:
                log.exception("upload sweep failed")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="upload-sweeper")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
