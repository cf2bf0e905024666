"""Webhooks and push devices through all five real processes: admin API on the gateway, an issue
event over Kafka, a signed delivery to a real receiver on loopback, the delivery log."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually, sign_in, user_id
from tests.e2e.conftest import ADMIN, System
from tests.webhook_receiver import Received, receiver, verifies

pytestmark = pytest.mark.e2e


async def test_an_anonymous_report_reaches_an_integrators_webhook_signed_and_without_its_reporter(
    system: System,
) -> None:
    admin = await sign_in(system, *ADMIN)
    reporter = await citizen(system)
    try:
        async with receiver() as hook:
            body = {"url": f"{hook.url}/city", "event_types": ["IssueReported"], "description": "open data portal"}
            created = await admin.post("/v1/admin/webhooks", json=body)
            assert created.status_code == 201, created.text
            endpoint: dict[str, Any] = created.json()
            assert endpoint["secret"].startswith("whsec_")
            assert endpoint["enabled"] is True

            accepted = await reporter.post("/v1/issues", json=make_report_body(anonymous=True))
            assert accepted.status_code == 202, accepted.text
            issue_id = accepted.json()["id"]

            request = await _first(hook.requests, lambda r: r.json()["data"]["issue_id"] == issue_id)

        assert verifies(endpoint["secret"], request.headers, request.body)
        assert request.json()["type"] == "IssueReported"
        assert user_id(reporter) not in request.body.decode()

        log = await eventually(
            admin,
            f"/v1/admin/webhooks/{endpoint['id']}/deliveries",
            lambda page: any(d["status"] == "delivered" for d in page["items"]),
        )
        [delivery] = [d for d in log["items"] if d["id"] == request.headers["webhook-id"]]
        assert [a["status_code"] for a in delivery["attempts"]] == [200]

        listed = (await admin.get("/v1/admin/webhooks")).json()
        mine = [e for e in listed if e["id"] == endpoint["id"]]
        assert len(mine) == 1
        assert "secret" not in mine[0]  # answered once, at creation
        assert (await admin.delete(f"/v1/admin/webhooks/{endpoint['id']}")).status_code == 204
        gone = await admin.get(f"/v1/admin/webhooks/{endpoint['id']}")
        assert gone.status_code == 404
        assert gone.headers["content-type"] == "application/problem+json"
    finally:
        await admin.aclose()
        await reporter.aclose()


async def test_only_administrators_reach_the_webhook_api(system: System) -> None:
    someone = await citizen(system)
    try:
        body = {"url": "http://127.0.0.1:9/x", "event_types": ["*"]}
        assert (await someone.post("/v1/admin/webhooks", json=body)).status_code == 403
        assert (await someone.get("/v1/admin/webhooks")).status_code == 403
    finally:
        await someone.aclose()


async def test_devices_are_registered_listed_and_removed_per_user(system: System) -> None:
    alice, bob = await citizen(system), await citizen(system)
    try:
        put = await alice.put("/v1/me/devices/pixel-8", json={"platform": "fcm", "token": "alice-fcm-token"})
        assert put.status_code == 200, put.text
        assert put.json()["platform"] == "fcm"
        assert [d["device_id"] for d in (await alice.get("/v1/me/devices")).json()] == ["pixel-8"]
        assert (await bob.get("/v1/me/devices")).json() == []
        assert (await bob.delete("/v1/me/devices/pixel-8")).status_code == 404
        invalid = await alice.put("/v1/me/devices/pixel-8", json={"platform": "sms", "token": "x"})
        assert invalid.status_code == 422
        assert (await alice.delete("/v1/me/devices/pixel-8")).status_code == 204
        assert (await alice.get("/v1/me/devices")).json() == []
    finally:
        await alice.aclose()
        await bob.aclose()


async def _first(requests: list[Received], match: Any, timeout_s: float = 30.0) -> Received:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [r for r in requests if match(r)]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    pytest.fail(f"no matching webhook delivery within {timeout_s}s (received {len(requests)})")
