"""The media service's HTTP request and response bodies (``api.py`` serves them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from snapfix_shared.messages.media import ContentType


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_type: ContentType
    size: int = Field(ge=1, description="Bytes the client will send")


class UploadTicket(BaseModel):
    id: UUID
    upload_url: str = Field(description="Path (on the gateway) to PUT the bytes to, once, before expires_at")
    expires_at: datetime


class Uploaded(BaseModel):
    """The bytes are stored and queued for processing (``ProcessMedia``)."""

    id: UUID
    status: Literal["pending"] = "pending"
    size: int = Field(description="Bytes received")


class MediaState(BaseModel):
    id: UUID
    status: str = Field(description="awaiting_upload, pending, processed, rejected, failed, expired or deleted")
    reason: str | None = None
    width: int | None = None
    height: int | None = None
    variants: dict[str, str] = Field(default_factory=dict, description="Variant name -> public path")
