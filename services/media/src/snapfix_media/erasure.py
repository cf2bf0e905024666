"""Subscriber of ``users.events.v1`` (its own group, ``media-users``): a deleted account's photos.

On ``UserDeleted``, every photo of the user that no report names is deleted: uploads that never
came (their URL is given up, any partial original deleted), and photos uploaded, processed,
rejected or failed but never named by a report. Each loses its original and every variant,
becomes ``deleted`` (its URLs answer 410) and is announced as ``MediaDeleted`` (reason
``owner_deleted``); its quota slot is freed. The photos of reports the user withdrew were deleted
when they were withdrawn (``issue_photos.py``) and are checked again here (their bytes deleted
once more, idempotently). Photos shown on the user's reports stay: the reports stay public.

Idempotent: a redelivery finds the photos deleted, deletes their bytes again (a no-op) and
announces again exactly the ``MediaDeleted`` stored on each the first time (deduplicable by its
id). The batch is committed only after every effect is stored and announced.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord
from opentelemetry import propagate
from opentelemetry.context import Context

from snapfix_media.config import MediaSettings
from snapfix_media.issue_photos import TRANSIENT, blob_keys
from snapfix_media.models import Media
from snapfix_media.repository import MediaRepository
from snapfix_media.storage import BlobStore, original_key
from snapfix_shared.consuming import BatchConsumer, subscribe_batches
from snapfix_shared.kafka import header_map, publish_all
from snapfix_shared.messages import MEDIA_EVENTS, USER_EVENTS, MediaDeleted, Message, UserDeleted, UserEvent
from snapfix_shared.messages.base import utcnow
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)
Record = ConsumerRecord[Any, Any]
FOLLOWED = frozenset({"UserDeleted"})
OWNER_DELETED = "owner_deleted"
REASON = "Its owner deleted their account."
MAX_ATTEMPTS = 10


class OwnerErasure:
    def __init__(self, runtime: Runtime, repo: MediaRepository, store: BlobStore, *, group: str) -> None:
        self.runtime, self.repo, self.store, self.group = runtime, repo, store, group
        self.consumer = BatchConsumer(runtime, group, USER_EVENTS, TRANSIENT, FOLLOWED)

    async def handle(self, records: Sequence[Record]) -> None:
        announcements: list[tuple[Message, Context]] = []
        for deleted, record in await self.consumer.apply_each(records, self.erase):
            context = propagate.extract(header_map(record))
            announcements.extend((d, context) for d in deleted)
        if announcements:
            await self.consumer.retry(
                publish_all,
                self.runtime.broker,
                Topic.MEDIA_EVENTS,
                announcements,
                source=self.runtime.source,
                timeout_s=self.runtime.publish_timeout_s,
            )

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
                await self._delete_blobs(media)
                stored = MEDIA_EVENTS.validate_python(media.deleted_event) if media.deleted_event else None
                if isinstance(stored, MediaDeleted) and stored.causation_id == str(event.message_id):
                    return stored
                return None
            if media.status in {"awaiting_upload", "expired"}:  # the URL is given up; a partial original goes
                await self.store.delete(original_key(media.id))
                if media.status == "expired" or await self.repo.expire(media.id, reason=REASON, at=utcnow()):
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
                if await self.repo.mark_deleted(media, announced.model_dump(mode="json"), reason=REASON, at=utcnow()):
                    await self._delete_blobs(media)
                    await self.repo.settle_unattached(media.id)
                    return announced
            media = await self.repo.get(media.id)  # changed meanwhile: decide again
        raise RuntimeError(f"photo {media.id if media else '?'} kept changing while its owner was erased")

    async def _delete_blobs(self, media: Media) -> None:
        for key in blob_keys(media.id):
            await self.store.delete(key)


def register(runtime: Runtime, erasure: OwnerErasure, settings: MediaSettings) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.USERS_EVENTS,
        group=settings.media_users_group,
        handle=erasure.handle,
        max_records=100,
        title="media-users",
        description="Deletes a deleted account's photos that no report names.",
    )
