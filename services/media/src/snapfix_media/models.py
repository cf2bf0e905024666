"""Beanie documents of the media service (private to it; never on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

# awaiting_upload -> pending -> processed | rejected | failed (processing dead-lettered);
# awaiting_upload -> expired (the URL was never used); processed and others -> deleted.
MediaStatus = Literal["awaiting_upload", "pending", "processed", "rejected", "failed", "expired", "deleted"]


class Media(Document):
    """One photo: its owner, its state and, once processed, its public variants.

    ``_id`` is the media id handed out with the upload URL. ``event`` is what processing
    announced, kept so a redelivered command re-publishes exactly that.

    ``issue_ids`` are the reports that name the photo (told by ``SetIssuePhotos`` on
    ``media.commands.v1``, only its owner's own reports); ``links_version`` is bumped by every change to
    them, so changes are compare-and-set. When the last report lets go of the photo
    (withdrawn, or an edit removed it) its bytes are deleted, its status becomes
    ``deleted`` and ``issue_ids`` stays as it was, so a redelivered command finds it again
    and re-publishes ``deleted_event`` (the ``MediaDeleted`` announced the first time).
    Intended shard key: ``{_id: "hashed"}`` (reads are by id).
    """

    id: UUID  # type: ignore[assignment]  # our ids are UUIDv7, not ObjectIds
    owner_id: str
    declared_type: str
    declared_size: int
    status: MediaStatus = "awaiting_upload"
    created_at: datetime
    upload_expires_at: datetime
    size: int | None = None
    uploaded_at: datetime | None = None
    reason: str | None = None
    width: int | None = None
    height: int | None = None
    phash: str | None = None
    # [{name, content_type, width, height, size, etag}]: a list, as FerretDB refuses "." in field names
    variants: list[dict[str, Any]] = Field(default_factory=list)
    event: dict[str, Any] | None = None
    issue_ids: list[UUID] = Field(default_factory=list)
    links_version: int = 0
    deleted_at: datetime | None = None
    expired_at: datetime | None = None
    deleted_event: dict[str, Any] | None = None
    # Set when the upload URL is issued, cleared once a report names the photo (or its upload
    # URL expires): the orphan sweep (sweeper.py) collects photos left unattached too long.
    unattached_since: datetime | None = None

    def variant(self, name: str) -> dict[str, Any] | None:
        return next((v for v in self.variants if v.get("name") == name), None)

    class Settings:
        name = "media"
        indexes: ClassVar = [
            IndexModel([("owner_id", 1), ("created_at", -1)]),
            IndexModel([("issue_ids", 1)]),  # multikey: a withdrawn report's photos
            IndexModel([("status", 1), ("upload_expires_at", 1)]),  # the sweep of unused upload URLs
            IndexModel([("unattached_since", 1)]),  # the sweep of photos no report named
        ]


class UploadSlot(Document):
    """One of the few photos a user may have that no report names yet (the quota, quota.py).

    ``_id`` is ``<owner>/<n>`` with ``n`` below the limit: taking a slot is an insert, and the
    unique ``_id`` lets exactly one of two parallel uploads have the last one (an insert is
    atomic on every Mongo-wire server; a conditional ``$inc`` is not on FerretDB). A slot is
    freed (deleted) when a report names its photo, its upload URL expires unused, processing
    rejects it or the orphan sweep collects it. Only open photos have a slot, so the collection
    stays as small as the number of photos waiting for a report: left unsharded (``{owner_id}`` if ever).
    """

    id: str  # type: ignore[assignment]
    owner_id: str
    media_id: UUID
    taken_at: datetime

    class Settings:
        name = "upload_slots"
        indexes: ClassVar = [IndexModel([("media_id", 1)])]  # freeing a photo's slot
