"""``snapfix consumers`` against the real stack: a group's lag per partition, and a reset refused while
the group has a member, then done once it has none."""

from __future__ import annotations

import asyncio
import re
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from snapfix_shared.topics import Topic
from tests.integration.cli_runner import lines, snapfix
from tests.stack import Stack, start_groups_at_end

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

# Nothing consumes notify.events.v1 with a group: this test's groups are alone on it.
TOPIC = Topic.NOTIFY_EVENTS.value


async def committed(stack: Stack, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in found.items()}
    finally:
        await admin.close()


async def test_lag_shows_each_partition_and_the_groups_total(stack: Stack) -> None:
    group = f"cli-lag-{uuid4().hex[:8]}"
    await start_groups_at_end(stack.kafka, {group: TOPIC})
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = [await producer.send_and_wait(TOPIC, b"{}", key=b"one-key") for _ in range(3)]
    finally:
        await producer.stop()
    partition = sent[0].partition

    result = await snapfix(stack, "consumers", "lag", "--group", group)
    assert result.exit_code == 0, result.output
    rows = [[c.strip() for c in line.split("│")] for line in lines(result) if group in line]
    by_partition = {row[5]: row for row in rows if row[5]}
    assert len(by_partition) == 24  # every partition of the topic
    lagging = by_partition[str(partition)]
    assert lagging[6:9] == [str(sent[0].offset), str(sent[-1].offset + 1), "3"]  # committed, end, lag
    assert lagging[2:4] == ["Empty", "0"]  # state, members
    total = next(row for row in rows if "total" in row[4])
    assert re.sub(r"\D", "", total[8]) == "3"

    only_lagging = await snapfix(stack, "consumers", "lag", "--group", group, "--nonzero")
    assert len([line for line in lines(only_lagging) if group in line]) == 2  # the lagging partition, the total


async def test_reset_is_refused_while_the_group_has_a_member_and_done_once_it_has_none(stack: Stack) -> None:
    group = f"cli-reset-{uuid4().hex[:8]}"
    await start_groups_at_end(stack.kafka, {group: TOPIC})
    before = await committed(stack, group)
    member = AIOKafkaConsumer(TOPIC, bootstrap_servers=stack.kafka, group_id=group, enable_auto_commit=False)
    await member.start()
    try:
        async with asyncio.timeout(30):
            while not member.assignment():  # joined: the group is Stable with this member
                await member.getmany(timeout_ms=200)
        refused = await snapfix(stack, "consumers", "reset-offsets", group, "--to", "earliest", "--yes")
        assert refused.exit_code == 1
        assert "1 active member(s)" in refused.stderr
        assert "stop its consumers first" in refused.stderr
        assert await committed(stack, group) == before  # nothing changed
    finally:
        await member.stop()  # leaves the group

    not_asked = await snapfix(stack, "consumers", "reset-offsets", group, "--to", "earliest")
    assert not_asked.exit_code == 1  # no terminal and no --yes
    assert "pass --yes" in not_asked.stderr
    assert await committed(stack, group) == before

    done = await snapfix(stack, "consumers", "reset-offsets", group, "--to", "earliest", "--yes")
    assert done.exit_code == 0, done.output
    assert f"Committed 24 offset(s) for {group}" in done.output
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka, group_id=None)
    await consumer.start()
    try:
        beginning = await consumer.beginning_offsets(list(before))
    finally:
        await consumer.stop()
    assert await committed(stack, group) == beginning
