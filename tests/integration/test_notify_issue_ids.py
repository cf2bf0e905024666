"""Notify's issue views are addressed by the issue id as a string (FerretDB indexes strings, never
binary UUIDs); views stored before that, under a binary id, are moved once at start, followers kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from uuid_utils.compat import uuid7

from snapfix_shared.messages import IssueFollowed
from snapfix_shared.topics import Topic
from tests.integration.notify_app import envelope, new_user_id, publish, running_notify
from tests.mailbox import Mailbox
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mailbox() -> AsyncIterator[Mailbox]:
    box = Mailbox().start()
    yield box  # type: ignore[misc]
    box.stop()


async def test_a_view_stored_under_a_binary_id_is_moved_and_kept_current(stack: Stack, mailbox: Mailbox) -> None:
    database = f"snapfix_notify_it_{uuid4().hex[:8]}"
    issue_id = uuid7()
    reporter, follower, newcomer = new_user_id(), new_user_id(), new_user_id()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, uuidRepresentation="standard")
    views = client[database]["issues"]
    try:
        # As an earlier notify stored it: the issue id as a binary UUID.
        await views.insert_one(
            {
                "_id": issue_id,
                "title": "Streetlight out",
                "category": "streetlight",
                "reporter_id": reporter,
                "status": "acknowledged",
                "followers": [follower],
                "overdue_sent": False,
            }
        )
        async with running_notify(stack, mailbox, mongo_database=database):
            assert await views.find_one({"_id": issue_id}) is None  # moved before the consumers started
            moved = await views.find_one({"_id": str(issue_id)})
            assert moved is not None
            assert (moved["followers"], moved["status"], moved["reporter_id"]) == ([follower], "acknowledged", reporter)

            # The consumer now finds it by the string id: a new follower joins the same view.
            event = IssueFollowed(**envelope(actor_id=newcomer), issue_id=issue_id, follow=True)
            await publish(stack.kafka, Topic.ISSUES_EVENTS, [event])
            deadline = time.monotonic() + 30
            followers: list[str] = []
            while time.monotonic() < deadline:
                view = await views.find_one({"_id": str(issue_id)})
                followers = view["followers"] if view else []
                if newcomer in followers:
                    break
                await asyncio.sleep(0.2)
            assert followers == [follower, newcomer]
            assert await views.count_documents({}) == 1  # no second view under another id
    finally:
        await client.drop_database(database)
        await client.close()
