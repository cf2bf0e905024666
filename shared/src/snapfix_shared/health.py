"""``/livez``, ``/readyz`` (dependencies checked, each with a timeout) and ``/metrics``.

These are for Prometheus and the orchestrator, which reach each process directly; the
public ingress and the edge do not route them. Even so, ``/readyz`` names only which
check failed: why (an exception's text can carry host names, URLs, driver internals) goes
to the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from snapfix_shared.problems import problem_response
from snapfix_shared.tally import flush_all

Check = Callable[[], Awaitable[object]]
log = logging.getLogger(__name__)


def health_router(checks: Mapping[str, Check], *, timeout_s: float = 2.0) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", response_model=None)
    async def readyz(request: Request) -> dict[str, object] | JSONResponse:
        async def run(name: str, check: Check) -> tuple[str, str | None]:
            try:
                await asyncio.wait_for(check(), timeout_s)
            except TimeoutError:
                log.warning("readiness check %s: no answer within %.1f s", name, timeout_s)
                return name, "timeout"
            except Exception as exc:  # noqa: BLE001 - a failed check is reported, never raised
                log.warning("readiness check %s failed: %s", name, f"{type(exc).__name__}: {exc}"[:300])
                return name, "failed"
            return name, None

        results = await asyncio.gather(*(run(n, c) for n, c in checks.items()))
        failed = {name: err for name, err in results if err}
        if failed:
            return problem_response(
                request,
                503,
                "Service Unavailable",
                "Dependencies are not ready: " + ", ".join(sorted(failed)),
                headers={"Retry-After": "2"},
                extra={"checks": {n: (failed.get(n) or "ok") for n in checks}},
            )
        return {"status": "ok", "checks": dict.fromkeys(checks, "ok")}

    @router.get("/metrics")
    async def metrics() -> Response:
        flush_all()  # this process's tallies (other workers flush theirs every tally.FLUSH_EVERY_S)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # several workers (serve.py): all of them
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router
