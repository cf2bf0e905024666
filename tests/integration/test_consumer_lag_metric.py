"""``snapfix_consumer_lag``: what a group of this process has not consumed yet, against real Kafka."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from snapfix_shared.kafka import create_broker
from snapfix_shared.settings import KafkaSettings
from tests.stack import Stack, create_topic

pytestmark = pytest.mark.integration

RECORDS = 20


async def eventually_equal(topic: str, group: str, expected: float, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    value = None
    while asyncio.get_running_loop().time() < deadline:
        value = REGISTRY.get_sample_value("snapfix_consumer_lag", {"topic": topic, "group": group})
        if value == expected:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"snapfix_consumer_lag{{topic={topic}, group={group}}} is {value}, expected {expected}")


async def test_lag_counts_the_records_a_group_has_not_consumed_and_drops_to_zero(stack: Stack) -> None:
    topic, group = f"test.lag.{uuid.uuid4().hex[:8]}", f"test-lag-{uuid.uuid4().hex[:8]}"
    await create_topic(stack.kafka, topic, partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", enable_idempotence=True)
    await asyncio.wait_for(producer.start(), 30)
    try:
        for n in range(RECORDS):
            await asyncio.wait_for(producer.send_and_wait(topic, str(n).encode()), 10)
    finally:
        await producer.stop()

    release = asyncio.Event()
    handled: list[int] = []
    broker = create_broker(KafkaSettings(kafka_bootstrap_servers=stack.kafka), client_id="test-lag")

    @broker.subscriber(topic, group_id=group, auto_offset_reset="earliest")
    async def slow(body: int) -> None:
        await release.wait()  # hold the first record: the other RECORDS - 1 wait behind it
        handled.append(body)

    await asyncio.wait_for(broker.start(), 30)
    try:
        # The consumer holds record 0; the high-water mark is RECORDS.
        await eventually_equal(topic, group, RECORDS - 1)
        release.set()
        await eventually_equal(topic, group, 0)
        assert len(handled) == RECORDS
    finally:
        release.set()
        await asyncio.wait_for(broker.stop(), 30)
    # A stopped consumer reports nothing rather than a stale number.
    assert REGISTRY.get_sample_value("snapfix_consumer_lag", {"topic": topic, "group": group}) is None
