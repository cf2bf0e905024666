"""Notify's webhooks part and push relay run in-process against the real stack, on a database and
consumer group of their own, with a real HTTP receiver on loopback (tests/webhook_receiver.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from snapfix_notify.channels import push
from snapfix_notify.channels import webhook as webhooks
from snapfix_notify.config import NotifySettings
from snapfix_shared.runtime import Runtime
from tests.builders import as_viewer
from tests.stack import Stack
from tests.webhook_receiver import Receiver, receiver

ADMIN = as_viewer("admin-it", "admin")
DISABLE_AFTER = 3
RELAY_SECRET = "whsec_dGVzdC1yZWxheS1zZWNyZXQtZm9yLWludGVncmF0aW9uLXRlc3Rz"


@dataclass
class Notify:
    http: httpx.AsyncClient
    app: FastAPI
    settings: NotifySettings
    relay: Receiver


async def drop_database(stack: Stack, name: str) -> None:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        await mongo.drop_database(name)
    finally:
        await mongo.close()


def webhook_settings(stack: Stack, **overrides: Any) -> NotifySettings:
    """Notify's settings for a webhooks test: a database and consumer group of its own, quick polls
    and timeouts, and the opt-ins a plain-http receiver on loopback needs (both defaults refuse it)."""
    run = uuid4().hex[:8]
    base: dict[str, Any] = {
        **stack.connections(),
        "mongo_database": f"snapfix_notify_it_{run}",
        "webhooks_group": f"notify-webhooks-it-{run}",
        "webhook_timeout_s": 2.0,
        "webhook_poll_s": 0.1,
        "webhook_https_only": False,
        "webhook_allow_private": True,
    }
    return NotifySettings(**(base | overrides))


@contextlib.asynccontextmanager
async def running_webhooks(stack: Stack) -> AsyncIterator[Notify]:
    """The webhooks part of notify in-process, on a database and consumer group of its own,
    with a small backoff and disabling threshold (the production defaults are minutes and hours)."""
    async with receiver() as relay:
        settings = webhook_settings(
            stack,
            webhook_backoff_base_s=0.4,
            webhook_backoff_jitter_s=0.2,
            webhook_backoff_max_s=5.0,
            webhook_disable_after_failures=DISABLE_AFTER,
            push_transport="relay",
            push_relay_url=f"{relay.url}/push",
            push_relay_secret=RELAY_SECRET,
            apns_topic="example.snapfix.it",
        )
        runtime = Runtime("notify", settings, mongo_database=settings.mongo_database)
        app = runtime.app(title="notify (webhooks part)")
        webhooks.install(runtime, app, settings)
        push.install(runtime, app, settings)  # the device registry and the push relay
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://notify") as http:
                    yield Notify(http, app, settings, relay)
        finally:
            await drop_database(stack, settings.mongo_database)
