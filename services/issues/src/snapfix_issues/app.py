"""Composition root of the issues service: consumers of issues.commands.v1 and the query API."""

from __future__ import annotations

from fastapi import FastAPI

from snapfix_issues import api, handlers
from snapfix_issues.cache import IssueCache
from snapfix_issues.config import IssuesSettings
from snapfix_issues.models import Report
from snapfix_issues.repository import ReportRepository
from snapfix_shared.runtime import Runtime


def create_app(settings: IssuesSettings | None = None) -> FastAPI:
    settings = settings or IssuesSettings()
    runtime = Runtime("issues", settings, mongo_database=settings.mongo_database, documents=[Report])
    assert runtime.redis is not None
    repo = ReportRepository()
    cache = IssueCache(runtime.redis, settings.cache_ttl_s)
    handlers.register(runtime, handlers.IssueCommandHandler(runtime, repo, cache, settings.consumer_group), settings)

    app = runtime.app(title="SnapFix issues service", description="Owns reports: their lifecycle and queries.")
    app.state.runtime, app.state.repo, app.state.cache = runtime, repo, cache
    app.include_router(api.router)
    return app
