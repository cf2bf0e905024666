"""The only place with queries on the media service's collection (portable subset, DESIGN §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from snapfix_media.models import Media, MediaStatus


class MediaRepository:
    @staticmethod
    def _collection() -> Any:
        return Media.get_pymongo_collection()

    async def create(self, media: Media) -> None:
        await self._collection().insert_one({"_id": media.id, **media.model_dump(exclude={"id", "revision_id"})})

    async def get(self, media_id: UUID) -> Media | None:
        doc = await self._collection().find_one({"_id": media_id})
        return None if doc is None else Media.model_validate({**doc, "id": doc["_id"]})

    async def move(self, media_id: UUID, frm: MediaStatus, to: MediaStatus, **fields: Any) -> bool:
        """Change the status only from ``frm`` (a compare-and-set); True when it changed."""
        result = await self._collection().update_one(
            {"_id": media_id, "status": frm}, {"$set": {"status": to, **fields}}
        )
        return bool(result.modified_count)

    async def uploaded(self, media_id: UUID, size: int, at: datetime) -> bool:
        return await self.move(media_id, "awaiting_upload", "pending", size=size, uploaded_at=at)

    async def finish(self, media_id: UUID, status: MediaStatus, event: dict[str, Any], **fields: Any) -> bool:
        """Record processing's outcome, only while the photo is pending; True when it was recorded."""
        result = await self._collection().update_one(
            {"_id": media_id, "status": "pending"}, {"$set": {"status": status, "event": event, **fields}}
        )
        return bool(result.modified_count)

    # -- upload URLs issued but never used -------------------------------------------------

    async def unused_uploads(self, expired_before: datetime, limit: int) -> list[Media]:
        """Photos still awaiting their upload whose URL expired before ``expired_before``."""
        cursor = (
            self._collection()
            .find({"status": "awaiting_upload", "upload_expires_at": {"$lt": expired_before}})
            .sort("upload_expires_at", 1)
            .limit(limit)
        )
        return [Media.model_validate({**doc, "id": doc["_id"]}) async for doc in cursor]

    async def expire(self, media_id: UUID, *, reason: str, at: datetime) -> bool:
        """Give up an upload that never came (compare-and-set from awaiting_upload)."""
        return await self.move(media_id, "awaiting_upload", "expired", reason=reason, expired_at=at)

    # -- the reports that name a photo ------------------------------------------------------

    async def of_issue(self, issue_id: UUID) -> list[Media]:
        """The photos a report names (or named when they were deleted for it)."""
        cursor = self._collection().find({"issue_ids": issue_id})
        return [Media.model_validate({**doc, "id": doc["_id"]}) async for doc in cursor]

    async def attach(self, media_id: UUID, issue_id: UUID, owner_id: str) -> bool:
        """Link a photo to a report of its owner; nothing for someone else's, unknown or deleted photo."""
        result = await self._collection().update_one(
            {"_id": media_id, "owner_id": owner_id, "status": {"$ne": "deleted"}, "issue_ids": {"$ne": issue_id}},
            {"$push": {"issue_ids": issue_id}, "$inc": {"links_version": 1}},
        )
        return bool(result.modified_count)

    async def relink(self, media: Media, issue_ids: list[UUID]) -> bool:
        """Set the reports naming ``media`` if nothing changed them since it was read (compare-and-set)."""
        result = await self._collection().update_one(
            {"_id": media.id, **_version(media), "status": {"$ne": "deleted"}},
            {"$set": {"issue_ids": issue_ids}, "$inc": {"links_version": 1}},
        )
        return bool(result.modified_count)

    async def mark_deleted(self, media: Media, event: dict[str, Any], *, reason: str, at: datetime) -> bool:
        """Mark ``media`` deleted (its variants unlisted) if nothing changed its links since it was read."""
        result = await self._collection().update_one(
            {"_id": media.id, **_version(media), "status": {"$ne": "deleted"}},
            {
                "$set": {
                    "status": "deleted",
                    "deleted_event": event,
                    "deleted_at": at,
                    "reason": reason,
                    "variants": [],
                },
                "$inc": {"links_version": 1},
            },
        )
        return bool(result.modified_count)


def _version(media: Media) -> dict[str, Any]:
    # Documents written before links existed have no links_version: it counts as 0.
    return {"links_version": media.links_version} if media.links_version else {"links_version": {"$in": [0, None]}}
