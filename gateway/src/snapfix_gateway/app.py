"""Composition root of the gateway: the thin HTTP edge of SnapFix."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, routing
from fastapi.openapi.utils import _get_api_route_for_openapi
from opentelemetry.sdk.trace import TracerProvider
from starlette.types import ASGIApp

from snapfix_gateway.accept_lane import AcceptLane
from snapfix_gateway.body_limit import BodyLimitMiddleware
from snapfix_gateway.catalogue import CatalogueCopy
from snapfix_gateway.config import DEV_JWT_SECRET, GatewaySettings
from snapfix_gateway.edge_cache import Admit, EdgeCacheMiddleware
from snapfix_gateway.idempotency import Idempotency
from snapfix_gateway.identity.accounts import Accounts
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.passwords import Passwords
from snapfix_gateway.identity.revocations import Revocations
from snapfix_gateway.identity.sessions import Sessions
from snapfix_gateway.identity.tokens import TokenCodec
from snapfix_gateway.live import LiveFanout
from snapfix_gateway.live import register as register_live
from snapfix_gateway.live_hub import LiveHub
from snapfix_gateway.open311 import routes as open311
from snapfix_gateway.open311.keys import ApiKey, ApiKeys
from snapfix_gateway.openapi import install as install_openapi
from snapfix_gateway.ratelimit import AnonymousLimit, Limiter, RateLimitMiddleware, anonymous_policy
from snapfix_gateway.request_id import RequestIdMiddleware
from snapfix_gateway.routes import analytics, auth, devices, issues, live, media, webhooks
from snapfix_gateway.routes import notifications as notifications_routes
from snapfix_gateway.upstream import Upstream
from snapfix_gateway.web import WebApp, WebMiddleware
from snapfix_shared.redis_client import redis_client
from snapfix_shared.runtime import Runtime
from snapfix_shared.sealing import LinkSeal
from snapfix_shared.tasks import cancelled

log = logging.getLogger(__name__)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    runtime = Runtime("gateway", settings, mongo_database=settings.mongo_database, documents=[Account, ApiKey])
    assert runtime.redis is not None
    issues_http = Upstream("issues", settings.issues_url, settings.upstream_timeout_s, breakers=runtime.breakers)
    runtime.on_startup.insert(0, issues_http.open)
    runtime.on_shutdown.append(issues_http.close)
    media_http = Upstream("media", settings.media_url, settings.upstream_timeout_s, breakers=runtime.breakers)
    runtime.on_startup.insert(0, media_http.open)
    runtime.on_shutdown.append(media_http.close)
    notify_http = Upstream("notify", settings.notify_url, settings.upstream_timeout_s, breakers=runtime.breakers)
    runtime.on_startup.insert(0, notify_http.open)
    runtime.on_shutdown.append(notify_http.close)
    analytics_http = Upstream(
        "analytics", settings.analytics_url, settings.upstream_timeout_s, breakers=runtime.breakers
    )
    runtime.on_startup.insert(0, analytics_http.open)
    runtime.on_shutdown.append(analytics_http.close)
    catalogue = _catalogue_copy(runtime, settings)

    secret = settings.jwt_secret.get_secret_value()
    if secret == DEV_JWT_SECRET:
        log.warning("SNAPFIX_JWT_SECRET is not set: using the development secret (never in production)")
    tokens = TokenCodec(
        secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=settings.access_token_ttl_s
    )
    # Revoked sessions, followed from Redis by one blocking reader of this process's own.
    revocations_redis = redis_client(settings, socket_timeout=settings.revocation_max_lag_s + settings.redis_timeout_s)
    revocations = Revocations(
        revocations_redis, keep_s=settings.access_token_ttl_s + 60, max_lag_s=settings.revocation_max_lag_s
    )
    runtime.on_startup.append(revocations.start)
    runtime.on_shutdown.extend([revocations.stop, revocations_redis.aclose])
    sessions = Sessions(
        runtime.redis,
        settings.refresh_token_ttl_s,
        max_age_s=settings.session_max_age_s,
        revocations=revocations,
        reuse_grace_s=settings.refresh_reuse_grace_s,
    )
    accounts = Accounts(
        runtime.broker,
        Passwords(settings.password_hash_concurrency),
        source=runtime.source,
        publish_timeout_s=runtime.publish_timeout_s,
        public_base_url=settings.public_base_url,
        min_password_score=settings.min_password_score,
        password_reset_ttl_s=settings.password_reset_ttl_s,
        link_seal=LinkSeal(settings.link_seal_key),
    )
    _background(runtime, accounts, settings)
    if settings.live_updates:
        register_live(runtime, LiveFanout(runtime, runtime.redis, issues_http))
    # One feed reader per process for every stream, on Redis connections of its own (bounded).
    live_hub = LiveHub.started_with(runtime, settings, revocations.is_revoked)

    app = runtime.app(
        needs_mongo=_needs_mongo,
        title="SnapFix API",
        description=(
            "Report civic issues (potholes, broken lights, garbage) and follow them to resolution. "
            "Sign in with `POST /v1/auth/token` (the Authorize button) and send the access token as a Bearer token. "
            "Every error is RFC 9457 `application/problem+json`; every POST accepts an `Idempotency-Key`."
        ),
    )
    # The document says what the edge answers around every route; 405 names the path's methods.
    install_openapi(app)
    app.state.runtime, app.state.settings, app.state.issues_http = runtime, settings, issues_http
    app.state.tokens, app.state.sessions, app.state.accounts = tokens, sessions, accounts
    app.state.revocations = revocations
    app.state.live_hub = live_hub
    app.state.media_http, app.state.catalogue = media_http, catalogue
    app.state.notify_http, app.state.analytics_http = notify_http, analytics_http
    app.state.api_keys = ApiKeys()
    _edge_middleware(app, runtime, settings, tokens)
    app.include_router(auth.router)
    app.include_router(issues.router)
    app.include_router(live.router)
    app.include_router(media.router)
    app.include_router(analytics.router)
    app.include_router(webhooks.router)
    app.include_router(devices.router)
    app.include_router(notifications_routes.router)
    app.include_router(open311.router)
    app.include_router(open311.admin_router)
    return app


def _edge_middleware(app: FastAPI, runtime: Runtime, settings: GatewaySettings, tokens: TokenCodec) -> None:
    """Outermost first: the public answers kept at the edge (an anonymous read of an issue, counted
    against the anonymous limit by the same limiter), then tracing, request id, the web app
    (when built; paths that are not the API's, not rate limited), the body cap, then rate limits
    (counted here, settled in Redis every ``rate_limit_settle_ms``) and idempotency keys (one
    Redis round trip, for a request that has one: its claim; its answer is written with the
    others every ``rate_limit_settle_ms``), then the routes."""
    assert runtime.redis is not None
    settle_every_s = settings.rate_limit_settle_ms / 1000 if settings.rate_limit_settle_ms else None
    limiter = Limiter(runtime.redis, runtime.breakers, settle_every_s=settle_every_s)
    # Answers to Idempotency-Key requests are written to Redis on the same interval.
    idempotency = Idempotency(runtime.redis, ttl_s=settings.idempotency_ttl_s, keep_every_s=settle_every_s)
    for flusher in (limiter.flusher, idempotency.flusher):
        runtime.on_startup.append(flusher.start)
        runtime.on_shutdown.append(flusher.stop)
    app.state.idempotency = idempotency
    _kept_answers_first(
        app,
        max_bytes=settings.edge_cache_bytes,
        admit=AnonymousLimit(limiter, anonymous_policy(settings)),
        # The accept lane's sampling is decided with the process's tracer provider; None: off.
        lane_tracing=runtime.tracer_provider if settings.accept_lane else None,
        direct=settings.accept_direct,
    )
    app.add_middleware(
        RateLimitMiddleware,
        settings=settings,
        tokens=tokens,
        limiter=limiter,
        idempotency=idempotency,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.web_dist is not None:
        app.add_middleware(WebMiddleware, web=_web_app(settings), routes=lambda: _route_paths(app))
        log.info("serving the web app from %s", settings.web_dist)
    app.add_middleware(RequestIdMiddleware)


def _kept_answers_first(
    app: FastAPI, *, max_bytes: int, admit: Admit, lane_tracing: TracerProvider | None, direct: bool
) -> None:
    """The edge cache around everything the app builds (tracing's middleware included): a hit costs
    what answering from memory does, as at the nginx edge. Inside it, the accept lane: a report
    skips the router, and the tracing middleware when its trace is not kept (``accept_lane``)."""
    built = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        if lane_tracing is None:
            stack = built()
        else:
            stack = AcceptLane(built(), fastapi=app, tracer_provider=lane_tracing, direct=direct)
        return EdgeCacheMiddleware(stack, max_bytes=max_bytes, admit=admit)

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


def _web_app(settings: GatewaySettings) -> WebApp:
    assert settings.web_dist is not None
    config = {
        "tileUrl": settings.web_tile_url,
        "tileAttribution": settings.web_tile_attribution,
        "defaultCenter": [settings.web_default_lat, settings.web_default_lon],
        "defaultZoom": settings.web_default_zoom,
    }
    return WebApp(settings.web_dist, config, map_urls=[settings.web_tile_url])


def _route_paths(app: FastAPI) -> list[str]:
    """Every route's path (included routers' too), as the OpenAPI module walks them."""
    paths = []
    for context in routing.iter_route_contexts(app.routes):
        route = _get_api_route_for_openapi(context)
        path = route.path_format if route is not None else getattr(context.route, "path", None)
        if path:
            paths.append(path)
    return paths


# The gateway's own database holds accounts and API keys only: a Mongo outage must not
# stop what does not need them (accepting reports, reads routed to the services).
_MONGO_PATHS = (
    "/v1/auth/register",
    "/v1/auth/token",
    "/v1/auth/verify-email",
    "/v1/admin/users",
    "/v1/admin/api-keys",
    "/open311/v2/requests",
)


def _needs_mongo(path: str) -> bool:
    return path == "/v1/me" or path.startswith(_MONGO_PATHS)


def _catalogue_copy(runtime: Runtime, settings: GatewaySettings) -> CatalogueCopy:
    """Reports are checked against this copy of the catalogue; the process is ready once it is read to its end."""
    catalogue = CatalogueCopy(settings, client_id="snapfix-gateway-catalogue")
    runtime.on_startup.append(catalogue.start)
    runtime.on_shutdown.append(catalogue.stop)
    runtime.readiness["catalogue"] = catalogue.ready
    return catalogue


def _background(runtime: Runtime, accounts: Accounts, settings: GatewaySettings) -> None:
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        if settings.bootstrap_admin_email and settings.bootstrap_admin_password:
            await accounts.ensure_admin(
                settings.bootstrap_admin_email, settings.bootstrap_admin_password.get_secret_value()
            )
        tasks.append(asyncio.create_task(accounts.relay_outbox(), name="user-outbox-relay"))

    async def stop() -> None:
        await cancelled(*tasks)

    runtime.on_startup.append(start)
    runtime.on_shutdown.append(stop)
