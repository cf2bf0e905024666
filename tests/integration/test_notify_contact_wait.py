"""A notice whose recipient's contact notify does not know yet (the users event comes after the issues
event: a busy gateway or broker) goes as soon as the contact is known, not at the end of its backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from snapfix_shared.topics import Topic
from tests.integration.notify_app import Notify, new_user_id, publish, registered, reported, running_notify
from tests.mailbox import Mailbox
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


def to(address: str, words: str) -> Any:
    return lambda m: address.lower() in str(m["To"]).lower() and words in str(m["Subject"])


async def stored(stack: Stack, notify: Notify, collection: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, timeoutMS=10_000)
    try:
        return await client[notify.settings.mongo_database][collection].find(query).to_list()
    finally:
        await client.close()


async def test_a_notice_waiting_for_its_recipients_contact_goes_as_soon_as_the_contact_is_known(
    stack: Stack, mailbox: Mailbox
) -> None:
    """The receipt is tried, finds no contact, and is postponed a minute or more; the registration comes:
    the receipt goes within seconds (the only notify instance here, so no other one sends it)."""
    async with running_notify(stack, mailbox, retry_base_s=120.0, retry_max_s=120.0, contact_wait_s=300.0) as late:
        reporter, email = new_user_id(), f"late-{uuid4().hex[:8]}@example.org"
        report = reported(reporter)
        await publish(stack.kafka, Topic.ISSUES_EVENTS, [report])
        deadline = time.monotonic() + 30
        waiting: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not waiting:  # tried once, postponed a minute or more
            waiting = await stored(stack, late, "outbox", {"recipient_id": reporter, "attempts": {"$gte": 1}})
            await asyncio.sleep(0.2)
        assert waiting, "the receipt was never tried"
        assert all(d["error"].startswith("no contact known") for d in waiting)

        started = time.monotonic()
        await publish(stack.kafka, Topic.USERS_EVENTS, [registered(reporter, email=email)])
        [receipt] = await mailbox.wait_for(to(email, "We received your report"), timeout_s=30)
        assert report.title in str(receipt["Subject"])
        assert time.monotonic() - started < 30  # its retry was due a minute or more later
