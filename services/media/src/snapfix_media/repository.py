"""The only place with queries on the media service's collections (portable subset, DESIGN §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from snapfix_media.models import Media, MediaStatus, UploadSlot

# The store's failures as callers tell them apart, so that no other module imports pymongo:
RecordsUnavailable = ConnectionFailure  # unreachable for a while: worth retrying
RecordsError = PyMongoError  # any failure of the records' store (the API answers 503)


class MediaRepository:
    @staticmethod
    def _collection() -> Any:
        return Media.get_pymongo_collection()

    async def create(self, media: Media) -> None:
        await self._collection().insert_one({"_id": media.id, **media.model_dump(exclude={"id", "revision_id"})})

    async def forget(self, media_id: UUID) -> None:
        """Remove a record whose upload URL was never handed out (its owner had no slot left)."""
        await self._collection().delete_one({"_id": media_id, "status": "awaiting_upload"})

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
        """Record processing's outcome, only while the photo is pending; True when it was recorded.

        A rejected (or failed) photo can never be named in a report: its slot is freed at once.
        """
        result = await self._collection().update_one(
            {"_id": media_id, "status": "pending"}, {"$set": {"status": status, "event": event, **fields}}
        )
        if result.modified_count and status in {"rejected", "failed"}:
            await self.release_slot(media_id)
        return bool(result.modified_count)

    # -- the quota: photos no report names yet (models.UploadSlot) ------------------------

    async def take_slot(self, owner_id: str, media_id: UUID, *, limit: int, at: datetime) -> bool:
        """Give ``media_id`` one of its owner's ``limit`` slots; False when all are taken.

        Each try is an insert of a slot id: the store's unique ``_id`` decides between
        parallel uploads, so no two ever hold the same slot and at most ``limit`` exist.
        """
        slots = UploadSlot.get_pymongo_collection()
        for n in range(limit):
            try:
                slot = {"_id": f"{owner_id}/{n}", "owner_id": owner_id, "media_id": media_id, "taken_at": at}
                await slots.insert_one(slot)
            except DuplicateKeyError:
                continue
            return True
        return False

    async def release_slot(self, media_id: UUID, owner_id: str | None = None) -> None:
        """Free the slot ``media_id`` holds (idempotent); only its owner's, when ``owner_id`` is given."""
        owner = {} if owner_id is None else {"owner_id": owner_id}
        await UploadSlot.get_pymongo_collection().delete_one({"media_id": media_id, **owner})

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
        """Give up an upload that never came (compare-and-set from awaiting_upload); frees its slot first."""
        await self.release_slot(media_id)
        return await self.move(
            media_id, "awaiting_upload", "expired", reason=reason, expired_at=at, unattached_since=None
        )

    # -- photos no report named (the orphan sweep) -----------------------------------------

    async def unattached_before(self, before: datetime, limit: int) -> list[Media]:
        """Photos no report has named since before ``before``, the longest waiting first."""
        cursor = self._collection().find({"unattached_since": {"$lt": before}}).sort("unattached_since", 1).limit(limit)
        return [Media.model_validate({**doc, "id": doc["_id"]}) async for doc in cursor]

    async def settle_unattached(self, media_id: UUID) -> None:
        """The orphan sweep is done with ``media_id``: it leaves the sweep's list."""
        await self._collection().update_one({"_id": media_id}, {"$set": {"unattached_since": None}})

    # -- a deleted account's photos -----------------------------------------------------------

    async def owned_by(self, owner_id: str) -> list[Media]:
        """Every photo of ``owner_id``, whatever its state (the ``owner_id, created_at`` index)."""
        cursor = self._collection().find({"owner_id": owner_id})
        return [Media.model_validate({**doc, "id": doc["_id"]}) async for doc in cursor]

    # -- the reports that name a photo ------------------------------------------------------

    async def of_issue(self, issue_id: UUID) -> list[Media]:
        """The photos a report names (or named when they were deleted for it)."""
        cursor = self._collection().find({"issue_ids": issue_id})
        return [Media.model_validate({**doc, "id": doc["_id"]}) async for doc in cursor]

    async def attach(self, media_id: UUID, issue_id: UUID, owner_id: str) -> bool:
        """Link a photo to a report of its owner; nothing for someone else's, unknown or deleted photo.

        Its slot is freed first (only the owner's: naming someone else's photo frees nothing), so a
        crash in between errs towards the user and a redelivery finishes the link. The link is a
        compare-and-set against deletion, and bumps ``links_version``: the orphan sweep, which
        marks a photo deleted only at the version it read, cannot then delete a photo linked meanwhile.
        """
        await self.release_slot(media_id, owner_id)
        result = await self._collection().update_one(
            {"_id": media_id, "owner_id": owner_id, "status": {"$ne": "deleted"}, "issue_ids": {"$ne": issue_id}},
            {"$push": {"issue_ids": issue_id}, "$inc": {"links_version": 1}, "$set": {"unattached_since": None}},
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
