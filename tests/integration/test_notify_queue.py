"""Notify's due queues and contact read model in Redis, against the real stack: leases, a queue
Redis lost (rebuilt from the store, nothing sent twice), contacts written through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from uuid_utils.compat import uuid7

from snapfix_notify.claims import DueQueue
from snapfix_notify.config import NotifySettings
from snapfix_shared.messages import IssueCommented, IssueReported, Location
from snapfix_shared.messages.base import utcnow
from snapfix_shared.topics import Topic
from tests.integration.notify_app import envelope, new_user_id, publish, registered, reported, running_notify
from tests.integration.test_notify_webhooks_restart import ADMIN, attempts, running
from tests.integration.webhooks_app import drop_database, webhook_settings
from tests.mailbox import Mailbox
from tests.stack import Stack, produce
from tests.webhook_receiver import receiver, scripted

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def mailbox() -> AsyncIterator[Mailbox]:
    box = Mailbox().start()
    yield box  # type: ignore[misc]
    box.stop()


async def until(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.1)
    pytest.fail(f"{what} did not happen within {timeout_s}s")


def to(address: str) -> Any:
    return lambda m: address.lower() in str(m["To"]).lower()


def comment(issue_id: Any, body: str) -> IssueCommented:
    return IssueCommented(
        **envelope(actor_id=new_user_id()), issue_id=issue_id, comment_id=uuid7(), body=body, commented_at=utcnow()
    )


async def test_a_taken_item_is_leased_until_its_lease_lapses_and_postponed_or_done_items_stay_so(
    redis: Redis,
) -> None:
    queue = DueQueue(redis, f"notify:test-{uuid4().hex}:due")
    try:
        await queue.add({"a": 1.0, "b": 2.0, "c": 100.0})
        assert await queue.take(50.0, 10.0, 10) == [("a", 1.0), ("b", 2.0)]  # due ones, with their due time
        assert await queue.take(55.0, 10.0, 10) == []  # leased until 60
        assert await queue.take(61.0, 10.0, 1) == [("a", 60.0)]  # a lapsed lease: its score says it was held
        await queue.add({"b": 0.5})  # a repeat keeps the time it has
        await queue.later("b", 200.0)
        await queue.done(["a"])
        await queue.later("a", 1.0)  # never brings back a finished item
        assert await queue.take(150.0, 10.0, 10) == [("c", 100.0)]
        assert await queue.size() == 2
    finally:
        await redis.delete(queue.key)


async def outbox_attempts(settings: NotifySettings, key: str) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        doc = await client[settings.mongo_database]["outbox"].find_one({"_id": key})
        return int(doc["attempts"]) if doc else 0
    finally:
        await client.close()


async def test_a_due_queue_redis_lost_is_rebuilt_from_the_outbox_and_sends_nothing_twice(
    stack: Stack, mailbox: Mailbox, redis: Redis
) -> None:
    async with running_notify(stack, mailbox) as notify:
        done, waiting = new_user_id(), new_user_id()
        done_email, waiting_email = f"done-{uuid4().hex[:8]}@example.org", f"wait-{uuid4().hex[:8]}@example.org"
        users = [registered(done, email=done_email), registered(waiting, email=waiting_email)]
        await publish(stack.kafka, Topic.USERS_EVENTS, users)
        mailbox.refuse[waiting_email] = "451 4.3.0 Try later"
        sent, retried = reported(done), reported(waiting)
        await publish(stack.kafka, Topic.ISSUES_EVENTS, [sent, retried])
        [receipt] = await mailbox.wait_for(to(done_email))
        key = f"{retried.message_id}:{waiting}:email"
        await until(lambda: outbox_attempts(notify.settings, key), "the refused email's first attempt")

        db = notify.settings.mongo_database
        assert await redis.delete(f"notify:{db}:due", f"notify:{db}:due:ready") == 2  # Redis lost the queue
        del mailbox.refuse[waiting_email]
        await publish(stack.kafka, Topic.ISSUES_EVENTS, [sent])  # and the sent one's event comes again

        await mailbox.wait_for(to(waiting_email))  # the rebuilt queue still had the retry
        await publish(stack.kafka, Topic.ISSUES_EVENTS, [comment(sent.issue_id, "marker")])
        await mailbox.wait_for(lambda m: done_email in str(m["To"]) and "New comment" in str(m["Subject"]))
        await mailbox.settle()
        receipts = [m for m in mailbox.to(done_email) if "We received" in str(m["Subject"])]
        assert [m["Message-ID"] for m in receipts] == [receipt["Message-ID"]]
        assert len([m for m in mailbox.to(waiting_email) if "We received" in str(m["Subject"])]) == 1


async def test_a_changed_address_is_used_at_once_and_the_read_model_refills_after_a_flush(
    stack: Stack, mailbox: Mailbox, redis: Redis
) -> None:
    async with running_notify(stack, mailbox) as notify:
        user = new_user_id()
        first, second = f"first-{uuid4().hex[:8]}@example.org", f"second-{uuid4().hex[:8]}@example.org"
        await publish(stack.kafka, Topic.USERS_EVENTS, [registered(user, email=first)])
        report = reported(user)
        await publish(stack.kafka, Topic.ISSUES_EVENTS, [report])
        await mailbox.wait_for(to(first))
        cached = f"notify:{notify.settings.mongo_database}:contact:{user}"
        assert first.encode() in (await redis.get(cached) or b"")

        await publish(stack.kafka, Topic.USERS_EVENTS, [registered(user, email=second)])
        await until(lambda: _holds(redis, cached, second), "the new address in the read model")
        await publish(stack.kafka, Topic.ISSUES_EVENTS, [comment(report.issue_id, "one")])
        await mailbox.wait_for(to(second))

        await redis.delete(cached)  # Redis lost it: read from the store, and kept again
        await publish(stack.kafka, Topic.ISSUES_EVENTS, [comment(report.issue_id, "two")])
        await mailbox.wait_for(to(second), count=2)
        assert second.encode() in (await redis.get(cached) or b"")
        assert len(mailbox.to(first)) == 1


async def _holds(redis: Redis, key: str, text: str) -> bool:
    return text.encode() in (await redis.get(key) or b"")


async def test_a_webhook_queue_redis_lost_is_rebuilt_and_the_retry_still_delivered(stack: Stack, redis: Redis) -> None:
    settings = webhook_settings(stack, webhook_backoff_base_s=3.0, webhook_backoff_jitter_s=0.1)
    try:
        async with receiver(scripted(503)) as hook, running(settings) as http:
            created = await http.post(
                "/v1/admin/webhooks", json={"url": f"{hook.url}/hook", "event_types": ["*"]}, headers=ADMIN
            )
            assert created.status_code == 201, created.text
            endpoint = created.json()
            event = IssueReported(
                **envelope(),
                issue_id=uuid7(),
                title="Fallen tree",
                category="trees",
                location=Location(lat=48.1, lon=11.5),
                reported_at=utcnow(),
            )
            await produce(
                stack.kafka, Topic.ISSUES_EVENTS, event.model_dump_json().encode(), key=event.partition_key().encode()
            )
            await until(lambda: attempts(http, endpoint["id"]), "the first, refused attempt")
            db = settings.mongo_database
            assert await redis.delete(f"notify:{db}:webhooks:due", f"notify:{db}:webhooks:due:ready") == 2

            await until(lambda: len(hook.requests) >= 2, "the retry after the rebuild")
            log = await until(lambda: _settled(http, endpoint["id"]), "the delivered mark")
        assert [a["status_code"] for a in log] == [503, 200]
        assert len({r.headers["webhook-id"] for r in hook.requests}) == 1
    finally:
        await drop_database(stack, settings.mongo_database)


async def _settled(http: Any, endpoint_id: str) -> list[dict[str, Any]] | None:
    page = (await http.get(f"/v1/admin/webhooks/{endpoint_id}/deliveries", headers=ADMIN)).json()
    [delivery] = page["items"]
    return delivery["attempts"] if delivery["status"] == "delivered" else None
