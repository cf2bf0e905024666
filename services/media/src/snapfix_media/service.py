"""What an upload, a command or an event does to the photos and their bytes: the media
service's one orchestration layer, called by the routes (api.py) and the subscribers
(consumers.py). No Kafka and no HTTP here: the callers parse, answer, dead-letter, retry and
publish; this module reads and writes through the repository and the blob store and returns
the outcome (the events to announce).

- Uploads (``Uploads``): a photo record awaiting its upload, with one of its owner's quota
  slots; then its stored original makes it ``pending`` (or, given up by the sweep meanwhile,
  loses what was written).

- ``ProcessMedia`` (``Processing``): process a stored original, store its variants, and
  return ``MediaProcessed`` or ``MediaRejected``. Idempotent on the media id: a redelivered
  command whose photo was already processed (or rejected, or failed) returns the event stored
  the first time and does nothing else. A photo whose processing is dead-lettered (an
  unexpected error, or its original is gone) does not stay ``pending``: ``give_up`` ends it
  ``failed`` with a reason a person can read, removes any variants already written and
  returns ``MediaRejected``. The outcome is stored with the photo first, so a redelivery
  announces the very same event again.
- ``SetIssuePhotos`` (``IssuePhotos``), the command a service that shows photos on its reports
  (the issues service) sends: ``reported`` / ``edited`` link the photos it names to the report,
  but only photos this service knows whose owner is the command's ``owner_id`` (the reporter):
  no one attaches, and so gets deleted, someone else's photo. Unknown ids are ignored.
  ``withdrawn`` lets go of the report's photos; ``edited`` lets go of the owner's photos the
  report no longer names. A photo no other report names then loses its original and every
  variant, becomes ``deleted`` (its variant URLs answer 410 Gone) and ``MediaDeleted`` (caused
  by the command) is returned for ``media.events.v1``. Idempotent: a redelivered command
  deletes nothing twice (blob deletes of missing keys are no-ops) and returns the very
  ``MediaDeleted`` stored on the photo the first time. This service follows no other
  service's events about reports.
- ``UserDeleted`` (``OwnerErasure``): every photo of the user that no report names is deleted:
  uploads that never came (their URL is given up, any partial original deleted), and photos
  uploaded, processed, rejected or failed but never named by a report. Each loses its
  original and every variant, becomes ``deleted`` and is announced as ``MediaDeleted`` (reason
  ``owner_deleted``); its quota slot is freed. The photos of reports the user withdrew were
  deleted when they were withdrawn and are checked again (their bytes deleted once more,
  idempotently). Photos shown on the user's reports stay: the reports stay public.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Literal, get_args
from uuid import UUID

from snapfix_media.models import Media
from snapfix_media.pipeline import Processed
from snapfix_media.repository import MediaRepository
from snapfix_media.storage import BlobStore, original_key, variant_key
from snapfix_media.workers import ImageWorkers
from snapfix_shared.messages import (
    MEDIA_EVENTS,
    MediaDeleted,
    MediaEvent,
    MediaProcessed,
    MediaRejected,
    MediaVariant,
    ProcessMedia,
    SetIssuePhotos,
    UserDeleted,
    UserEvent,
)
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.media import VariantName

log = logging.getLogger(__name__)
# Dead-letters the message being handled, with a reason and an error text (the subscriber's).
DeadLetter = Callable[[str, str], Awaitable[None]]
FAILED_REASON = "The photo could not be processed; please upload it again."
# Two reports naming one photo may change its links at once (they sit on other partitions).
MAX_ATTEMPTS = 10
WITHDRAWN, REMOVED = "issue_withdrawn", "removed_from_issue"
REASONS = {
    WITHDRAWN: "The report it belonged to was withdrawn.",
    REMOVED: "The reporter removed it from the report.",
}
OWNER_DELETED = "owner_deleted"
OWNER_DELETED_REASON = "Its owner deleted their account."


class UnattachedLimitReached(Exception):
    """Every slot for the owner's photos that no report names yet is taken (the quota)."""


