"""`make bench`, consumer phase: ReportIssue commands/s from Kafka into the Mongo-wire server.

The issues service against a raw pipeline (aiokafka consume + insert_many into the same indexed
collection + raw produce of the same events + commit) over the same commands, once in one
``insert_many`` per batch and once in the service's shape (concurrent chunks); the CPU of each per command.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from bench.consumer_shapes import TreeMeter, processes
from bench.cpu import pid_on
from bench.load import process
from snapfix_issues.config import IssuesSettings
from snapfix_issues.consumers import REPORT_CHUNK
from snapfix_issues.models import Report
from snapfix_issues.records import new_report, reported_event
from snapfix_issues.repository import report_document
from snapfix_shared.topics import Topic
from tests.builders import make_report_command, signed
from tests.stack import start_groups_at_end, wait_caught_up

# The issues consumer's default batch size, for the raw pipeline too.
BATCH = IssuesSettings.model_fields["batch_max_records"].default


async def raw_pipeline(
    kafka: str, raw: Any, group: str, docs: dict[str, Any], events: dict[str, bytes], *, chunk: int | None = None
) -> float:
    """The fair baseline: what any consumer of these commands must do, and nothing else.

    Raw aiokafka consume (batches of the service's default size), ``insert_many`` of the stored
    documents into a collection with the same indexes, raw produce of the same events
    (acks=all, idempotent) with every ack awaited, then the offset commit. Documents and
    event bodies are prepared beforehand: no validation, no read model, no tracing. With
    ``chunk``, a batch is inserted and announced in concurrent chunks of that size, as the
    service does (``handlers.REPORT_CHUNK``); without, in one ``insert_many``.
    """
    consumer = AIOKafkaConsumer(
        Topic.ISSUES_COMMANDS, bootstrap_servers=kafka, group_id=group, enable_auto_commit=False
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    done, first = 0, None
    try:
        while done < len(docs):
            batches = await consumer.getmany(timeout_ms=50, max_records=BATCH)
            records = [r for rs in batches.values() for r in rs]
            if not records:
                continue
            first = first or time.perf_counter()
            keys = [r.key.decode() for r in records]
            size = chunk or len(keys)

            async def store(part: list[str]) -> None:
                await raw.insert_many([docs[k] for k in part], ordered=False)
                acks = [await producer.send(Topic.ISSUES_EVENTS, events[k], key=k.encode()) for k in part]
                await asyncio.gather(*acks)

            await asyncio.gather(*(store(keys[i : i + size]) for i in range(0, len(keys), size)))
            await consumer.commit()
            done += len(records)
    finally:
        await producer.stop()
        await consumer.stop()
    assert first is not None
    return done / (time.perf_counter() - first)


async def bench_consumer(env: dict[str, str], count: int) -> dict[str, Any]:
    kafka, mongo_url = env["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"], env["SNAPFIX_MONGO_URL"]
    commands = [signed(make_report_command()) for _ in range(count)]  # the gateway proves the actor
    records = {str(c.issue_id): new_report(c) for c in commands}
    docs = {k: report_document(r) for k, r in records.items()}  # as the service stores them
    events = {k: reported_event(r).model_dump_json().encode() for k, r in records.items()}

    # Both consumers start at the topic's end, then the commands are produced once for both.
    tag = uuid4().hex[:6]
    raw_group, group, database = f"issues-raw-{tag}", f"issues-bench-{tag}", f"bench_issues_{tag}"
    chunked_group = f"issues-raw-chunked-{tag}"
    await start_groups_at_end(
        kafka, {raw_group: Topic.ISSUES_COMMANDS, chunked_group: Topic.ISSUES_COMMANDS, group: Topic.ISSUES_COMMANDS}
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(Topic.ISSUES_COMMANDS, c.model_dump_json().encode(), key=c.partition_key().encode())
            for c in commands
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()

    # Baseline: the same collection with the service's indexes (and, on PostgreSQL, their GIN twins).
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, uuidRepresentation="standard")
    raw = mongo[f"bench_raw_{tag}"]["reports"]
    await raw.create_indexes(Report.Settings.indexes)
    meter = TreeMeter(processes({"python": os.getpid()}))
    raw_rate = await raw_pipeline(kafka, raw, raw_group, docs, events)
    raw_cpu = meter.per_command(count)
    await mongo.drop_database(f"bench_raw_{tag}")
    # The same pipeline in the service's shape: a batch's reports in concurrent chunks.
    chunked = mongo[f"bench_raw_chunked_{tag}"]["reports"]
    await chunked.create_indexes(Report.Settings.indexes)
    meter = TreeMeter(processes({"python": os.getpid()}))
    chunked_rate = await raw_pipeline(kafka, chunked, chunked_group, docs, events, chunk=REPORT_CHUNK)
    chunked_cpu = meter.per_command(count)
    await mongo.drop_database(f"bench_raw_chunked_{tag}")

    # The real thing: a fresh issues service consumes the same commands.
    service_env = {
        **env,
        "SNAPFIX_CONSUMER_GROUP": group,
        "SNAPFIX_MONGO_DATABASE": database,
        "SNAPFIX_LOG_LEVEL": "WARNING",
    }
    # Progress is watched on the events topic (each report is announced once stored): counting
    # the collection instead would load the store this measures (a count is a scan on FerretDB).
    watcher = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None, enable_auto_commit=False)
    await watcher.start()
    await watcher._client.force_metadata_update()
    partitions = [
        TopicPartition(Topic.ISSUES_EVENTS, p) for p in watcher.partitions_for_topic(Topic.ISSUES_EVENTS) or ()
    ]
    watcher.assign(partitions)
    await watcher.seek_to_end()
    await asyncio.gather(*(watcher.position(tp) for tp in partitions))
    announced: set[str] = set()
    first_seen = first_n = last_seen = None
    consumer_meter: TreeMeter | None = None
    consumer_cpu: dict[str, float] = {}
    try:
        with process("issues", [sys.executable, "-m", "snapfix_issues"], service_env) as issues_url:
            pids = processes({"issues": pid_on(issues_url)})
            deadline = time.monotonic() + 600
            while len(announced) < count and time.monotonic() < deadline:
                batches = await watcher.getmany(timeout_ms=200, max_records=5000)
                now = time.perf_counter()
                announced.update(k for rs in batches.values() for r in rs if (k := r.key.decode()) in events)
                if announced and first_seen is None:
                    first_seen, first_n = now, len(announced)
                    consumer_meter = TreeMeter(pids)  # CPU over the same window as the rate
                if announced:
                    last_seen = now
            if consumer_meter is not None:
                consumer_cpu = consumer_meter.per_command(len(announced) - (first_n or 0))
            await wait_caught_up(kafka, group, Topic.ISSUES_COMMANDS, timeout_s=120)
    finally:
        await watcher.stop()
    if first_seen is None or first_n is None or last_seen is None:
        raise RuntimeError("the issues service announced no report")
    consumer_rate = (len(announced) - first_n) / max(last_seen - first_seen, 1e-9)
    stored = await mongo[database]["reports"].count_documents({})
    await mongo.drop_database(database)
    await mongo.close()
    return {
        "commands": count,
        "baseline": "raw aiokafka consume + insert_many into the same indexed collection + raw produce of the same events (acks=all) + commit, in batches of the service's size",
        "batch": BATCH,
        "raw_pipeline_commands_per_s": round(raw_rate, 1),
        "raw_pipeline_chunked_commands_per_s": round(chunked_rate, 1),
        "chunk": REPORT_CHUNK,
        "consumer_commands_per_s": round(consumer_rate, 1),
        "consumer_over_raw": round(consumer_rate / raw_rate, 3),
        "consumer_over_raw_chunked": round(consumer_rate / chunked_rate, 3),
        "announced": len(announced),
        "stored": stored,
        # CPU ms per command of each process (PostgreSQL with its backends), from /proc; "python" is
        # the raw pipeline's process, "issues" the service's.
        "raw_pipeline_cpu_ms_per_command": raw_cpu,
        "raw_pipeline_chunked_cpu_ms_per_command": chunked_cpu,
        "consumer_cpu_ms_per_command": consumer_cpu,
        "cpu_ms_per_command_all": {
            "raw_pipeline": round(sum(raw_cpu.values()), 3),
            "raw_pipeline_chunked": round(sum(chunked_cpu.values()), 3),
            "consumer": round(sum(consumer_cpu.values()), 3),
        },
    }
