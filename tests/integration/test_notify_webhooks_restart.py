"""A webhook delivery outlives its process: retries are stored on the record, so a restarted
notify resumes them (the real stack; the receiver comes up only after the restart)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from uuid_utils.compat import uuid7

from snapfix_notify.channels import webhook as webhooks
from snapfix_notify.config import NotifySettings
from snapfix_shared.messages import IssueReported, Location
from snapfix_shared.messages.base import utcnow
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic
from tests.builders import as_viewer
from tests.integration.webhooks_app import drop_database, webhook_settings
from tests.stack import Stack, free_port, produce
from tests.webhook_receiver import receiver, verifies

pytestmark = pytest.mark.integration

ADMIN = as_viewer("admin-it", "admin")


@asynccontextmanager
async def running(settings: NotifySettings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime("notify", settings, mongo_database=settings.mongo_database)
    app = runtime.app(title="notify (webhooks part)")
    webhooks.install(runtime, app, settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://notify") as http,
    ):
        yield http


async def attempts(http: httpx.AsyncClient, endpoint_id: str) -> list[dict[str, Any]]:
    log = (await http.get(f"/v1/admin/webhooks/{endpoint_id}/deliveries", headers=ADMIN)).json()
    return [a for d in log["items"] for a in d["attempts"]]


async def test_a_restarted_process_resumes_the_retries_of_a_stored_delivery(stack: Stack) -> None:
    settings = webhook_settings(stack, webhook_backoff_base_s=1.0, webhook_backoff_jitter_s=0.2)
    port = free_port()  # nothing listens there until after the restart

    try:
        async with running(settings) as http:
            created = await http.post(
                "/v1/admin/webhooks", json={"url": f"http://127.0.0.1:{port}/hook", "event_types": ["*"]}, headers=ADMIN
            )
            assert created.status_code == 201, created.text
            endpoint = created.json()
            # After the registration: an endpoint gets the events that occur once it exists.
            event = IssueReported(
                issue_id=uuid7(),
                title="Broken bench",
                category="furniture",
                location=Location(lat=48.1, lon=11.5),
                reported_at=utcnow(),
                correlation_id=f"it-{settings.webhooks_group}",
            )
            await produce(
                stack.kafka, Topic.ISSUES_EVENTS, event.model_dump_json().encode(), key=event.partition_key().encode()
            )
            for _ in range(300):
                if await attempts(http, endpoint["id"]):
                    break
                await asyncio.sleep(0.1)
            first = await attempts(http, endpoint["id"])
            assert first, "no attempt was made before the restart"
            assert first[0]["status_code"] is None  # refused: nothing listened
            assert "retry_in_s" in first[0]

        async with receiver(port=port) as hook, running(settings) as http:
            for _ in range(300):
                if hook.requests:
                    break
                await asyncio.sleep(0.1)
            assert len(hook.requests) == 1, "the restarted process did not resume the delivery"
            request = hook.requests[0]
            assert verifies(endpoint["secret"], request.headers, request.body)
            assert request.json()["data"]["issue_id"] == str(event.issue_id)
            for _ in range(50):
                log = (await http.get(f"/v1/admin/webhooks/{endpoint['id']}/deliveries", headers=ADMIN)).json()
                if log["items"][0]["status"] == "delivered":
                    break
                await asyncio.sleep(0.1)
            assert log["items"][0]["status"] == "delivered"
            assert log["items"][0]["attempts"][-1]["status_code"] == 200
    finally:
        await drop_database(stack, settings.mongo_database)
