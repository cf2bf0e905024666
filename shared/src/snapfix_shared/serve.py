"""Serve a SnapFix app with uvicorn: graceful shutdown on SIGTERM, our JSON logs."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from snapfix_shared.settings import HttpSettings


def serve(app: FastAPI, settings: HttpSettings) -> None:
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep the JSON logging configured by the runtime
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        # Longer than the callers' pool expiry (gateway: 20 s), so callers close first.
        timeout_keep_alive=60,
        proxy_headers=True,
        server_header=False,
    )
