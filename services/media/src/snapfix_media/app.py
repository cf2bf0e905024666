"""Composition root of the media service: upload intake, the image pipeline's consumer, serving."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from snapfix_media import api, consumers
from snapfix_media.config import DEV_UPLOAD_SECRET, MediaSettings
from snapfix_media.models import Media, UploadSlot
from snapfix_media.quota import DailyUploads
from snapfix_media.repository import MediaRepository
from snapfix_media.service import IssuePhotos, OwnerErasure, Processing, Uploads
from snapfix_media.signing import UploadSigner
from snapfix_media.storage import BlobStore, GridFsStore, S3Store
from snapfix_media.sweeper import OrphanSweeper, UploadSweeper
from snapfix_media.workers import ImageWorkers
from snapfix_shared.kafka import publish
from snapfix_shared.messages import MediaDeleted
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)


def create_app(settings: MediaSettings | None = None) -> FastAPI:
    settings = settings or MediaSettings()
    runtime = Runtime("media", settings, mongo_database=settings.mongo_database, documents=[Media, UploadSlot])
    assert runtime.mongo is not None
    assert runtime.redis is not None
    store = make_store(settings, runtime)
    secret = settings.upload_secret.get_secret_value()
    if secret == DEV_UPLOAD_SECRET:
        log.warning("SNAPFIX_UPLOAD_SECRET is not set: using the development secret (never in production)")
    repo = MediaRepository()
    workers = ImageWorkers(
        settings.process_workers, timeout_s=settings.process_timeout_s, max_pixels=settings.max_pixels
    )
    runtime.after_stop.append(workers.close)  # after the consumers: their images are done or abandoned
    sweeper = UploadSweeper(
        repo,
        store,
        interval_s=settings.upload_sweep_interval_s,
        grace_s=settings.upload_sweep_grace_s,
        batch=settings.upload_sweep_batch,
    )
    runtime.on_startup.append(sweeper.start)
    runtime.on_shutdown.insert(0, sweeper.close)

    async def announce(event: MediaDeleted) -> None:
        await publish(
            runtime.broker, Topic.MEDIA_EVENTS, event, source=runtime.source, timeout_s=runtime.publish_timeout_s
        )

    orphans = OrphanSweeper(
        repo,
        store,
        announce,
        interval_s=settings.orphan_sweep_interval_s,
        after_s=settings.orphan_after_s,
        batch=settings.orphan_sweep_batch,
    )
    runtime.on_startup.append(orphans.start)
    runtime.on_shutdown.insert(0, orphans.close)
    commands = consumers.ProcessMediaHandler(
        runtime, Processing(repo, store, workers), group=settings.consumer_group, photos=IssuePhotos(repo, store)
    )
    consumers.subscribe_media_commands(runtime, commands, settings)
    erasure = consumers.user_events_handler(runtime, OwnerErasure(repo, store), group=settings.media_users_group)
    consumers.subscribe_user_events(runtime, erasure, settings)
    consumers.subscribe_cdn_purge(runtime, settings)

    app = runtime.app(
        title="SnapFix media service",
        description="Owns photos: upload intake, validation, processing, storage, serving.",
    )
    app.state.runtime, app.state.settings, app.state.repo = runtime, settings, repo
    app.state.uploads = Uploads(repo, store)
    app.state.store, app.state.signer, app.state.workers = store, UploadSigner(secret), workers
    app.state.sweeper, app.state.orphan_sweeper = sweeper, orphans
    app.state.daily_uploads = DailyUploads(runtime.redis)
    api.install(app)
    return app


def make_store(settings: MediaSettings, runtime: Runtime) -> BlobStore:
    """The blob store ``SNAPFIX_STORAGE_BACKEND`` names; an S3 client opens and closes with the service."""
    if settings.storage_backend == "gridfs":
        assert runtime.mongo is not None
        return GridFsStore(runtime.mongo[settings.mongo_database])
    s3 = S3Store(
        bucket=settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None,
        secret_access_key=settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None,
        path_style=settings.s3_path_style,
        prefix=settings.s3_prefix,
        part_bytes=settings.s3_part_mb * 1024 * 1024,
        connect_timeout_s=settings.s3_connect_timeout_s,
        read_timeout_s=settings.s3_read_timeout_s,
        max_attempts=settings.s3_max_attempts,
    )

    if settings.s3_create_bucket:
        runtime.on_startup.insert(0, s3.ensure_bucket)
    runtime.after_stop.append(s3.close)  # in-flight handlers still use it while consumers stop
    return s3
