"""The sweeps: upload URLs that were issued but never used, and photos no report ever named.

``POST /v1/uploads`` creates a photo record ``awaiting_upload`` with an expiring URL. A
client that never uploads leaves that record behind; one that gave up mid-stream may
leave part of an original in storage. Every ``upload_sweep_interval_s`` (with jitter, so
replicas spread out) each media instance gives up, in bounded batches, the uploads whose
URL expired more than ``upload_sweep_grace_s`` ago: any partial original is deleted
first, then the record moves to ``expired`` (a compare-and-set, so replicas sweeping at
once, or an upload finishing at that moment, never conflict: the upload wins or is
refused and removes what it wrote). No TTL index: the portable subset (DESIGN §6) has none.

Photos uploaded but named by no report within ``orphan_after_s`` (24 hours) are collected by
the orphan sweep, every ``orphan_sweep_interval_s``, at most ``orphan_sweep_batch`` a pass:
their quota slot is freed, the record is marked ``deleted`` (a compare-and-set at the
``links_version`` read), then every blob is deleted, ``MediaDeleted`` (reason
``never_attached``) is published and the photo leaves the sweep's list. A report naming the
photo at that moment either links it first (the mark then fails and the photo stays, bytes
and all) or finds it deleted; no byte goes before the mark, so a linked photo never loses
its bytes. A crash anywhere is finished by the next pass, which finds the photo still
listed and repeats the idempotent steps, announcing the very event stored on it. Records
written before this sweep existed carry no ``unattached_since`` and are left alone.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import get_args

from prometheus_client import Counter

from snapfix_media.models import Media
from snapfix_media.repository import MediaRepository
from snapfix_media.storage import STORE_UNAVAILABLE, BlobStore, original_key, variant_key
from snapfix_shared.kafka import PublishFailed
from snapfix_shared.messages import MEDIA_EVENTS, MediaDeleted
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.media import VariantName
from snapfix_shared.tasks import cancelled

log = logging.getLogger(__name__)
EXPIRED_REASON = "The upload URL expired before a photo was uploaded."
NEVER_ATTACHED = "never_attached"
ORPHAN_REASON = "No report named it in time."
ORPHANS_COLLECTED = Counter(
    "snapfix_media_orphans_collected_total", "Photos deleted because no report named them in time"
)
Announce = Callable[[MediaDeleted], Awaitable[None]]


class PeriodicSweep:
    """Runs ``sweep`` every ``interval_s`` (with jitter) in the background until closed."""

    name = "sweep"

    def __init__(self, *, interval_s: float) -> None:
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def sweep(self, now: datetime | None = None) -> int:
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security
            try:
                await self.sweep()
            except (*STORE_UNAVAILABLE, OSError, PublishFailed) as exc:  # the next pass tries again
                log.warning("%s failed: %s", self.name, exc)
            except Exception:
                log.exception("%s failed", self.name)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancelled(task)


class UploadSweeper(PeriodicSweep):
    """Gives up upload URLs that expired unused (and what a broken-off upload left)."""

    name = "upload-sweeper"

    def __init__(
        self, repo: MediaRepository, store: BlobStore, *, interval_s: float, grace_s: float, batch: int
    ) -> None:
        super().__init__(interval_s=interval_s)
        self.repo, self.store = repo, store
        self.grace, self.batch = timedelta(seconds=grace_s), batch

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


class OrphanSweeper(PeriodicSweep):
    """Collects photos that no report named within ``after_s`` of their upload URL."""

    name = "orphan-sweeper"

    def __init__(
        self,
        repo: MediaRepository,
        store: BlobStore,
        announce: Announce,
        *,
        interval_s: float,
        after_s: float,
        batch: int,
    ) -> None:
        super().__init__(interval_s=interval_s)
        self.repo, self.store, self.announce = repo, store, announce
        self.after, self.batch = timedelta(seconds=after_s), batch

    async def sweep(self, now: datetime | None = None) -> int:
        """One pass; returns how many photos were collected."""
        now = now or utcnow()
        collected = 0
        for media in await self.repo.unattached_before(now - self.after, self.batch):
            collected += await self._collect(media, now)
        if collected:
            log.info("collected %d photos no report named within %s", collected, self.after)
        return collected

    async def _collect(self, media: Media, now: datetime) -> int:
        await self.repo.release_slot(media.id)
        if media.status == "deleted":  # marked by an earlier pass that did not finish
            await self._finish(media, media.deleted_event)
            return 0
        if media.status == "expired" or media.issue_ids:  # not an orphan: it only leaves the list
            await self.repo.settle_unattached(media.id)
            return 0
        announced = MediaDeleted(
            media_id=media.id,
            owner_id=media.owner_id,
            reason=NEVER_ATTACHED,
            correlation_id=f"orphan-sweep-{media.id}",
        )
        body = announced.model_dump(mode="json")
        # The mark first, at the links_version read: a report that named the photo since wins.
        if not await self.repo.mark_deleted(media, body, reason=ORPHAN_REASON, at=now):
            return 0  # named (or deleted) meanwhile: the next pass reads it again
        await self._finish(media, body)
        ORPHANS_COLLECTED.inc()
        log.info("media %s deleted: no report named it since %s", media.id, media.unattached_since)
        return 1

    async def _finish(self, media: Media, event: dict[str, object] | None) -> None:
        for key in (original_key(media.id), *(variant_key(media.id, name) for name in get_args(VariantName))):
            await self.store.delete(key)
        stored = MEDIA_EVENTS.validate_python(event) if event else None
        if isinstance(stored, MediaDeleted):
            await self.announce(stored)  # after a crash, the same message again (deduplicable by its id)
        await self.repo.settle_unattached(media.id)
