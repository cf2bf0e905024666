"""Hostile records on every consumed topic: each consumer dead-letters them and goes on.

For every (topic, consumer group) of SnapFix, run in-process against the real stack: random
bytes, bodies that are not JSON (or nest too deep to parse), valid JSON of the wrong shape,
lone surrogates, CloudEvents headers that contradict the body, header values that are not
text (or null), and a body just under the broker's limit. Each must land in ``<topic>.dlq``
with headers saying why (and which group refused it); the consumer must stay alive and
commit past them: a good message sent after them, on the same partition, is committed.
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from uuid_utils.compat import uuid7

from snapfix_analytics.app import create_app as analytics_app
from snapfix_gateway import live
from snapfix_gateway.config import GatewaySettings
from snapfix_issues.app import create_app as issues_app
from snapfix_issues.config import IssuesSettings
from snapfix_media import purge
from snapfix_media.app import create_app as media_app
from snapfix_media.config import MediaSettings
from snapfix_shared.kafka import MAX_MESSAGE_BYTES, cloudevent_headers
from snapfix_shared.messages import (
    IssueReported,
    Location,
    MediaDeleted,
    MediaProcessed,
    MediaVariant,
    Message,
    ProcessMedia,
    UserDeleted,
    UserRegistered,
)
from snapfix_shared.messages.base import utcnow
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import TOPIC_SPECS, Topic
from tests.builders import make_report_command, signed
from tests.integration.analytics_app import analytics_settings
from tests.integration.notify_app import notify_settings
from tests.mailbox import Mailbox
from tests.stack import Stack, header, read_topic, start_groups_at_end, wait_caught_up

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

# Just under what the broker takes by default (message.max.bytes 1,048,588) and the producer
# sends (max.request.size 1 MiB), far over any valid message.
NEAR_BROKER_LIMIT = 1_000_000


def _reported() -> IssueReported:
    now = utcnow()
    return IssueReported(
        correlation_id=f"poison-{uuid4()}",
        actor_id=str(uuid7()),
        issue_id=uuid7(),
        title=f"Pothole {uuid4().hex[:6]}",
        category="pothole",
        location=Location(lat=52.52, lon=13.405),
        reported_at=now,
        department="roads",
        due_at=now + timedelta(days=3),
    )


def _registered() -> UserRegistered:
    return UserRegistered(
        correlation_id=f"poison-{uuid4()}",
        user_id=uuid7(),
        email=f"poison-{uuid4().hex[:8]}@example.org",
        display_name="Poison Test",
        role="citizen",
    )


def _user_deleted() -> UserDeleted:
    user = uuid7()
    return UserDeleted(correlation_id=f"poison-{uuid4()}", actor_id=str(user), user_id=user, deleted_at=utcnow())


def _processed() -> MediaProcessed:
    variant = MediaVariant(name="thumb.webp", content_type="image/webp", width=10, height=10, size=100)
    return MediaProcessed(
        correlation_id=f"poison-{uuid4()}",
        media_id=uuid7(),
        owner_id=str(uuid7()),
        variants=(variant,),
        width=10,
        height=10,
        phash="00ff",
    )


def _deleted() -> MediaDeleted:
    return MediaDeleted(
        correlation_id=f"poison-{uuid4()}", media_id=uuid7(), owner_id=str(uuid7()), reason="issue_withdrawn"
    )


def _process_media() -> ProcessMedia:
    return ProcessMedia(
        correlation_id=f"poison-{uuid4()}",
        media_id=uuid7(),
        owner_id=str(uuid7()),
        content_type="image/jpeg",
        size=1000,
    )


@dataclass(frozen=True)
class Consumer:
    name: str  # the group it reads as in a deployment
    topic: Topic
    service: str  # the in-process app that runs it
    # A valid message to follow the poison: parsed and handled (a command about something never
    # created is refused by the service's rules: handled too), then committed.
    good: Callable[[], Message]


# Per topic, a valid message of a type every consumer of the topic follows: the poison is made from it.
BAIT: dict[Topic, Callable[[], Message]] = {
    Topic.ISSUES_COMMANDS: lambda: signed(make_report_command()),  # the gateway proves its actor
    Topic.MEDIA_COMMANDS: _process_media,
    Topic.ISSUES_EVENTS: _reported,
    Topic.MEDIA_EVENTS: _deleted,
    Topic.USERS_EVENTS: _user_deleted,  # the one type issues and media follow there (notify follows every one)
}


CONSUMERS = [
    Consumer("issues", Topic.ISSUES_COMMANDS, "issues", lambda: signed(make_report_command())),
    Consumer("issues-media", Topic.MEDIA_EVENTS, "issues", _processed),
    Consumer("issues-users", Topic.USERS_EVENTS, "issues", _user_deleted),
    Consumer("media", Topic.MEDIA_COMMANDS, "media", _process_media),
    Consumer("media-cdn-purge", Topic.MEDIA_EVENTS, "media", _processed),
    Consumer("media-users", Topic.USERS_EVENTS, "media", _user_deleted),
    Consumer("notify-users", Topic.USERS_EVENTS, "notify", _registered),
    Consumer("notify-issues", Topic.ISSUES_EVENTS, "notify", _reported),
    Consumer("notify-webhooks", Topic.ISSUES_EVENTS, "notify", _reported),
    Consumer("analytics-issues", Topic.ISSUES_EVENTS, "analytics", _reported),
    Consumer("gateway-live", Topic.ISSUES_EVENTS, "gateway", _reported),
]


def test_every_subscriber_is_covered() -> None:
    """A new subscriber fails this test until it is added to CONSUMERS (and so tested below)."""
    from snapfix_gateway.app import create_app as gateway_app
    from snapfix_notify.app import create_app as notify_app

    apps = [
        gateway_app(),
        issues_app(),
        media_app(MediaSettings(cdn_purge_url="http://cache/purge{path}")),
        notify_app(),
    ]
    subscribed = {
        (sub.group_id, topic.name)
        for app in [*apps, analytics_app()]
        for sub in app.state.runtime.broker.subscribers
        for topic in sub.topics
    }
    assert subscribed == {(c.name, c.topic.value) for c in CONSUMERS}
    assert {c.topic for c in CONSUMERS} == set(BAIT)
    assert all(t.dlq in TOPIC_SPECS for t in BAIT)


def _hostile(bait: Message) -> list[tuple[str, bytes | None, list[tuple[str, bytes | None]]]]:
    """(what, body, headers): each must be dead-lettered by every consumer of the topic."""
    kind = bait.type  # type: ignore[attr-defined]
    body = bait.model_dump(mode="json")
    surrogate = bait.model_dump_json().replace(str(bait.correlation_id), "poison-\\ud800").encode()
    swapped = {**cloudevent_headers(bait, "/poison-test"), "ce_type": "dev.snapfix.SomethingElse.v1"}
    other_id = {**cloudevent_headers(bait, "/poison-test"), "ce_id": str(uuid7())}
    padding = NEAR_BROKER_LIMIT - 100
    ce = [(k, v.encode()) for k, v in cloudevent_headers(bait, "/poison-test").items()]
    return [
        ("random bytes", os.urandom(512), []),
        ("not UTF-8", b"\xff\xfe\x00{", []),
        ("empty", b"", []),
        ("tombstone", None, []),
        ("deep nesting", b"[" * 100_000 + b"]" * 100_000, []),
        ("deep object", b'{"type":' * 20_000 + b"1" + b"}" * 20_000, []),
        ("a list", b"[]", []),
        ("null", b"null", []),
        ("a string", b'"IssueReported"', []),
        ("type not a string", b'{"type": 5}', []),
        ("only a type", orjson.dumps({"type": kind}), []),
        ("wrong field types", orjson.dumps({**body, "message_id": 12, "occurred_at": [1, 2]}), []),
        ("unknown field", orjson.dumps({**body, "admin": True}), []),
        ("lone surrogate", surrogate, []),
        (
            "ce_type contradicts the body",
            bait.model_dump_json().encode(),
            [(k, v.encode()) for k, v in swapped.items()],
        ),
        ("ce_id contradicts the body", bait.model_dump_json().encode(), [(k, v.encode()) for k, v in other_id.items()]),
        (
            "header values not text",
            os.urandom(64),
            [("ce_type", b"\xff\xfe\xfd"), ("traceparent", b"\x00\xff"), ("x-null", None)],
        ),
        ("oversized", b'{"type":"%s","pad":"' % kind.encode() + b"x" * padding + b'"}', ce),
    ]


@asynccontextmanager
async def _running(app: Any) -> AsyncIterator[None]:
    async with app.router.lifespan_context(app):
        yield


class _NoIssues:
    async def fetch(self, method: str, path: str, **_: Any) -> Any:
        raise AssertionError(f"the live consumer asked {method} {path}: not expected in this test")


@asynccontextmanager
async def running(service: str, stack: Stack) -> AsyncIterator[dict[str, str]]:
    """The service's app in-process with groups of its own; yields {consumer name: group}."""
    tag = uuid4().hex[:8]
    async with AsyncExitStack() as stack_:
        groups: dict[str, str]
        topics: dict[str, Topic] = {c.name: c.topic for c in CONSUMERS}
        app: Any
        if service == "issues":
            settings = IssuesSettings(
                kafka_bootstrap_servers=stack.kafka,
                mongo_url=stack.mongo_url,
                redis_url=stack.redis_url,
                consumer_group=f"issues-poison-{tag}",
                issues_users_group=f"issues-users-poison-{tag}",
            )
            groups = {
                "issues": settings.consumer_group,
                "issues-media": "issues-media",
                "issues-users": settings.issues_users_group,
            }
            app = issues_app(settings)
        elif service == "media":
            media = MediaSettings(
                kafka_bootstrap_servers=stack.kafka,
                mongo_url=stack.mongo_url,
                redis_url=stack.redis_url,
                mongo_database=f"snapfix_media_poison_{tag}",
                consumer_group=f"media-poison-{tag}",
                media_users_group=f"media-users-poison-{tag}",
                cdn_purge_url="http://127.0.0.1:9/purge{path}",  # never called: no MediaDeleted here
            )
            groups = {
                "media": media.consumer_group,
                "media-cdn-purge": purge.GROUP,
                "media-users": media.media_users_group,
            }
            app = media_app(media)
            stack_.push_async_callback(_drop, stack, media.mongo_database)
        elif service == "notify":
            mailbox = Mailbox().start()
            stack_.callback(mailbox.stop)
            notify = notify_settings(stack, mailbox)
            groups = {
                "notify-users": notify.notify_users_group,
                "notify-issues": notify.notify_issues_group,
                "notify-webhooks": notify.webhooks_group,
            }
            from snapfix_notify.app import create_app as notify_app

            app = notify_app(notify)
            stack_.push_async_callback(_drop, stack, notify.mongo_database)
        elif service == "analytics":
            analytics = analytics_settings(stack, name=f"poison{tag}")
            groups = {"analytics-issues": analytics.consumer_group}
            app = analytics_app(analytics)
            stack_.push_async_callback(_drop, stack, analytics.mongo_database)
        else:
            gateway = GatewaySettings(
                kafka_bootstrap_servers=stack.kafka, mongo_url=stack.mongo_url, redis_url=stack.redis_url
            )
            runtime = Runtime("gateway", gateway)
            assert runtime.redis is not None
            live.register(runtime, live.LiveFanout(runtime, runtime.redis, _NoIssues()))  # type: ignore[arg-type]
            groups = {"gateway-live": live.GROUP}
            app = runtime.app(title="gateway (live consumer)")
        await start_groups_at_end(stack.kafka, {g: topics[n] for n, g in groups.items()})
        await stack_.enter_async_context(_running(app))
        yield groups


