"""What became of the photos reports name: the ``photos`` projection kept from ``media.events.v1``
(``consumers.py`` subscribes) and each report's photos as its detail view shows them (``api.py``).

The media service owns the photos; this service keeps only a projection of their fate
(processed with its variants, rejected with a reason, deleted), never the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from snapfix_issues.repository import PhotoRepository
from snapfix_shared.messages import MediaEvent
from snapfix_shared.messages.media import MediaProcessed, MediaRejected

VARIANTS = ("thumb.webp", "thumb.jpg", "medium.webp", "medium.jpg", "large.webp", "large.jpg")


class IssuePhotos:
    """Keeps the ``photos`` projection; idempotent (an upsert per event). It follows three media events."""

    def __init__(self, repo: PhotoRepository) -> None:
        self.repo = repo

    async def apply(self, event: MediaEvent) -> None:
        fields: dict[str, Any] = {"owner_id": event.owner_id, "event_id": event.message_id}
        if isinstance(event, MediaProcessed):
            fields |= {"status": "processed", "variants": [v.name for v in event.variants], "reason": None}
        elif isinstance(event, MediaRejected):
            fields |= {"status": "rejected", "reason": event.reason}
        elif event.type == "MediaDeleted":
            fields |= {"status": "deleted", "variants": []}
        else:  # an event this projection does not follow
            return
        await self.repo.project(event.media_id, fields)

    async def views(self, media_ids: Sequence[UUID]) -> list[dict[str, Any]]:
        """Each photo of a report with its state, and its public variants once processed."""
        found = await self.repo.find(media_ids)
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
