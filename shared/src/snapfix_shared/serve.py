"""Serve a SnapFix app with uvicorn: N worker processes, graceful shutdown on SIGTERM, our JSON logs.

``SNAPFIX_WORKERS`` (``HttpSettings.workers``) processes share the port; each builds the
app from the factory (its own consumers, pools and caches; a Kafka group spreads the
partitions over them). With more than one, Prometheus runs in multiprocess mode: every
worker writes its metrics to a directory of its own and ``/metrics`` (whichever worker
answers) reports them all.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import uvicorn

from snapfix_shared.settings import HttpSettings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def serve(factory: str, settings: HttpSettings) -> None:
    """Run the app built by ``factory`` ("module:function", no arguments) in ``settings.workers`` processes."""
    made = None
    if settings.workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # Set before the workers start (they import prometheus_client afresh): a directory per run.
        made = os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="snapfix-metrics-")
    try:
        uvicorn.run(
            factory,
            factory=True,
            workers=settings.workers,
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
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
