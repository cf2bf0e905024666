"""Webhook targets are judged again at every attempt, against the real stack: an endpoint
stored while private targets were allowed (a literal loopback address, its IPv4-mapped
IPv6 form, a plain-http URL) gets nothing once the deployment refuses such targets, and
the delivery log says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from uuid_utils.compat import uuid7

from snapfix_notify.channels import webhook as webhooks
from snapfix_notify.channels.webhook.models import WebhookDelivery, WebhookEndpoint
from snapfix_notify.channels.webhook.signing import new_secret
from snapfix_notify.config import NotifySettings
from snapfix_shared.messages import IssueReported, Location
from snapfix_shared.messages.base import utcnow
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic
from tests.stack import Stack, produce, start_groups_at_end
from tests.webhook_receiver import Receiver, receiver

pytestmark = pytest.mark.integration


async def running(stack: Stack, run: str) -> AsyncIterator[FastAPI]:
    """The webhooks part of notify with the default target policy (https only, public only)."""
    settings = NotifySettings(
        kafka_bootstrap_servers=stack.kafka,
        mongo_url=stack.mongo_url,
        redis_url=stack.redis_url,
        mongo_database=f"snapfix_notify_it_{run}",
        webhooks_group=f"notify-webhooks-it-{run}",
        webhook_timeout_s=2.0,
        webhook_poll_s=0.1,
    )
    assert settings.webhook_https_only
    assert not settings.webhook_allow_private
    await start_groups_at_end(stack.kafka, {settings.webhooks_group: Topic.ISSUES_EVENTS})  # this test's events only
    runtime = Runtime("notify", settings, mongo_database=settings.mongo_database)
    app = runtime.app(title="notify (webhooks part)")
    webhooks.install(runtime, app, settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def hook() -> AsyncIterator[Receiver]:
    async with receiver() as made:
        yield made


@pytest.fixture
async def notify(stack: Stack) -> AsyncIterator[FastAPI]:
    run = uuid4().hex[:8]
    try:
        async for app in running(stack, run):
            yield app
    finally:
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
        await mongo.drop_database(f"snapfix_notify_it_{run}")
        await mongo.close()


async def stored_earlier(app: FastAPI, url: str) -> UUID:
    """An endpoint as a deployment that allowed private targets stored it (no check now)."""
    endpoint = WebhookEndpoint(
        id=uuid7(),
        url=url,
        event_types=["*"],
        description="stored while private targets were allowed",
        secret=new_secret(),
        created_at=utcnow(),
        created_by="admin-it",
    )
    await app.state.webhooks.endpoints.create(endpoint)
    return endpoint.id


async def settled(app: FastAPI, endpoint_id: UUID) -> WebhookDelivery | None:
    page = await app.state.webhooks.deliveries.page(endpoint_id, before=None, limit=10)
    return page[0] if page and page[0].status != "pending" else None


async def wait_for(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    pytest.fail(f"{what} did not happen within {timeout_s}s")


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("https://127.0.0.1:{port}/hook", "127.0.0.1 is a loopback address"),
        ("https://[::ffff:127.0.0.1]:{port}/hook", "leads to 127.0.0.1, a loopback address"),
        ("http://127.0.0.1:{port}/hook", "does not use https"),
    ],
)
async def test_an_endpoint_stored_under_an_earlier_policy_is_refused_at_send_time_and_the_log_says_why(
    stack: Stack, notify: FastAPI, hook: Receiver, target: str, why: str
) -> None:
    port = int(hook.url.rsplit(":", 1)[1])
    endpoint_id = await stored_earlier(notify, target.format(port=port))
    event = IssueReported(
        correlation_id=f"it-{uuid4()}",
        issue_id=uuid7(),
        title="Broken light",
        category="streetlight",
        location=Location(lat=52.5, lon=13.4),
        reported_at=utcnow(),
        actor_id="reporter-it",
    )
    await produce(
        stack.kafka, Topic.ISSUES_EVENTS, event.model_dump_json().encode(), key=event.partition_key().encode()
    )

    delivery: WebhookDelivery = await wait_for(lambda: settled(notify, endpoint_id), "the refused delivery")

    assert delivery.status == "failed"
    assert delivery.attempt_count == 1  # refused for good: not retried
    [attempt] = delivery.attempts
    assert attempt["status_code"] is None
    assert why in attempt["error"]
    assert "target refused" in (delivery.reason or "")
    assert hook.requests == []  # nothing reached the receiver
