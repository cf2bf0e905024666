"""Photos named by reports: checked with their owner (the media service) before a report is
accepted, and followed through ``media.events.v1`` so a report shows each photo's state.

The media service owns the photos; this service keeps only a projection of their fate
(processed with its variants, rejected with a reason, deleted), never the bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
from aiokafka import ConsumerRecord
from beanie import Document
from pydantic import Field
from pymongo.errors import DuplicateKeyError, PyMongoError

from snapfix_shared.consuming import BatchConsumer, subscribe_batches
from snapfix_shared.http_client import Upstream
from snapfix_shared.messages import MEDIA_EVENTS, MediaEvent
from snapfix_shared.messages.media import MediaProcessed, MediaRejected
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic
from snapfix_shared.viewer import InternalTokens, Viewer

log = logging.getLogger(__name__)

GROUP = "issues-media"
VARIANTS = ("thumb.webp", "thumb.jpg", "medium.webp", "medium.jpg", "large.webp", "large.jpg")
# The media service's states a report may name: uploaded (still processing) or processed.
USABLE = {"pending", "processed"}


class Photo(Document):
    """What became of a photo. Intended shard key: ``{_id}``."""

    id: UUID  # type: ignore[assignment]  # the media id
    owner_id: str
    status: str  # processed | rejected | deleted
    reason: str | None = None
    variants: list[str] = Field(default_factory=list)
    event_id: UUID

    class Settings:
        name = "photos"


async def check_photos(
    media: Upstream, media_ids: Sequence[UUID], *, actor_id: str | None, request_id: str, tokens: InternalTokens
) -> list[tuple[str, str]]:
    """Field errors for photos a report may not name: unknown, someone else's, not uploaded, rejected.

    Asked as the reporter alone, without a role: staff may see others' photos, but report only their own.
    """
    errors: list[tuple[str, str]] = []
    seen: set[UUID] = set()
    headers = {"x-request-id": request_id, **tokens.headers(Viewer(user_id=actor_id) if actor_id else None)}
    answers = await asyncio.gather(*(media.call("GET", f"/v1/media/{m}", headers=headers) for m in media_ids))
    for index, (media_id, answer) in enumerate(zip(media_ids, answers, strict=True)):
        field = f"media_ids.{index}"
        if media_id in seen:
            errors.append((field, "This photo is named twice."))
        seen.add(media_id)
        if answer.status == 404:  # the media service answers 404 for someone else's photo too
            errors.append((field, f"No photo {media_id} of yours: upload it first (POST /v1/media)."))
            continue
        state = orjson.loads(answer.body)
        if state["status"] in {"rejected", "failed"}:  # failed: its processing was dead-lettered
            errors.append((field, f"Photo {media_id} was rejected: {state.get('reason') or 'not a usable image'}."))
        elif state["status"] not in USABLE:
            errors.append((field, f"Photo {media_id} has not been uploaded yet ({state['status']})."))
    return errors


async def photo_views(media_ids: Sequence[UUID]) -> list[dict[str, Any]]:
    """Each photo of a report with its state, and its public variants once processed."""
    found = await asyncio.gather(*(Photo.get(m) for m in media_ids))
    views: list[dict[str, Any]] = []
    for media_id, photo in zip(media_ids, found, strict=True):
        status = photo.status if photo else "pending"
        view: dict[str, Any] = {"id": str(media_id), "status": status}
        if photo is not None and status == "processed":
            view["urls"] = {name: f"/v1/media/{media_id}/{name}" for name in photo.variants or VARIANTS}
        if photo is not None and status == "rejected":
            view["reason"] = photo.reason
        views.append(view)
    return views


class PhotoEvents:
    """Keeps the ``photos`` projection from ``media.events.v1``; idempotent (an upsert per event).

    Any media event is parsed (one that does not validate is dead-lettered); the projection
    follows three. A store failure is retried, then the batch is left uncommitted; any other
    failure of an event is dead-lettered (``failed``) and the batch goes on.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.consumer = BatchConsumer(runtime, GROUP, MEDIA_EVENTS, (PyMongoError,))

    async def handle(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        await self.consumer.apply_each(records, self._apply)

    async def _apply(self, event: MediaEvent) -> None:
        fields: dict[str, Any] = {"owner_id": event.owner_id, "event_id": event.message_id}
        if isinstance(event, MediaProcessed):
            fields |= {"status": "processed", "variants": [v.name for v in event.variants], "reason": None}
        elif isinstance(event, MediaRejected):
            fields |= {"status": "rejected", "reason": event.reason}
        elif event.type == "MediaDeleted":
            fields |= {"status": "deleted", "variants": []}
        else:  # an event this projection does not follow
            return
        # A deleted photo stays deleted, whatever arrives after (a replay of older events):
        # the filter then matches nothing and the upsert's insert meets the existing _id.
        with contextlib.suppress(DuplicateKeyError):
            await Photo.get_pymongo_collection().update_one(
                {"_id": event.media_id, "status": {"$ne": "deleted"}}, {"$set": fields}, upsert=True
            )


def register(runtime: Runtime, events: PhotoEvents) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.MEDIA_EVENTS,
        group=GROUP,
        handle=events.handle,
        max_records=200,
        title="issues-media-events",
        description="Follows what became of the photos reports name (processed, rejected, deleted).",
    )
