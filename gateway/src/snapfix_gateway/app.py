"""Composition root of the gateway: the thin HTTP edge of SnapFix."""

from __future__ import annotations

from fastapi import FastAPI

from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.request_id import RequestIdMiddleware
from snapfix_gateway.routes import issues
from snapfix_gateway.upstream import upstream_client
from snapfix_shared.runtime import Runtime


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    runtime = Runtime("gateway", settings)
    issues_http = upstream_client(settings.issues_url, settings.upstream_timeout_s)
    runtime.on_shutdown.append(issues_http.aclose)

    app = runtime.app(
        title="SnapFix API",
        description="Report civic issues (potholes, broken lights, garbage) and follow them to resolution.",
    )
    app.state.runtime, app.state.settings, app.state.issues_http = runtime, settings, issues_http
    app.add_middleware(RequestIdMiddleware)
    app.include_router(issues.router)
    return app
