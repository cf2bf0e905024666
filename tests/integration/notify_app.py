"""The notify service run in-process against the real stack, its SMTP endpoint a real aiosmtpd server,
and builders of the events it consumes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from uuid_utils.compat import uuid7

from snapfix_notify.app import create_app
from snapfix_notify.config import NotifySettings
from snapfix_shared.messages import (
    EmailVerificationRequested,
    IssueReported,
    Location,
    Message,
    RegistrationAttempted,
    UserRegistered,
)
from snapfix_shared.messages.base import utcnow
from snapfix_shared.sealing import DEV_LINK_SEAL_KEY, LinkSeal
from snapfix_shared.topics import Topic
from tests.builders import as_viewer
from tests.mailbox import Mailbox
from tests.stack import Stack
from tests.stack import start_groups_at_end as groups_at_end

GROUPS = ("notify_users_group", "notify_issues_group", "webhooks_group")


@dataclass
class Notify:
    http: httpx.AsyncClient
    settings: NotifySettings
    app: Any

    def as_user(self, user_id: str) -> Mapping[str, str]:
        return as_viewer(user_id, "citizen")


def notify_settings(stack: Stack, mailbox: Mailbox, **overrides: Any) -> NotifySettings:
    tag = uuid4().hex[:8]
    fields: dict[str, Any] = {
        **stack.connections(),
        "mongo_database": f"snapfix_notify_it_{tag}",
        # Groups of its own, so this instance shares no partitions with the others.
        "notify_users_group": f"notify-users-it-{tag}",
        "notify_issues_group": f"notify-issues-it-{tag}",
        "webhooks_group": f"notify-webhooks-it-{tag}",
        "smtp_host": mailbox.host,
        "smtp_port": mailbox.port,
        "public_base_url": "https://snapfix.test",
        "web_base_url": None,  # links to the API unless a test asks for the web app (whatever the shell exports)
        "retry_base_s": 0.2,
        "retry_max_s": 1.0,
        "poll_interval_s": 0.2,
        "contact_wait_s": 5.0,
    }
    fields.update(overrides)
    return NotifySettings(**fields)


async def start_groups_at_end(bootstrap: str, settings: NotifySettings) -> None:
    """Commit the groups at the topics' current ends: the instance sees only what the test publishes."""
    await groups_at_end(
        bootstrap,
        {
            settings.notify_users_group: Topic.USERS_EVENTS,
            settings.notify_issues_group: Topic.ISSUES_EVENTS,
            settings.webhooks_group: Topic.ISSUES_EVENTS,
        },
    )


@asynccontextmanager
async def running_notify(stack: Stack, mailbox: Mailbox, **overrides: Any) -> AsyncIterator[Notify]:
    settings = notify_settings(stack, mailbox, **overrides)
    await start_groups_at_end(stack.kafka, settings)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://notify") as http:
                yield Notify(http, settings, app)
    finally:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
        await client.drop_database(settings.mongo_database)  # each run has a database of its own
        await client.close()


async def publish(bootstrap: str, topic: str, messages: Sequence[Message]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, m.model_dump_json().encode(), key=m.partition_key().encode()) for m in messages
        ]
        await asyncio.wait_for(asyncio.gather(*futures), 30)
    finally:
        await producer.stop()


def envelope(**fields: Any) -> dict[str, Any]:
    return {"correlation_id": f"test-{uuid4()}", **fields}


def new_user_id() -> str:
    return str(uuid7())


def registered(
    user_id: str, *, email: str | None = None, role: str = "citizen", departments: Sequence[str] = ()
) -> UserRegistered:
    return UserRegistered(
        **envelope(),
        user_id=UUID(user_id),
        email=email or f"u-{user_id[-12:]}@example.org",
        display_name=f"User {user_id[-4:]}",
        role=role,  # type: ignore[arg-type]
        departments=tuple(departments),
    )


def verification(user_id: str, email: str) -> EmailVerificationRequested:
    return EmailVerificationRequested(
        **envelope(),
        user_id=UUID(user_id),
        email=email,
        display_name="Ada",
        verify_url_sealed=LinkSeal(DEV_LINK_SEAL_KEY).seal(
            f"https://snapfix.test/v1/auth/verify-email?token=tok-{user_id}"
        ),
    )


def registration_attempt(user_id: str, email: str) -> RegistrationAttempted:
    return RegistrationAttempted(**envelope(), user_id=UUID(user_id), email=email, display_name="Ada")


def reported(reporter: str, **overrides: Any) -> IssueReported:
    now = utcnow()
    fields: dict[str, Any] = {
        **envelope(actor_id=reporter),
        "issue_id": uuid7(),
        "title": f"Pothole {uuid4().hex[:6]}",
        "category": "pothole",
        "location": Location(lat=52.52, lon=13.405),
        "reported_at": now,
        "department": "roads",
        "due_at": now + timedelta(days=3),
    }
    fields.update(overrides)
    return IssueReported(**fields)