async def _drop(stack: Stack, database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    await client.drop_database(database)
    await client.close()


async def _send(
    producer: AIOKafkaProducer, topic: str, key: bytes, partition: int, value: bytes | None, headers: list[Any]
) -> int:
    sent = await producer.send_and_wait(topic, value, key=key, partition=partition, headers=headers)
    return int(sent.offset)


@pytest.mark.parametrize("service", sorted({c.service for c in CONSUMERS}))
async def test_hostile_records_go_to_the_dead_letter_topic_and_the_consumers_go_on(stack: Stack, service: str) -> None:
    consumers = [c for c in CONSUMERS if c.service == service]
    async with running(service, stack) as groups:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for topic in sorted({c.topic for c in consumers}):
                readers = [c for c in consumers if c.topic == topic]
                good = readers[0].good()
                key = good.partition_key().encode()
                partition = random.randrange(len(await producer.partitions_for(topic)))
                sent = {
                    await _send(producer, topic, key, partition, value, headers): what
                    for what, value, headers in _hostile(BAIT[topic]())
                }
                headers = [(k, v.encode()) for k, v in cloudevent_headers(good, "/poison-test").items()]
                last = await _send(producer, topic, key, partition, good.model_dump_json().encode(), headers)
                for consumer in readers:
                    group = groups[consumer.name]
                    # Alive, and past the poison: the good record after it is committed.
                    await wait_caught_up(stack.kafka, group, topic, timeout_s=60)
                    letters = await read_topic(
                        stack.kafka,
                        f"{topic}.dlq",
                        lambda r, g=group, k=key: r.key == k and header(r, "dlq_consumer_group") == g,
                        count=len(sent),
                        timeout_s=20,
                    )
                    by_offset = {int(header(r, "dlq_original_offset") or -1): r for r in letters}
                    missing = [what for offset, what in sent.items() if offset not in by_offset]
                    assert not missing, f"{consumer.name} did not dead-letter: {missing}"
                    if last in by_offset:  # refused by the service's rules (a command about nothing known)
                        refused = by_offset[last]
                        assert header(refused, "dlq_reason") not in {"invalid", "too_large"}, (
                            f"{consumer.name} took the good message for poison: {header(refused, 'dlq_error')}"
                        )
                    for offset, what in sent.items():
                        letter = by_offset[offset]
                        assert header(letter, "dlq_reason") in {"invalid", "too_large"}, what
                        assert header(letter, "dlq_error"), what
                        assert header(letter, "dlq_original_topic") == topic
                    oversized = next(o for o, w in sent.items() if w == "oversized")
                    assert header(by_offset[oversized], "dlq_reason") == "too_large"
                    assert len(by_offset[oversized].value or b"") <= MAX_MESSAGE_BYTES
        finally:
            await producer.stop()
