"""``snapfix dlq`` against the real stack: list, show, replay twice (sent once, applied once), purge.

The letters are written as ``snapfix_shared.kafka.dead_letter`` writes them (the original record,
its headers, and the ``dlq_*`` ones), with a reason of this test's own so that ``--all --reason``
touches nothing else on a shared stack.
"""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from snapfix_issues.app import create_app as issues_app
from snapfix_issues.config import IssuesSettings
from snapfix_shared.kafka import cloudevent_headers
from snapfix_shared.messages import Message
from snapfix_shared.topics import Topic
from tests.builders import make_report_command, signed
from tests.integration.cli_runner import lines, snapfix
from tests.integration.issues_app import events_of, wait_for_issue
from tests.stack import Stack, header, read_topic, start_groups_at_end, wait_caught_up

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def letter_headers(message: Message, topic: str, partition: int, offset: int, reason: str) -> list[tuple[str, bytes]]:
    headers = cloudevent_headers(message, "/snapfix/gateway") | {
        "correlation_id": message.correlation_id,
        "dlq_reason": reason,
        "dlq_error": "a consumer could not use it (test)",
        "dlq_original_topic": topic,
        "dlq_original_partition": str(partition),
        "dlq_original_offset": str(offset),
        "dlq_consumer_group": "issues",
        "dlq_failed_at": datetime.now(UTC).isoformat(),
    }
    return [(k, v.encode()) for k, v in headers.items()]


@pytest.fixture
async def producer(stack: Stack) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", enable_idempotence=True)
    await client.start()
    yield client
    await client.stop()


