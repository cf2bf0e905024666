"""Against real Kafka: publishes within the publish window go in one produce request, and all are acknowledged.

aiokafka lingers per partition, so reports keyed over 24 partitions went one request each
(a request costs the producer and the broker far more than a message in it). The window
hands them to the producer together.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from snapfix_shared.kafka import create_broker, java_partitioner, publish, raw_producer
from snapfix_shared.settings import KafkaSettings
from tests.builders import make_report_command
from tests.stack import Stack, create_topic, read_topic

pytestmark = pytest.mark.integration

PUBLISHES = 10
APART_S = 0.005


async def staggered_publishes(stack: Stack, topic: str, linger_ms: int) -> tuple[int, list[float], set[str]]:
    """PUBLISHES reports, APART_S apart: the produce requests sent, each publish's seconds, the ids sent."""
    broker = create_broker(
        KafkaSettings(kafka_bootstrap_servers=stack.kafka, kafka_linger_ms=linger_ms), client_id="test-window"
    )
    await asyncio.wait_for(broker.connect(), 30)
    try:
        producer = raw_producer(broker)
        assert producer is not None
        produce_requests = 0
        send = producer.client.send

        async def counting(node_id: int, request: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal produce_requests
            if request.API_KEY == 0:  # Produce
                produce_requests += 1
            return await send(node_id, request, *args, **kwargs)

        producer.client.send = counting  # type: ignore[method-assign]
        commands = [make_report_command() for _ in range(PUBLISHES)]

        async def timed(n: int) -> float:
            await asyncio.sleep(n * APART_S)
            started = time.monotonic()
            await publish(broker, topic, commands[n], source="/test", timeout_s=5)
            return time.monotonic() - started

        took = await asyncio.gather(*(timed(n) for n in range(PUBLISHES)))
        return produce_requests, list(took), {str(c.issue_id) for c in commands}
    finally:
        await asyncio.wait_for(broker.stop(), 30)


async def test_publishes_within_the_window_share_one_produce_request(stack: Stack) -> None:
    topic = f"test.window.{uuid.uuid4().hex[:8]}"
    await create_topic(stack.kafka, topic, partitions=24)

    # Without a window each publish that finds no request in flight is a request of its own.
    alone, _, sent_alone = await staggered_publishes(stack, topic, linger_ms=0)
    assert alone >= 2

    linger_s = 0.2
    together, took, sent = await staggered_publishes(stack, topic, linger_ms=int(linger_s * 1000))
    assert together == 1
    # The first publish waited the whole window, the last (joining 45 ms later) the rest of it.
    assert took[0] >= linger_s - 0.01
    assert took[-1] >= linger_s - (PUBLISHES - 1) * APART_S - 0.05
    # Every one was acknowledged, and is on the topic.
    records = await read_topic(stack.kafka, topic, lambda _: True, count=2 * PUBLISHES)
    on_topic = {r.key.decode() for r in records}
    assert sent | sent_alone <= on_topic
    # Each in the partition Java's producer would have put it in.
    partitions = list(range(24))
    assert all(r.partition == java_partitioner(r.key, partitions, partitions) for r in records)