class Uploads:
    """Upload intake: the photo record and its quota slot, then its original accepted for processing."""

    def __init__(self, repo: MediaRepository, store: BlobStore) -> None:
        self.repo, self.store = repo, store

    async def open(self, media: Media, *, limit: int) -> None:
        """Register ``media`` (awaiting its upload) with one of its owner's ``limit`` slots.

        The record first, then its slot: a crash in between leaves a record without a slot,
        which the upload sweep gives up; never a slot that nothing would free. When every slot
        is taken the record goes again and UnattachedLimitReached is raised.
        """
        await self.repo.create(media)
        if not await self.repo.take_slot(media.owner_id, media.id, limit=limit, at=media.created_at):
            await self.repo.forget(media.id)
            raise UnattachedLimitReached(limit)

    async def stored(self, media_id: UUID, size: int, at: datetime) -> Literal["pending", "expired", "uploaded"]:
        """The original is in the store: the photo is ``pending`` processing, unless the upload
        sweep gave it up while the bytes streamed in (``expired``: what was written is nobody's
        now and goes) or another upload came first (``uploaded``)."""
        if await self.repo.uploaded(media_id, size, at):
            return "pending"
        current = await self.repo.get(media_id)
        if current is not None and current.status == "expired":
            await self.store.delete(original_key(media_id))
            return "expired"
        return "uploaded"

    async def unqueue(self, media_id: UUID) -> None:
        """Processing could not be asked for: the photo awaits its upload again (the client retries)."""
        await self.repo.move(media_id, "pending", "awaiting_upload", size=None, uploaded_at=None)


def blob_keys(media_id: UUID) -> list[str]:
    """Every key a photo may have in storage: its original and all variants (listed or not)."""
    return [original_key(media_id), *(variant_key(media_id, name) for name in get_args(VariantName))]


async def delete_blobs(store: BlobStore, media_id: UUID) -> None:
    for key in blob_keys(media_id):
        await store.delete(key)


