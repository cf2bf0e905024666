"""Serve a SnapFix app with uvicorn: N worker processes, graceful shutdown on SIGTERM, our JSON logs.

``SNAPFIX_WORKERS`` (``HttpSettings.workers``) processes share the port; each builds the
app from the factory (its own consumers, pools and caches; a Kafka group spreads the
partitions over them). With more than one, Prometheus runs in multiprocess mode: every
worker writes its metrics to a directory of its own and ``/metrics`` (whichever worker
answers) reports them all.

The client address (per-IP rate limits, logs) is the peer's, unless the peer is one of
``SNAPFIX_FORWARDED_ALLOW_IPS`` (``HttpSettings.forwarded_allow_ips``): then it is the one
that peer puts in ``X-Forwarded-For``. Behind an edge or an ingress controller that is the
edge's address or network; trusting nobody there would count every client as the edge.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import uvicorn

from snapfix_shared.settings import HttpSettings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def server_options(settings: HttpSettings) -> dict[str, Any]:
    """uvicorn's options for this process (``uvicorn.run``/``uvicorn.Config`` keywords, less the app)."""
    return {
        "workers": settings.workers,
        "host": settings.http_host,
        "port": settings.http_port,
        "log_config": None,  # keep the JSON logging configured by the runtime
        "access_log": False,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_s),
        # Longer than the callers' pool expiry (gateway: 20 s), so callers close first.
        "timeout_keep_alive": 60,
        "proxy_headers": True,
        # Given explicitly: uvicorn would otherwise read FORWARDED_ALLOW_IPS, else trust 127.0.0.1 only.
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "server_header": False,
    }


def serve(factory: str, settings: HttpSettings) -> None:
    """Run the app built by ``factory`` ("module:function", no arguments) in ``settings.workers`` processes."""
    made = None
    if settings.workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # Set before the workers start (they import prometheus_client afresh): a directory per run.
        made = os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="snapfix-metrics-")
    try:
        uvicorn.run(factory, factory=True, **server_options(settings))
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
