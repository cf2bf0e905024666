"""Kafka clients for the command line, with the services' settings and a deadline on every call.

The bootstrap servers, TLS and SASL come from ``SNAPFIX_KAFKA_*`` (``KafkaSettings``,
``kafka_security.aiokafka_options``), as in every service. Producing goes through the shared
broker factory (``create_broker``: acks=all, idempotence), so a replayed message is sent as the
services send theirs. Each call is bounded by ``CALL_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import ConsumerRecord, TopicPartition

if TYPE_CHECKING:
    from snapfix_shared.settings import KafkaSettings

# Every request to the brokers gives up after this long (a broker that does not answer is reported).
CALL_TIMEOUT_S = 15.0
CLIENT_ID = "snapfix-cli"


def settings() -> KafkaSettings:
    """The Kafka settings of the services (SNAPFIX_KAFKA_*)."""
    from snapfix_shared.settings import KafkaSettings

    return KafkaSettings()


def bootstrap(settings: KafkaSettings) -> list[str]:
    return [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()]


def options(settings: KafkaSettings) -> dict[str, Any]:
    """What every aiokafka client of the CLI is given: servers, client id, request timeout, TLS/SASL."""
    from snapfix_shared.kafka_security import aiokafka_options

    return {
        "bootstrap_servers": bootstrap(settings),
        "client_id": CLIENT_ID,
        "request_timeout_ms": max(settings.kafka_request_timeout_ms, int(CALL_TIMEOUT_S * 1000) - 1000),
        **aiokafka_options(settings),
    }


async def bounded(awaitable: Any, timeout_s: float = CALL_TIMEOUT_S) -> Any:
    """Await one client call, giving up (TimeoutError) after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        return await awaitable


@asynccontextmanager
async def admin_client(settings: KafkaSettings) -> AsyncIterator[Any]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin_class: Any = AIOKafkaAdminClient  # untyped: reached through Any (as snapfix_gateway.catalogue does)
    admin = admin_class(**options(settings))
    await bounded(admin.start())
    try:
        yield admin
    finally:
        await bounded(admin.close())


@asynccontextmanager
async def consumer(settings: KafkaSettings, *, group_id: str | None = None) -> AsyncIterator[Any]:
    """A consumer that never commits by itself (and, with a group, never joins it: partitions are assigned)."""
    from aiokafka import AIOKafkaConsumer

    consumer_class: Any = AIOKafkaConsumer  # untyped
    client = consumer_class(
        **options(settings),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=2 * 1024 * 1024,  # a dead letter keeps up to 256 KiB of body, plus headers
    )
    await bounded(client.start())
    try:
        yield client
    finally:
        await bounded(client.stop())


@asynccontextmanager
async def producer(settings: KafkaSettings) -> AsyncIterator[Any]:
    """The services' producer (``create_broker``: acks=all, idempotence, the request timeout of the settings)."""
    from snapfix_shared.kafka import create_broker, raw_producer

    broker = create_broker(settings, client_id=CLIENT_ID)
    await bounded(broker.start())
    try:
        raw = raw_producer(broker)
        if raw is None:  # pragma: no cover - only FastStream's in-memory test broker has none
            raise RuntimeError("the broker has no Kafka producer")
        yield raw
    finally:
        await bounded(broker.stop())


async def partitions_of(client: Any, topic: str) -> list[TopicPartition]:
    """The topic's partitions (empty when the topic does not exist)."""
    found = client.partitions_for_topic(topic)
    if not found:
        await bounded(client._client.force_metadata_update())
        found = client.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(found)]


async def topics(client: Any) -> set[str]:
    return set(await bounded(client.topics()))


@dataclass(frozen=True)
class Bounds:
    """Where each partition's retained records begin and end (the end: the next offset to be written)."""

    begin: dict[TopicPartition, int]
    end: dict[TopicPartition, int]

    def count(self) -> int:
        return sum(self.end[tp] - self.begin[tp] for tp in self.end)


async def bounds(client: Any, partitions: list[TopicPartition]) -> Bounds:
    if not partitions:
        return Bounds({}, {})
    begin = await bounded(client.beginning_offsets(partitions))
    end = await bounded(client.end_offsets(partitions))
    return Bounds(dict(begin), dict(end))


async def read_range(
    client: Any, limits: Bounds, *, start: dict[TopicPartition, int] | None = None
) -> AsyncIterator[ConsumerRecord[Any, Any]]:
    """Every record from ``start`` (default: each partition's beginning) up to the end found in ``limits``.

    Records a compaction or a deletion removed are simply absent. Each fetch is bounded by
    ``CALL_TIMEOUT_S``; a partition that yields nothing for that long ends the read with TimeoutError.
    """
    start = start or limits.begin
    todo = {tp for tp, end in limits.end.items() if start.get(tp, limits.begin[tp]) < end}
    if not todo:
        return
    client.assign(sorted(todo))
    for tp in todo:
        client.seek(tp, start.get(tp, limits.begin[tp]))
    idle_s = 0.0
    while todo:
        batches = await bounded(client.getmany(*todo, timeout_ms=500, max_records=500))
        got = False
        for tp, records in batches.items():
            for record in records:
                if record.offset < limits.end[tp]:
                    got = True
                    yield record
        for tp in list(todo):
            if await bounded(client.position(tp)) >= limits.end[tp]:
                todo.discard(tp)
        idle_s = 0.0 if got else idle_s + 0.5
        if todo and idle_s > CALL_TIMEOUT_S:
            raise TimeoutError(f"no record came from {sorted(str(tp) for tp in todo)} for {CALL_TIMEOUT_S:.0f}s")


async def fetch_one(client: Any, tp: TopicPartition, offset: int) -> ConsumerRecord[Any, Any] | None:
    """The record at ``offset`` of the partition (None when the offset holds none: deleted, or past the end)."""
    limits = await bounds(client, [tp])
    if not limits.begin[tp] <= offset < limits.end[tp]:
        return None
    async for record in read_range(client, limits, start={tp: offset}):
        if record.offset == offset:
            return record
        if record.offset > offset:  # compacted away
            return None
    return None


def headers_text(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    """The record's headers as text (a value that is not UTF-8 gets replacement characters)."""
    return {
        str(key): value.decode(errors="replace") if isinstance(value, bytes) else ""
        for key, value in record.headers or ()
    }


def by_topic(partitions: Iterable[TopicPartition]) -> dict[str, list[TopicPartition]]:
    grouped: dict[str, list[TopicPartition]] = {}
    for tp in sorted(partitions):
        grouped.setdefault(tp.topic, []).append(tp)
    return grouped
