"""Subscriber of ``issues.events.v1``: which report each photo belongs to, and deleting the
photos of a withdrawn report.

- ``IssueReported`` / ``IssueEdited`` link the photos they name to the report, but only
  photos this service knows whose owner is the event's actor (the reporter): no one
  attaches, and so gets deleted, someone else's photo. Unknown ids are ignored.
- ``IssueStatusChanged`` to ``withdrawn`` lets go of the report's photos; ``IssueEdited``
  lets go of the photos the reporter's edit took out of the list. A photo no other report
  names then loses its original and every variant from storage, becomes ``deleted``
  (its variant URLs answer 410 Gone) and ``MediaDeleted`` is published on ``media.events.v1``.

A batch is committed only after its effects are stored and its events acknowledged.
Idempotent: a redelivered event deletes nothing twice (blob deletes of missing keys are
no-ops) and re-publishes the very ``MediaDeleted`` stored on the photo the first time.
A record that is not JSON, or a relevant event that does not validate, goes to the
dead-letter topic; event types this service does not follow are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, get_args
from uuid import UUID

from aiokafka import ConsumerRecord
from opentelemetry import propagate
from opentelemetry.context import Context
from pymongo.errors import ConnectionFailure

from snapfix_media.config import MediaSettings
from snapfix_media.models import Media
from snapfix_media.repository import MediaRepository
from snapfix_media.storage import STORE_UNAVAILABLE, BlobStore, original_key, variant_key
from snapfix_shared.consuming import BatchConsumer, subscribe_batches
from snapfix_shared.kafka import PublishFailed, header_map, publish_all
from snapfix_shared.messages import (
    ISSUE_EVENTS,
    MEDIA_EVENTS,
    IssueEdited,
    IssueEvent,
    IssueReported,
    IssueStatusChanged,
    MediaDeleted,
    Message,
)
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.media import VariantName
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)
Record = ConsumerRecord[Any, Any]
TRANSIENT = (ConnectionFailure, PublishFailed, *STORE_UNAVAILABLE)
FOLLOWED = frozenset({"IssueReported", "IssueEdited", "IssueStatusChanged"})
# Two reports naming one photo may change its links at once (they sit on other partitions).
MAX_ATTEMPTS = 10
WITHDRAWN, REMOVED = "issue_withdrawn", "removed_from_issue"
REASONS = {
    WITHDRAWN: "The report it belonged to was withdrawn.",
    REMOVED: "The reporter removed it from the report.",
}


def blob_keys(media_id: UUID) -> list[str]:
    """Every key a photo may have in storage: its original and all variants (listed or not)."""
    return [original_key(media_id), *(variant_key(media_id, name) for name in get_args(VariantName))]


class IssuePhotosHandler:
    def __init__(self, runtime: Runtime, repo: MediaRepository, store: BlobStore, *, group: str) -> None:
        self.runtime, self.repo, self.store, self.group = runtime, repo, store, group
        self.consumer = BatchConsumer(runtime, group, ISSUE_EVENTS, TRANSIENT, FOLLOWED)

    async def handle(self, records: Sequence[Record]) -> None:
        announcements: list[tuple[Message, Context]] = []
        for deleted, record in await self.consumer.apply_each(records, self._apply):
            context = propagate.extract(header_map(record))  # each in the trace that caused it
            announcements.extend((d, context) for d in deleted)
        if announcements:  # past the deadline the batch is not committed and comes back later
            await self.consumer.retry(
                publish_all,
                self.runtime.broker,
                Topic.MEDIA_EVENTS,
                announcements,
                source=self.runtime.source,
                timeout_s=self.runtime.publish_timeout_s,
            )

    async def _apply(self, event: IssueEvent) -> list[MediaDeleted]:
        match event:
            case IssueReported():
                await self._attach(event.issue_id, event.media_ids, event.actor_id)
            case IssueEdited():
                await self._attach(event.issue_id, event.media_ids, event.actor_id)
                kept = set(event.media_ids)
                # Only the reporter edits a report, and only their own photos are linked to it.
                dropped = [
                    m
                    for m in await self.repo.of_issue(event.issue_id)
                    if m.id not in kept and m.owner_id == event.actor_id
                ]
                return await self._release_all(dropped, event, REMOVED)
            case IssueStatusChanged() if event.to_status == "withdrawn":
                return await self._release_all(await self.repo.of_issue(event.issue_id), event, WITHDRAWN)
        return []

    async def _attach(self, issue_id: UUID, media_ids: Sequence[UUID], actor_id: str | None) -> None:
        if actor_id is None:
            return
        for media_id in media_ids:
            if not await self.repo.attach(media_id, issue_id, actor_id):
                log.debug("media %s not linked to issue %s (unknown, foreign, deleted or linked)", media_id, issue_id)

    async def _release_all(self, media: list[Media], event: IssueEvent, reason: str) -> list[MediaDeleted]:
        deleted: list[MediaDeleted] = []
        for m in media:
            announced = await self._release(m, event, reason)
            if announced is not None:
                deleted.append(announced)
        return deleted

    async def _release(self, media: Media | None, event: IssueEvent, reason: str) -> MediaDeleted | None:
        """Let ``event``'s report go of a photo; delete it when no other report names it."""
        for _ in range(MAX_ATTEMPTS):
            if media is None or event.issue_id not in media.issue_ids:
                return None
            if media.status == "deleted":
                # Deleted before: make sure the bytes are gone (a crash may have come between the
                # mark and the deletes) and, if it was this very event, announce the same again.
                await self._delete_blobs(media.id)
                stored = MEDIA_EVENTS.validate_python(media.deleted_event) if media.deleted_event else None
                if isinstance(stored, MediaDeleted) and stored.causation_id == str(event.message_id):
                    return stored
                return None
            others = [i for i in media.issue_ids if i != event.issue_id]
            if others:  # another of the owner's reports still shows it: keep the photo
                if await self.repo.relink(media, others):
                    return None
            else:
                announced = MediaDeleted(
                    media_id=media.id,
                    owner_id=media.owner_id,
                    reason=reason,
                    issue_id=event.issue_id,
                    correlation_id=event.correlation_id,
                    causation_id=str(event.message_id),
                    actor_id=event.actor_id,
                )
                # Marked first (its URLs answer 410 at once), then the bytes go; a crash in between
                # is finished by the redelivery, which finds it deleted and deletes the bytes again.
                body = announced.model_dump(mode="json")
                if await self.repo.mark_deleted(media, body, reason=REASONS[reason], at=utcnow()):
                    await self._delete_blobs(media.id)
                    log.info("media %s deleted: %s (issue %s)", media.id, reason, event.issue_id)
                    return announced
            media = await self.repo.get(media.id)  # changed meanwhile: decide again
        raise RuntimeError(f"the links of a photo of issue {event.issue_id} kept changing")

    async def _delete_blobs(self, media_id: UUID) -> None:
        for key in blob_keys(media_id):
            await self.store.delete(key)


def register(runtime: Runtime, handler: IssuePhotosHandler, settings: MediaSettings) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.ISSUES_EVENTS,
        group=settings.issues_events_group,
        handle=handler.handle,
        max_records=settings.issues_events_batch,
        title="media-issue-events",
        description="Links photos to their owner's reports; deletes the photos of withdrawn reports and edits.",
    )
