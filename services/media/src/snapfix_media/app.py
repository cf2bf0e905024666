"""Composition root of the media service: upload intake, the image pipeline's consumer, serving."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from snapfix_media import api, handlers, issue_photos
from snapfix_media.config import DEV_UPLOAD_SECRET, MediaSettings
from snapfix_media.models import Media
from snapfix_media.repository import MediaRepository
from snapfix_media.signing import UploadSigner
from snapfix_media.storage import BlobStore, GridFsStore
from snapfix_media.workers import ImageWorkers
from snapfix_shared.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(settings: MediaSettings | None = None) -> FastAPI:
    settings = settings or MediaSettings()
    runtime = Runtime("media", settings, mongo_database=settings.mongo_database, documents=[Media])
    assert runtime.mongo is not None
    assert runtime.redis is not None
    if settings.storage_backend != "gridfs":
        raise NotImplementedError("SNAPFIX_STORAGE_BACKEND=s3 is not implemented yet (see storage.py)")
    store: BlobStore = GridFsStore(runtime.mongo[settings.mongo_database])
    secret = settings.upload_secret.get_secret_value()
    if secret == DEV_UPLOAD_SECRET:
        log.warning("SNAPFIX_UPLOAD_SECRET is not set: using the development secret (never in production)")
    repo = MediaRepository()
    workers = ImageWorkers(
        settings.process_workers, timeout_s=settings.process_timeout_s, max_pixels=settings.max_pixels
    )
    runtime.on_shutdown.append(workers.close)
    handler = handlers.ProcessMediaHandler(runtime, repo, store, workers, group=settings.consumer_group)
    handlers.register(runtime, handler, settings)
    photos = issue_photos.IssuePhotosHandler(runtime, repo, store, group=settings.issues_events_group)
    issue_photos.register(runtime, photos, settings)

    app = runtime.app(
        title="SnapFix media service",
        description="Owns photos: upload intake, validation, processing, storage, serving.",
    )
    app.state.runtime, app.state.settings, app.state.repo = runtime, settings, repo
    app.state.store, app.state.signer, app.state.workers = store, UploadSigner(secret), workers
    api.install(app)
    return app
