"""The media service's settings as the integration tests run it in-process."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from snapfix_media.config import MediaSettings
from tests.stack import Stack


def media_settings(stack: Stack, name: str, **overrides: Any) -> MediaSettings:
    """On the real stack, with a database and consumer groups of ``name``'s own (and a fresh tag), GridFS, one worker."""
    tag = uuid4().hex[:8]
    fields: dict[str, Any] = {
        **stack.connections(),
        "mongo_database": f"snapfix_media_{name}_{tag}",
        "consumer_group": f"media-{name}-{tag}",
        "media_users_group": f"media-users-{name}-{tag}",
        "process_workers": 1,
        "storage_backend": "gridfs",
    }
    return MediaSettings(**{**fields, **overrides})
