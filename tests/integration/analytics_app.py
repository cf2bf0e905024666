"""The analytics service run in-process against the real stack, and publishing issue events to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from fastapi import FastAPI

from snapfix_analytics.app import create_app
from snapfix_analytics.config import AnalyticsSettings
from snapfix_shared.messages import IssueEvent
from snapfix_shared.topics import Topic
from tests.builders import AsViewer
from tests.stack import Stack, wait_caught_up

STAFF = AsViewer("analyst-1", "staff")  # the gateway's internal token, minted at each request


@dataclass
class Analytics:
    http: httpx.AsyncClient
    settings: AnalyticsSettings
    app: FastAPI


def analytics_settings(stack: Stack, *, lateness_s: int = 600, name: str | None = None) -> AnalyticsSettings:
    """A database and a consumer group of its own: this instance reads issues.events.v1 from the start."""
    name = name or f"it{uuid4().hex[:8]}"
    return AnalyticsSettings(
        **stack.connections(),
        mongo_database=f"snapfix_analytics_{name}",
        consumer_group=f"analytics-{name}",
        allowed_lateness_s=lateness_s,
    )


@asynccontextmanager
async def running_analytics(settings: AnalyticsSettings) -> AsyncIterator[Analytics]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://analytics", auth=STAFF) as http:
            yield Analytics(http, settings, app)


async def caught_up(stack: Stack, analytics: Analytics, timeout_s: float = 150.0) -> None:
    await wait_caught_up(stack.kafka, analytics.settings.consumer_group, Topic.ISSUES_EVENTS, timeout_s=timeout_s)


async def publish_events(stack: Stack, events: Sequence[IssueEvent], *, partition: int | None = None) -> None:
    """Publish as the issues service does: JSON body, keyed by issue id, acks=all; in the given order."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        pending = [
            await producer.send(
                Topic.ISSUES_EVENTS,
                event.model_dump_json().encode(),
                key=event.partition_key().encode(),
                partition=partition,
            )
            for event in events
        ]
        await asyncio.wait_for(asyncio.gather(*pending), 30)
    finally:
        await producer.stop()


async def end_offsets(stack: Stack) -> dict[TopicPartition, int]:
    """Where issues.events.v1 ends now: a test's history starts there."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka, group_id=None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(Topic.ISSUES_EVENTS, p) for p in consumer.partitions_for_topic(Topic.ISSUES_EVENTS) or ()
        ]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def start_group_at(stack: Stack, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit ``offsets`` for a new group, so its first read starts at this test's history.

    Other suites publish to the same topic; a replay "from the beginning" is a replay from
    the start of this test's events (the service itself always starts a new group at the
    earliest offset).
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in offsets.items()})
    finally:
        await consumer.stop()
