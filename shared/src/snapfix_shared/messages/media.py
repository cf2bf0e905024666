"""Contracts of the media domain: ``media.commands.v1`` and ``media.events.v1``.

Kafka carries references, never blobs: a photo travels as its media id, keyed by it, so
one photo's messages stay in order. The bytes live in the media service's storage.

The media service knows nothing of its customers' events: a service that shows photos (the
issues service) tells it which photos a report shows with ``SetIssuePhotos`` on its command
topic, keyed by the report's id so one report's commands stay in order, and follows
``media.events.v1`` for what became of them.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from snapfix_shared.messages.base import Command, Event

# What the upload intake accepts (sniffed from the bytes; the declared type is only a hint).
ContentType = Literal["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"]
VariantName = Literal["thumb.webp", "thumb.jpg", "medium.webp", "medium.jpg", "large.webp", "large.jpg"]
OwnerId = Annotated[str, Field(min_length=1, max_length=128)]


class MediaCommandBase(Command):
    media_id: UUID

    def partition_key(self) -> str:
        return str(self.media_id)


class MediaEventBase(Event):
    media_id: UUID

    def partition_key(self) -> str:
        return str(self.media_id)


# -- commands ---------------------------------------------------------------------------


class ProcessMedia(MediaCommandBase):
    """An original was stored: validate it, strip its metadata and make its public variants."""

    type: Literal["ProcessMedia"] = "ProcessMedia"
    owner_id: OwnerId
    content_type: ContentType = Field(description="As declared by the client; the service sniffs the bytes")
    size: int = Field(ge=0, description="Bytes stored")


IssuePhotoReason = Literal["reported", "edited", "withdrawn"]


class SetIssuePhotos(Command):
    """This report now shows exactly these photos of this owner (sent by the issues service).

    ``reported``: link the named photos to the report. ``edited``: link them, and let go of the
    owner's photos the report no longer names. ``withdrawn`` (``media_ids`` empty): let go of
    every photo of the report. Only photos the media service knows whose owner is ``owner_id``
    are linked; a photo no report names any more is deleted and announced as ``MediaDeleted``
    (its ``causation_id`` is this command's ``message_id``). The sender derives ``message_id``
    from its own stored event, so a redelivery carries the same id and is announced the same.
    """

    type: Literal["SetIssuePhotos"] = "SetIssuePhotos"
    issue_id: UUID
    owner_id: OwnerId = Field(description="The reporter: only their photos are linked to the report")
    media_ids: tuple[UUID, ...] = Field(default=(), max_length=20, description="The owner's photos the report shows")
    reason: IssuePhotoReason

    def partition_key(self) -> str:
        return str(self.issue_id)


# -- events -----------------------------------------------------------------------------


class MediaVariant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: VariantName
    content_type: Literal["image/webp", "image/jpeg"]
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    size: int = Field(ge=1, description="Bytes")


class MediaProcessed(MediaEventBase):
    type: Literal["MediaProcessed"] = "MediaProcessed"
    owner_id: OwnerId
    variants: tuple[MediaVariant, ...]
    width: int = Field(ge=1, description="Of the upright original, in pixels")
    height: int = Field(ge=1)
    phash: str = Field(min_length=1, max_length=64, description="Perceptual hash (hex), for duplicate photos")


class MediaRejected(MediaEventBase):
    type: Literal["MediaRejected"] = "MediaRejected"
    owner_id: OwnerId
    reason: str = Field(min_length=1, max_length=500, description="Why, in words a person can read")


class MediaDeleted(MediaEventBase):
    """The photo's original and every variant were removed from storage; its URLs answer 410 Gone."""

    type: Literal["MediaDeleted"] = "MediaDeleted"
    owner_id: OwnerId
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why, as a short code: issue_withdrawn (its report was withdrawn), "
        "removed_from_issue (the reporter's edit took it out of the report), never_attached "
        "(no report named it in time) or owner_deleted (its owner deleted their account; no report named it)",
    )
    issue_id: UUID | None = Field(default=None, description="The report whose withdrawal or edit caused it")


# One union per topic, discriminated on ``type``; new members are added with ``|``.
MediaCommand = Annotated[ProcessMedia | SetIssuePhotos, Field(discriminator="type")]
MediaEvent = Annotated[MediaProcessed | MediaRejected | MediaDeleted, Field(discriminator="type")]

MEDIA_COMMANDS: TypeAdapter[MediaCommand] = TypeAdapter(MediaCommand)
MEDIA_EVENTS: TypeAdapter[MediaEvent] = TypeAdapter(MediaEvent)