class Processing:
    """``ProcessMedia``: a stored original into clean public variants, or a rejection."""

    def __init__(self, repo: MediaRepository, store: BlobStore, workers: ImageWorkers) -> None:
        self.repo, self.store, self.workers = repo, store, workers

    async def apply(self, command: ProcessMedia, dead_letter: DeadLetter) -> MediaEvent | None:
        """The event to announce (again, on a redelivery); None when there is nothing to announce."""
        media = await self.repo.get(command.media_id)
        if media is None or media.owner_id != command.owner_id:
            await dead_letter("unknown", f"no media {command.media_id} of {command.owner_id}")
            return None
        if media.status == "deleted":  # its report was withdrawn first: nothing left to do or announce
            log.info("media %s was deleted before it was processed", media.id)
            return None
        if media.event is not None:  # processed before: announce the same outcome again
            return MEDIA_EVENTS.validate_python(media.event)
        if media.status != "pending":
            await dead_letter("not-uploaded", f"media {media.id} is {media.status}")
            return None
        data = await self.store.get(original_key(media.id))
        if data is None:
            await dead_letter("missing", f"the original of {media.id} is not stored")
            return await self.give_up(command)
        return await self._process(media, data, command)

    async def give_up(self, command: ProcessMedia) -> MediaEvent | None:
        """Processing was dead-lettered: the photo ends ``failed`` and MediaRejected says so."""
        media = await self.repo.get(command.media_id)
        if media is None or media.owner_id != command.owner_id:
            return None
        if media.event is not None:  # settled before (by this or an earlier try): the same again
            return MEDIA_EVENTS.validate_python(media.event)
        if media.status != "pending":
            return None
        for name in get_args(VariantName):  # what the failed try may have written already
            await self.store.delete(variant_key(media.id, name))
        failed = MediaRejected(
            media_id=media.id,
            owner_id=media.owner_id,
            reason=FAILED_REASON,
            correlation_id=command.correlation_id,
            causation_id=str(command.message_id),
        )
        if not await self.repo.finish(media.id, "failed", failed.model_dump(mode="json"), reason=FAILED_REASON):
            return await self._settled_meanwhile(media.id, [])
        log.warning("media %s failed: processing was dead-lettered", media.id)
        return failed

    async def _process(self, media: Media, data: bytes, command: ProcessMedia) -> MediaEvent | None:
        result = await self.workers.process(data)
        envelope = {"correlation_id": command.correlation_id, "causation_id": str(command.message_id)}
        if not isinstance(result, Processed):
            rejected = MediaRejected(media_id=media.id, owner_id=media.owner_id, reason=result.reason, **envelope)
            if not await self.repo.finish(media.id, "rejected", rejected.model_dump(mode="json"), reason=result.reason):
                return await self._settled_meanwhile(media.id, [])
            log.info("media %s rejected: %s", media.id, result.reason)
            return rejected

        variants: list[MediaVariant] = []
        written: list[str] = []
        for v in result.variants:
            written.append(variant_key(media.id, v.name))
            await self.store.put(variant_key(media.id, v.name), v.data, content_type=v.content_type)
            variants.append(
                MediaVariant(name=v.name, content_type=v.content_type, width=v.width, height=v.height, size=len(v.data))
            )
        etags = {v.name: v.etag for v in result.variants}
        processed = MediaProcessed(
            media_id=media.id,
            owner_id=media.owner_id,
            variants=tuple(variants),
            width=result.width,
            height=result.height,
            phash=result.phash,
            **envelope,
        )
        finished = await self.repo.finish(
            media.id,
            "processed",
            processed.model_dump(mode="json"),
            variants=[{**v.model_dump(), "etag": etags[v.name]} for v in variants],
            width=result.width,
            height=result.height,
            phash=result.phash,
        )
        if not finished:
            return await self._settled_meanwhile(media.id, written)
        return processed

    async def _settled_meanwhile(self, media_id: UUID, written: list[str]) -> MediaEvent | None:
        """Processing lost a race: the photo was deleted (or processed by a redelivery) meanwhile."""
        current = await self.repo.get(media_id)
        if current is None or current.status == "deleted":
            for key in written:  # the deletion may have run before these were stored
                await self.store.delete(key)
            log.info("media %s was deleted while it was processed", media_id)
            return None
        return MEDIA_EVENTS.validate_python(current.event) if current.event is not None else None


class IssuePhotos:
    """Which report each photo belongs to; deleting the photos a report lets go of."""

    def __init__(self, repo: MediaRepository, store: BlobStore) -> None:
        self.repo, self.store = repo, store

    async def apply(self, command: SetIssuePhotos) -> list[MediaDeleted]:
        """The photos ``command``'s report lets go of and no other report names, deleted; what to announce."""
        if command.reason == "withdrawn":
            return await self._release_all(await self.repo.of_issue(command.issue_id), command, WITHDRAWN)
        await self._attach(command.issue_id, command.media_ids, command.owner_id)
        if command.reason == "reported":
            return []
        kept = set(command.media_ids)
        # Only the owner's own photos are linked to their report: the others are not this command's to drop.
        dropped = [
            m for m in await self.repo.of_issue(command.issue_id) if m.id not in kept and m.owner_id == command.owner_id
        ]
        return await self._release_all(dropped, command, REMOVED)

    async def _attach(self, issue_id: UUID, media_ids: Sequence[UUID], owner_id: str) -> None:
        for media_id in media_ids:
            if not await self.repo.attach(media_id, issue_id, owner_id):
                log.debug("media %s not linked to issue %s (unknown, foreign, deleted or linked)", media_id, issue_id)

    async def _release_all(self, media: list[Media], command: SetIssuePhotos, reason: str) -> list[MediaDeleted]:
        deleted: list[MediaDeleted] = []
        for m in media:
            announced = await self._release(m, command, reason)
            if announced is not None:
                deleted.append(announced)
        return deleted

    async def _release(self, media: Media | None, command: SetIssuePhotos, reason: str) -> MediaDeleted | None:
        """Let ``command``'s report go of a photo; delete it when no other report names it."""
        for _ in range(MAX_ATTEMPTS):
            if media is None or command.issue_id not in media.issue_ids:
                return None
            if media.status == "deleted":
                # Deleted before: make sure the bytes are gone (a crash may have come between the
                # mark and the deletes) and, if it was this very command, announce the same again.
                await delete_blobs(self.store, media.id)
                stored = MEDIA_EVENTS.validate_python(media.deleted_event) if media.deleted_event else None
                if isinstance(stored, MediaDeleted) and stored.causation_id == str(command.message_id):
                    return stored
                return None
            others = [i for i in media.issue_ids if i != command.issue_id]
            if others:  # another of the owner's reports still shows it: keep the photo
                if await self.repo.relink(media, others):
                    return None
            else:
                announced = MediaDeleted(
                    media_id=media.id,
                    owner_id=media.owner_id,
                    reason=reason,
                    issue_id=command.issue_id,
                    correlation_id=command.correlation_id,
                    causation_id=str(command.message_id),
                    actor_id=command.actor_id,
                )
                # Marked first (its URLs answer 410 at once), then the bytes go; a crash in between
                # is finished by the redelivery, which finds it deleted and deletes the bytes again.
                body = announced.model_dump(mode="json")
                if await self.repo.mark_deleted(media, body, reason=REASONS[reason], at=utcnow()):
                    await delete_blobs(self.store, media.id)
                    log.info("media %s deleted: %s (issue %s)", media.id, reason, command.issue_id)
                    return announced
            media = await self.repo.get(media.id)  # changed meanwhile: decide again
        raise RuntimeError(f"the links of a photo of issue {command.issue_id} kept changing")


