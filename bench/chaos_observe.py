"""Reading what the system did: consumer groups' lag, the mail the SMTP sink received, the issue event log."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from email import message_from_bytes, policy
from pathlib import Path
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from snapfix_shared.messages import ISSUE_EVENTS, IssueEvent
from snapfix_shared.topics import Topic


async def caught_up(bootstrap: str, timeout_s: float) -> dict[str, int]:
    """Waits until every consumer group has committed everything of the topics it reads; the lags left."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    lags: dict[str, int] = {}
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            lags = {}
            groups = [g[0] for g in await admin.list_consumer_groups()]
            for group in groups:
                committed = await admin.list_consumer_group_offsets(group)
                topics = {tp.topic for tp in committed}
                partitions = [
                    TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())
                ]
                if not partitions:
                    await consumer._client.force_metadata_update()
                    continue
                ends = await consumer.end_offsets(partitions)
                lag = sum(
                    end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
                    for tp, end in ends.items()
                )
                lags[group] = lag
            if (lags and not any(lags.values())) or time.monotonic() > deadline:
                return lags
            await asyncio.sleep(1)
    finally:
        await consumer.stop()
        await admin.close()


def mail_summary(folder: Path, since_ns: int) -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], set[str]]]:
    """(to, subject) -> messages received, and -> their distinct Message-IDs."""
    total: Counter[tuple[str, str]] = Counter()
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in folder.glob("*.eml"):
        if int(path.name.split("-", 1)[0]) < since_ns:
            continue
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        to = str(message["To"]).rsplit("<", 1)[-1].rstrip(">").strip().lower()
        key = (to, str(message["Subject"]))
        total[key] += 1
        ids[key].add(str(message["Message-ID"]))
    return total, ids


async def issue_events(bootstrap: str) -> tuple[list[IssueEvent], int]:
    """Every event of issues.events.v1, in each partition's order, each message id once; and the repeats."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    events: list[IssueEvent] = []
    seen: set[UUID] = set()
    repeats = 0
    try:
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(Topic.ISSUES_EVENTS, p) for p in consumer.partitions_for_topic(Topic.ISSUES_EVENTS) or ()
        ]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        done: set[TopicPartition] = {tp for tp, end in ends.items() if end == 0}
        while len(done) < len(partitions):
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    event = ISSUE_EVENTS.validate_json(record.value or b"")
                    if event.message_id in seen:
                        repeats += 1
                    else:
                        seen.add(event.message_id)
                        events.append(event)
                    if record.offset + 1 >= ends[tp]:
                        done.add(tp)
    finally:
        await consumer.stop()
    return events, repeats
