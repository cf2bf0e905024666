"""Composition root of the notify service.

The process runs with its own database, cache and Kafka client and answers health
checks; its consumers and query API arrive with its own issue.
"""

from __future__ import annotations

from fastapi import FastAPI

from snapfix_notify.config import NotifySettings
from snapfix_shared.runtime import Runtime


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    runtime = Runtime("notify", settings, mongo_database=settings.mongo_database)
    app = runtime.app(
        title="SnapFix notify service",
        description="Owns notifications: who is told what, on which channel, exactly once.",
    )
    app.state.runtime = runtime
    return app
