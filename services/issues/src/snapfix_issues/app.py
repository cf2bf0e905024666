"""Composition root of the issues service: consumers of issues.commands.v1 and the query API."""

from __future__ import annotations

from fastapi import FastAPI

from snapfix_issues import api, consumers
from snapfix_issues.cache import IssueCache
from snapfix_issues.catalogue import Catalogue
from snapfix_issues.catalogue_sync import CatalogueSync, kafka_announcer
from snapfix_issues.config import IssuesSettings
from snapfix_issues.models import DOCUMENTS
from snapfix_issues.readmodel import ReadModel
from snapfix_issues.repository import CategoryRepository, PhotoRepository, ReportRepository
from snapfix_issues.service import IssuePhotos, ReadModelKeeper, UserErasure
from snapfix_shared.http_client import Upstream
from snapfix_shared.runtime import Runtime


def create_app(settings: IssuesSettings | None = None) -> FastAPI:
    settings = settings or IssuesSettings()
    runtime = Runtime(
        "issues",
        settings,
        mongo_database=settings.mongo_database,
        documents=list(DOCUMENTS),
    )
    assert runtime.redis is not None
    repo = ReportRepository()
    cache = IssueCache(runtime.redis, settings.cache_ttl_s, runtime.breakers)
    readmodel = ReadModel(runtime.redis, runtime.breakers)
    keeper = ReadModelKeeper(readmodel, cache, repo, check_s=settings.readmodel_check_s)
    runtime.on_startup.append(keeper.start)
    runtime.on_shutdown.insert(0, keeper.stop)
    catalogue = Catalogue()
    sync = CatalogueSync(catalogue, CategoryRepository(), settings.catalogue_refresh_s, kafka_announcer(runtime))
    runtime.on_startup.append(sync.start)
    runtime.on_shutdown.append(sync.stop)
    handler = consumers.IssueCommandHandler(
        runtime,
        repo,
        cache,
        readmodel,
        catalogue,
        group=settings.consumer_group,
        sync=sync,
        require_actor_proof=settings.require_actor_proof,
    )
    consumers.register(runtime, handler, settings)
    erasure = UserErasure(repo, cache, readmodel)
    users = consumers.UserEvents(runtime, erasure, group=settings.issues_users_group)
    consumers.register_user_events(runtime, users, settings)
    photos = IssuePhotos(PhotoRepository())
    consumers.register_photo_events(runtime, consumers.PhotoEvents(runtime, photos))
    media = Upstream("media", settings.media_url, settings.upstream_timeout_s, breakers=runtime.breakers)
    runtime.on_startup.insert(0, media.open)
    runtime.on_shutdown.append(media.close)

    app = runtime.app(
        title="SnapFix issues service",
        description="Owns reports: their lifecycle and queries.",
        needs_mongo=api.needs_store,
    )
    app.state.runtime, app.state.repo, app.state.cache = runtime, repo, cache
    app.state.readmodel, app.state.readmodel_keeper = readmodel, keeper
    app.state.catalogue, app.state.catalogue_sync = catalogue, sync
    app.state.media, app.state.photos = media, photos
    app.state.settings = settings
    api.install(app)
    return app
