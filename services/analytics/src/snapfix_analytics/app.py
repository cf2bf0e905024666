"""Composition root of the analytics service.

The process runs with its own database, cache and Kafka client and answers health
checks; its consumers and query API arrive with its own issue.
"""

from __future__ import annotations

from fastapi import FastAPI

from snapfix_analytics.config import AnalyticsSettings
from snapfix_shared.runtime import Runtime


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    runtime = Runtime("analytics", settings, mongo_database=settings.mongo_database)
    app = runtime.app(
        title="SnapFix analytics service",
        description="Owns aggregates: windowed statistics, the analyst streams, dashboard queries.",
    )
    app.state.runtime = runtime
    return app
