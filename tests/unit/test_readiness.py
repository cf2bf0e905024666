"""``/readyz`` says which dependency is not ready, never why: the reason goes to the log."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from fastapi import FastAPI

from snapfix_shared.health import health_router
from snapfix_shared.problems import install_problem_handlers

pytestmark = pytest.mark.unit

DETAIL = "mongo-0.snapfix-data.svc:27017: [Errno 111] Connection refused (topology 7f3a, pymongo 4.9)"


async def ok() -> None:
    return None


async def refused() -> None:
    raise ConnectionError(DETAIL)


async def silent() -> None:
    await asyncio.sleep(10)


def app() -> FastAPI:
    built = FastAPI()
    install_problem_handlers(built)
    built.include_router(health_router({"kafka": ok, "mongo": refused, "redis": silent}, timeout_s=0.05))
    return built


async def test_a_failed_check_is_named_without_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://svc") as http:
        with caplog.at_level(logging.WARNING, logger="snapfix_shared.health"):
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["checks"] == {"kafka": "ok", "mongo": "failed", "redis": "timeout"}
    for leak in ("mongo-0", "snapfix-data", "Errno", "ConnectionError", "pymongo"):
        assert leak not in response.text
    # The operator still learns why, from the log.
    assert any(DETAIL in r.getMessage() for r in caplog.records)
    assert any("redis" in r.getMessage() for r in caplog.records)


async def test_all_ready_is_200_with_every_check_ok() -> None:
    healthy = FastAPI()
    healthy.include_router(health_router({"kafka": ok, "redis": ok}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=healthy), base_url="http://svc") as http:
        response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"kafka": "ok", "redis": "ok"}}