@asynccontextmanager
async def running_issues(stack: Stack) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The issues service in-process, its group starting at the end of issues.commands.v1."""
    settings = IssuesSettings(
        kafka_bootstrap_servers=stack.kafka,
        mongo_url=stack.mongo_url,
        redis_url=stack.redis_url,
        consumer_group=f"issues-cli-{uuid4().hex[:8]}",
    )
    await start_groups_at_end(stack.kafka, {settings.consumer_group: Topic.ISSUES_COMMANDS})
    app = issues_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://issues") as http:
            yield http, settings.consumer_group


async def test_a_letter_replayed_twice_is_sent_once_and_a_record_sent_twice_is_applied_once(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    dlq = Topic.ISSUES_COMMANDS.dlq
    reason = f"cli-test-{uuid4().hex[:8]}"
    command = signed(make_report_command(accept_by=None))  # no deadline: a replay later is still in time
    body, key = command.model_dump_json().encode(), command.partition_key().encode()
    # The same command twice in its topic (a relay's second publish): two letters, two original offsets.
    origin = random.randrange(10**12, 10**13)
    sent = [
        await producer.send_and_wait(
            dlq, body, key=key, headers=letter_headers(command, Topic.ISSUES_COMMANDS, 3, origin + i, reason)
        )
        for i in range(2)
    ]
    where = [f"{s.partition}:{s.offset}" for s in sent]

    listed = await snapfix(stack, "dlq", "list", dlq)
    assert listed.exit_code == 0, listed.output
    row = next(line for line in lines(listed) if reason in line)
    assert [cell.strip() for cell in row.split("│")][3:5] == ["2", "0"]  # letters, replayed

    shown = await snapfix(stack, "dlq", "show", dlq, where[0])
    assert shown.exit_code == 0, shown.output
    assert re.search(rf"dlq_original_offset\s*│\s*{origin}\s", shown.output), shown.output
    assert command.title in shown.output  # the body, as JSON
    assert f"key: {command.partition_key()}" in shown.output

    dry = await snapfix(stack, "dlq", "replay", dlq, "--all", "--reason", reason, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would be sent" in dry.output

    async with running_issues(stack) as (http, group):
        first = await snapfix(stack, "dlq", "replay", dlq, "--all", "--reason", reason)
        assert first.exit_code == 0, first.output
        assert "2 record(s) sent back for 2 letter(s)" in first.output
        second = await snapfix(stack, "dlq", "replay", dlq, where[1])
        assert second.exit_code == 0, second.output
        assert "0 record(s) sent back" in second.output
        assert "1 replayed before" in second.output
        third = await snapfix(stack, "dlq", "replay", dlq, "--all", "--reason", reason)
        assert "0 record(s) sent back" in third.output
        assert "2 replayed before" in third.output

        # Both copies reached the topic, with the original key and headers and where they came from...
        copies = await read_topic(
            stack.kafka,
            Topic.ISSUES_COMMANDS,
            lambda r: r.key == key and (header(r, "dlq_replayed_from") or "").startswith(dlq),
            count=3,
            timeout_s=10,
        )
        assert sorted(header(r, "dlq_replayed_from") or "" for r in copies) == sorted(f"{dlq}:{w}" for w in where)
        assert all(header(r, "ce_id") == str(command.message_id) and header(r, "dlq_reason") is None for r in copies)
        # ...and the consumer applied the command once: one report stored, one IssueReported (a redelivered
        # command announces the stored report's event again, with the same message id, which consumers dedupe).
        await wait_caught_up(stack.kafka, group, Topic.ISSUES_COMMANDS, timeout_s=60)
        issue = await wait_for_issue(http, command.issue_id)
        assert issue["title"] == command.title
        await events_of(stack, command.issue_id, "IssueReported")
        reported = await read_topic(
            stack.kafka,
            Topic.ISSUES_EVENTS,
            lambda r: r.key == key and header(r, "ce_type") == "dev.snapfix.IssueReported.v1",
            count=3,
            timeout_s=5,
        )
        assert len({header(r, "ce_id") for r in reported}) == 1, [header(r, "ce_id") for r in reported]
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, uuidRepresentation="standard")
        try:
            reports = await client["snapfix_issues"]["reports"].find({"title": command.title}).to_list()
        finally:
            await client.close()
        assert [(str(r["_id"]), r["command_id"]) for r in reports] == [(str(command.issue_id), command.message_id)]
        assert header(reported[0], "ce_id") == str(reports[0]["reported_event_id"])

    listed = await snapfix(stack, "dlq", "list", dlq)
    row = next(line for line in lines(listed) if reason in line)
    assert [cell.strip() for cell in row.split("│")][3:5] == ["2", "2"]


async def test_show_and_replay_of_a_position_without_a_letter_change_nothing(stack: Stack) -> None:
    dlq = Topic.MEDIA_COMMANDS.dlq
    shown = await snapfix(stack, "dlq", "show", dlq, "0:999999999")
    assert shown.exit_code == 1
    assert "holds no record at 0:999999999" in shown.stderr
    replayed = await snapfix(stack, "dlq", "replay", dlq, "0:999999999")
    assert replayed.exit_code == 1
    assert "holds no dead letter at 0:999999999" in replayed.stderr
    missing = await snapfix(stack, "dlq", "show", dlq, "99:0")
    assert missing.exit_code == 1
    assert "has no partition 99" in missing.stderr


async def _bounds(stack: Stack, topic: str) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka, group_id=None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return await consumer.beginning_offsets(partitions), await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def test_purge_asks_refuses_without_a_terminal_and_deletes_up_to_the_end_with_yes(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    # Nothing consumes notify.events.v1 with a group: its DLQ is this test's alone on a shared stack.
    dlq = Topic.NOTIFY_EVENTS.dlq
    for i in range(3):
        await producer.send_and_wait(dlq, b"{}", key=b"k%d" % i, headers=[("dlq_reason", b"invalid")])
    begin, end = await _bounds(stack, dlq)
    assert sum(end.values()) > sum(begin.values())

    refused = await snapfix(stack, "dlq", "purge", dlq)
    assert refused.exit_code == 1
    assert "pass --yes" in refused.stderr
    assert await _bounds(stack, dlq) == (begin, end)  # nothing deleted

    purged = await snapfix(stack, "dlq", "purge", dlq, "--yes")
    assert purged.exit_code == 0, purged.output
    begin_after, end_after = await _bounds(stack, dlq)
    assert begin_after == end_after == end  # every record up to the end is gone
    listed = await snapfix(stack, "dlq", "list", dlq)
    assert any("none" in line for line in lines(listed) if dlq in line)
    again = await snapfix(stack, "dlq", "purge", dlq, "--yes")
    assert "nothing to purge" in again.output
