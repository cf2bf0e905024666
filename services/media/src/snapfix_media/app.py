"""Composition root of the media service.

The process runs with its own database, cache and Kafka client and answers health
checks; its consumers and query API arrive with its own issue.
"""

from __future__ import annotations

from fastapi import FastAPI

from snapfix_media.config import MediaSettings
from snapfix_shared.runtime import Runtime


def create_app(settings: MediaSettings | None = None) -> FastAPI:
    settings = settings or MediaSettings()
    runtime = Runtime("media", settings, mongo_database=settings.mongo_database)
    app = runtime.app(
        title="SnapFix media service",
        description="Owns photos: upload intake, validation, processing, storage, serving.",
    )
    app.state.runtime = runtime
    return app
