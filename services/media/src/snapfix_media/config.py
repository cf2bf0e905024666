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
    # users.events.v1 (UserDeleted: service.OwnerErasure): a group of its own
    media_users_group: str = "media-users"

    # -- upload intake
    upload_secret: SecretStr = SecretStr(DEV_UPLOAD_SECRET)
    upload_url_ttl_s: int = Field(default=900, ge=30, description="How long a signed upload URL stays valid")
    max_upload_bytes: int = Field(default=15 * MB, ge=1)
    upload_sweep_interval_s: float = Field(
        default=60.0, gt=0, description="How often uploads issued but never used are looked for"
    )
    upload_sweep_grace_s: int = Field(
        default=300, ge=0, description="How long after its URL expired an unused upload is given up"
    )
    upload_sweep_batch: int = Field(default=500, ge=1, description="Uploads given up per sweep, at most")

    # -- per-user quotas (quota.py) and photos no report ever named (sweeper.py)
    unattached_photo_limit: int = Field(
        default=20, ge=1, description="Photos a user may have that no report names yet (URLs not used yet included)"
    )
    daily_upload_limit: int = Field(default=100, ge=1, description="Upload URLs a user may ask for per UTC day")
    orphan_after_s: int = Field(
        default=86_400, ge=60, description="How long an uploaded photo may wait for a report before it is deleted"
    )
    orphan_sweep_interval_s: float = Field(default=600.0, gt=0, description="How often such photos are looked for")
    orphan_sweep_batch: int = Field(default=200, ge=1, description="Photos collected per sweep, at most")

    # -- storage: GridFS in the service's own database, or an S3-compatible bucket
    storage_backend: Literal["gridfs", "s3"] = "gridfs"
    s3_bucket: str = "snapfix-media"
    s3_endpoint_url: str | None = Field(default=None, description="For S3-compatible servers; None: AWS")
    s3_region: str = "us-east-1"
    # None: the AWS default chain (environment, profile, instance or pod role)
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_path_style: bool = Field(default=False, description="Path-style addressing (most S3-compatible servers)")
    s3_prefix: str = Field(default="", description="Prepended to every key, e.g. 'media/'")
    s3_part_mb: int = Field(default=8, ge=5, le=512, description="Multipart upload part size")
    s3_connect_timeout_s: float = Field(default=3.0, gt=0)
    s3_read_timeout_s: float = Field(default=20.0, gt=0)
    s3_max_attempts: int = Field(default=4, ge=1, description="Per call, retries included (standard mode)")
    s3_create_bucket: bool = Field(default=False, description="Create the bucket at start (local stacks only)")

    # -- caches in front of variants (nginx, a CDN): told to forget a deleted photo's variants
    cdn_purge_url: str | None = Field(
        default=None,
        description="Template called for each variant of a deleted photo, e.g. http://cache/purge{path}",
    )
    cdn_purge_method: str = Field(default="PURGE", description="PURGE (nginx, Varnish, Fastly) or BAN")
    cdn_purge_timeout_s: float = Field(default=2.0, gt=0)

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
