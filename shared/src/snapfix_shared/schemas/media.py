"""The media service's answers that the gateway relays: an upload URL, an upload received, a photo's state.

The media service documents its routes with these (``snapfix_media.schemas``) and its tests check
its answers against them (``extra="forbid"``: an undocumented field fails); the gateway's OpenAPI
document names the same models. The gateway reads one: it makes an ``UploadTicket``'s
``upload_url`` (a path on the gateway, as the media service answers it) a full URL on its public
address; the shape stays the same.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MediaStatus = Literal["awaiting_upload", "pending", "processed", "rejected", "failed", "expired", "deleted"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UploadTicket(_Body):
    id: UUID = Field(description="The media id, to name in a report's media_ids")
    upload_url: str = Field(description="PUT the bytes here, once, signed in as the same user, before expires_at")
    expires_at: AwareDatetime


class Uploaded(_Body):
    """The bytes are stored and queued for processing."""

    id: UUID
    status: Literal["pending"]
    size: int = Field(description="Bytes received")


class MediaState(_Body):
    id: UUID
    status: MediaStatus
    reason: str | None = Field(description="Why it was rejected, in words a person can read")
    width: int | None
    height: int | None
    variants: dict[str, str] = Field(description="Variant name -> public URL path (processed photos)")
