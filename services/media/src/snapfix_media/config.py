"""Settings of the media service (``SNAPFIX_*`` environment variables)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from snapfix_shared.settings import MongoSettings, ProcessSettings, RedisSettings

# Only for a laptop: `make run` and the tests. A deployment sets SNAPFIX_UPLOAD_SECRET
# (at least 32 random bytes); the service logs a warning when this default is in use.
DEV_UPLOAD_SECRET = "snapfix-local-upload-secret-change-me-0123456789"  # noqa: S105
MB = 1024 * 1024


class MediaSettings(ProcessSettings, MongoSettings, RedisSettings):
    http_port: int = 8002
    mongo_database: str = "snapfix_media"
    consumer_group: str = "media"
    # issues.events.v1 (photos of withdrawn reports): a group of its own, never shared with the above
    issues_events_group: str = "media-issues"
    issues_events_batch: int = Field(default=200, ge=1, description="Records per batch")

    # -- upload intake
    upload_secret: SecretStr = SecretStr(DEV_UPLOAD_SECRET)
    upload_url_ttl_s: int = Field(default=900, ge=30, description="How long a signed upload URL stays valid")
    max_upload_bytes: int = Field(default=15 * MB, ge=1)
    storage_backend: Literal["gridfs", "s3"] = "gridfs"

    # -- processing
    max_pixels: int = Field(default=50_000_000, ge=1, description="Decompression-bomb limit")
    process_timeout_s: float = Field(default=30.0, gt=0, description="Per image, in a worker process")
    process_workers: int = Field(default=max(1, os.cpu_count() or 1), ge=1)

    @field_validator("upload_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("SNAPFIX_UPLOAD_SECRET must be at least 32 characters")
        return value
