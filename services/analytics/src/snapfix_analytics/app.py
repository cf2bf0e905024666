"""Composition root of the analytics service: the issue-events consumer, the analyst streams, the query API."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from snapfix_analytics import api, consumers
from snapfix_analytics.cache import QueryCache
from snapfix_analytics.config import DEV_PSEUDONYM_SECRET, AnalyticsSettings
from snapfix_analytics.models import DOCUMENTS
from snapfix_analytics.repository import AnalyticsRepository
from snapfix_analytics.service import Dashboard
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    runtime = Runtime("analytics", settings, mongo_database=settings.mongo_database, documents=DOCUMENTS)
    assert runtime.mongo is not None
    assert runtime.redis is not None
    if settings.pseudonym_secret.get_secret_value() == DEV_PSEUDONYM_SECRET:
        log.warning("SNAPFIX_PSEUDONYM_SECRET is not set: using the development secret (never in production)")
    repo = AnalyticsRepository(runtime.mongo[settings.mongo_database], topic=Topic.ISSUES_EVENTS)
    cache = QueryCache(runtime.redis, database=settings.mongo_database, ttl_s=settings.query_cache_ttl_s)
    handler = consumers.IssueEventsHandler(runtime, repo, cache, settings)
    consumers.register(runtime, handler, settings)

    app = runtime.app(
        title="SnapFix analytics service",
        description="Owns aggregates: windowed statistics, the analyst streams, dashboard queries.",
    )
    app.state.runtime, app.state.settings, app.state.repo, app.state.cache = runtime, settings, repo, cache
    app.state.dashboard = Dashboard(repo, max_windows=settings.max_query_windows)
    api.install(app)
    return app
