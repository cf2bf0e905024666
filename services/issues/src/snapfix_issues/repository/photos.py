"""The ``photos`` projection's store: what became of each photo reports name."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from pymongo.errors import DuplicateKeyError

from snapfix_issues.models import Photo


class PhotoRepository:
    """The ``photos`` projection: what became of each photo reports name."""

    async def find(self, media_ids: Sequence[UUID]) -> list[Photo | None]:
        """Each photo as projected, or None (nothing heard of it yet); one point read each."""
        return list(await asyncio.gather(*(Photo.get(m) for m in media_ids)))

    async def project(self, media_id: UUID, fields: dict[str, Any]) -> None:
        """Set a photo's fields (an upsert by id); a deleted photo stays deleted, whatever arrives after
        (a replay of older events): the filter then matches nothing and the upsert's insert meets the
        existing ``_id``."""
        with contextlib.suppress(DuplicateKeyError):
            await Photo.get_pymongo_collection().update_one(
                {"_id": media_id, "status": {"$ne": "deleted"}}, {"$set": fields}, upsert=True
            )
