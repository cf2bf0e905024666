"""A rolling restart under load loses and duplicates nothing.

Clients keep reporting (each retrying like a phone does: same ``Idempotency-Key``, until a
``202``) while the processes on a report's path, the issues service (its consumer) and
then the gateway, are stopped with SIGTERM and started again, one after the other.
Afterwards each report is stored exactly once and readable. (The notify and analytics
consumers have their own kill tests.)
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

MIN_REPORTS = 40
CLIENTS = 4


async def _report_until_accepted(client: httpx.AsyncClient, body: dict[str, Any], retries: list[str]) -> str:
    key = uuid4().hex
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            response = await client.post("/v1/issues", json=body, headers={"idempotency-key": key})
        except httpx.TransportError as exc:  # the gateway is restarting
            retries.append(type(exc).__name__)
        else:
            if response.status_code == 202:
                return str(response.json()["id"])
            # 503: a dependency is restarting; 409: the first try with this key is still in flight.
            assert response.status_code in {409, 503}, response.text
            retries.append(str(response.status_code))
        await asyncio.sleep(0.3)
    pytest.fail(f"{body['title']} was never accepted")


@pytest.mark.timeout(600)
async def test_a_rolling_restart_under_load_loses_and_duplicates_nothing(system: System) -> None:
    client = await citizen(system)
    tag = uuid4().hex[:8]
    retries: list[str] = []
    accepted: dict[str, str] = {}
    restarted = asyncio.Event()

    async def reporter(n: int) -> None:
        # Keeps reporting for as long as the restarts take (and at least its share).
        sent = 0
        while not restarted.is_set() or sent < MIN_REPORTS // CLIENTS:
            body = make_report_body(title=f"Rolling {tag} c{n} #{sent}")
            accepted[body["title"]] = await _report_until_accepted(client, body, retries)
            sent += 1
            await asyncio.sleep(0.1)

    load = asyncio.gather(*(reporter(n) for n in range(CLIENTS)))
    try:
        for app in ("issues", "gateway"):
            await asyncio.sleep(2.0)
            before = len(accepted)
            await asyncio.to_thread(system.stop, app)  # SIGTERM: finish in-flight work, commit, flush
            await asyncio.to_thread(system.start, app)
            assert len(accepted) > before or app == "gateway", "no load while the consumer restarted"
        restarted.set()
        await load
    finally:
        restarted.set()
        if not load.done():
            load.cancel()

    total = len(accepted)
    assert total >= MIN_REPORTS
    assert len(set(accepted.values())) == total  # one id per report, even after retries
    for issue_id in list(accepted.values())[:: max(1, total // 10)]:
        await eventually(client, f"/v1/issues/{issue_id}", lambda _: True, timeout_s=90)

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.stack.mongo_url)
    try:
        deadline = time.monotonic() + 90
        while True:
            stored = (
                await mongo["snapfix_issues"]["reports"]
                .find({"title": {"$regex": f"^Rolling {tag} "}}, {"title": 1})
                .to_list(None)
            )
            if len(stored) >= total or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await mongo.close()
        await client.aclose()
    titles = [doc["title"] for doc in stored]
    assert len(titles) == total, f"{len(titles)} stored for {total} accepted (retries: {len(retries)})"
    assert sorted(titles) == sorted(accepted)  # every accepted report, none twice
    # The gateway's restart made clients retry: the test really ran through it.
    assert retries, "no client ever had to retry: the restarts happened outside the load"
    print(f"rolling restart: {total} reports, {len(retries)} client retries ({sorted(set(retries))})")
