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

    async def finish(self, media_id: UUID, status: MediaStatus, event: dict[str, Any], **fields: Any) -> None:
        await self._collection().update_one(
            {"_id": media_id, "status": "pending"}, {"$set": {"status": status, "event": event, **fields}}
        )