class OwnerErasure:
    """A deleted account's photos that no report names."""

    def __init__(self, repo: MediaRepository, store: BlobStore) -> None:
        self.repo, self.store = repo, store

    async def erase(self, event: UserEvent) -> list[MediaDeleted]:
        """Delete the user's photos that no report names; what to announce (again, on a redelivery)."""
        if not isinstance(event, UserDeleted):  # the only type followed
            return []
        announced: list[MediaDeleted] = []
        for media in await self.repo.owned_by(str(event.user_id)):
            done = await self._erase_one(media, event)
            if done is not None:
                announced.append(done)
        if announced:
            log.info("user %s: %d photos deleted with the account", event.user_id, len(announced))
        return announced

    async def _erase_one(self, media: Media | None, event: UserDeleted) -> MediaDeleted | None:
        for _ in range(MAX_ATTEMPTS):
            if media is None:
                return None
            await self.repo.release_slot(media.id)
            if media.status == "deleted":  # before (a withdrawal, the sweep, or this very event): the bytes go again
                await delete_blobs(self.store, media.id)
                stored = MEDIA_EVENTS.validate_python(media.deleted_event) if media.deleted_event else None
                if isinstance(stored, MediaDeleted) and stored.causation_id == str(event.message_id):
                    return stored
                return None
            if media.status in {"awaiting_upload", "expired"}:  # the URL is given up; a partial original goes
                await self.store.delete(original_key(media.id))
                if media.status == "expired" or await self.repo.expire(
                    media.id, reason=OWNER_DELETED_REASON, at=utcnow()
                ):
                    return None
            elif media.issue_ids:  # shown on a report, which stays public: the photo stays
                return None
            else:
                announced = MediaDeleted(
                    media_id=media.id,
                    owner_id=media.owner_id,
                    reason=OWNER_DELETED,
                    correlation_id=event.correlation_id,
                    causation_id=str(event.message_id),
                    actor_id=str(event.user_id),
                )
                # Marked first (its URLs answer 410 at once, and a report naming it meanwhile loses the race),
                # then the bytes go; a crash in between is finished by the redelivery.
                body = announced.model_dump(mode="json")
                if await self.repo.mark_deleted(media, body, reason=OWNER_DELETED_REASON, at=utcnow()):
                    await delete_blobs(self.store, media.id)
                    await self.repo.settle_unattached(media.id)
                    return announced
            media = await self.repo.get(media.id)  # changed meanwhile: decide again
        raise RuntimeError(f"photo {media.id if media else '?'} kept changing while its owner was erased")
