"""The media service's HTTP request and response bodies (``api.py`` serves them).

The answers the gateway relays (an upload URL, an upload received, a photo's state) are declared
once in ``snapfix_shared.schemas.media``, for this service's document and the gateway's alike
(``extra="forbid"``: its tests check the answers against them); the request body is its own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from snapfix_shared.messages.media import ContentType
from snapfix_shared.schemas.media import MediaState, Uploaded, UploadTicket

__all__ = ["MediaState", "UploadRequest", "UploadTicket", "Uploaded"]


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_type: ContentType
    size: int = Field(ge=1, description="Bytes the client will send")
