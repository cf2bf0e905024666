"""What bounds the issues consumer's fair baseline on this machine: shapes of the raw pipeline.

The consumer phase of ``bench.run`` compares the issues service with one raw pipeline (consume
a batch, ``insert_many`` it into the indexed collection, produce its events, await the acks,
commit). This script runs that pipeline in other shapes over the same commands, so the
question "could any consumer reach 5,000 commands/s here?" is answered by measurement:

- serial, batches of 1000 / 2000 / 4000 records;
- a batch's ``insert_many`` split into 2 / 4 / 8 concurrent chunks;
- batches pipelined: batch N+1 consumed and inserted while N's events are acknowledged and
  committed, up to 2 or 3 batches in flight (commits stay in order);
- its parts alone: insert only, produce only (where the bound is).

For each shape: commands/s and the CPU milliseconds per command of every process (this
Python process, Kafka, FerretDB, PostgreSQL with all its backends, Redis), read from /proc.

Run on a stack (its env sourced), under the measurement lock:
``flock -x /tmp/snapfix-measure.lock uv run --frozen python -m bench.consumer_shapes``.
Writes bench/results/consumer_shapes.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from bench.cpu import stack_pids
from snapfix_issues.models import Report
from snapfix_issues.records import new_report, reported_event
from snapfix_issues.repository import report_document
from snapfix_shared.topics import Topic
from tests.builders import make_report_command, signed
from tests.stack import start_groups_at_end

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant (PostgreSQL's backends are children of
    the postmaster), plus what its exited children left in its own counters."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat(int(entry))
        if fields is None:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = sum(int(v) for v in fields[11:13]) / TICK  # utime, stime
    own = _stat(root)
    total = sum(int(v) for v in own[11:15]) / TICK if own else 0.0  # with waited-for children
    for pid, spent in times.items():
        ancestor = parents.get(pid)
        while ancestor is not None and ancestor not in (root, 0, 1):
            ancestor = parents.get(ancestor)
        if ancestor == root and pid != root:
            total += spent
    return total


class TreeMeter:
    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = {name: tree_cpu_s(pid) for name, pid in pids.items()}

    def per_command(self, commands: int) -> dict[str, float]:
        spent = {name: tree_cpu_s(pid) - self.start[name] for name, pid in self.pids.items()}
        return {name: round(s * 1000 / max(commands, 1), 4) for name, s in spent.items()}


def processes(extra: dict[str, int] | None = None) -> dict[str, int]:
    """The stack's servers by name (the postmaster's pid file holds its pid on line 1)."""
    found = stack_pids(extra)
    return {("postgresql" if name == "postmaster" else name): pid for name, pid in found.items()}


Step = Callable[[list[Any]], Awaitable[None]]


async def run_shape(
    kafka: str,
    group: str,
    count: int,
    *,
    batch: int,
    step: Callable[[list[Any], AIOKafkaConsumer], Awaitable[None]],
    depth: int = 1,
) -> float:
    """Consume ``count`` records as ``group``; each batch goes through ``step``; with ``depth`` > 1,
    that many batches are in flight at once and their commits are made in order."""
    consumer = AIOKafkaConsumer(
        Topic.ISSUES_COMMANDS, bootstrap_servers=kafka, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    done, first = 0, None
    inflight: list[asyncio.Task[None]] = []
    try:
        while done < count:
            batches = await consumer.getmany(timeout_ms=50, max_records=batch)
            records = [r for rs in batches.values() for r in rs]
            if not records:
                continue
            first = first or time.perf_counter()
            offsets = {tp: rs[-1].offset + 1 for tp, rs in batches.items()}
            previous = inflight[-1] if inflight else None

            async def one(records: list[Any], offsets: dict[Any, int], previous: asyncio.Task[None] | None) -> None:
                await step(records, consumer)
                if previous is not None:
                    await previous  # commits in order
                await consumer.commit(offsets)

            inflight.append(asyncio.create_task(one(records, offsets, previous)))
            done += len(records)
            while len(inflight) >= depth:
                await inflight.pop(0)
        for task in inflight:
            await task
    finally:
        await consumer.stop()
    assert first is not None
    return count / (time.perf_counter() - first)


async def main_async(count: int, only: list[str] | None) -> dict[str, Any]:
    kafka, mongo_url = os.environ["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"], os.environ["SNAPFIX_MONGO_URL"]
    commands = [signed(make_report_command()) for _ in range(count)]
    reports = {str(c.issue_id): new_report(c) for c in commands}
    docs = {k: report_document(r) for k, r in reports.items()}
    events = {k: reported_event(r).model_dump_json().encode() for k, r in reports.items()}

    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    await producer.start()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, uuidRepresentation="standard")
    tag = uuid4().hex[:6]
    database = mongo[f"bench_shapes_{tag}"]

    async def produce_events(keys: list[str]) -> None:
        acks = [await producer.send(Topic.ISSUES_EVENTS, events[k], key=k.encode()) for k in keys]
        await asyncio.gather(*acks)

    def shape(chunks: int, insert: bool = True, produce: bool = True) -> Callable[[str], Any]:
        def make(collection_name: str) -> Callable[[list[Any], AIOKafkaConsumer], Awaitable[None]]:
            collection = database[collection_name]

            async def step(records: list[Any], _consumer: AIOKafkaConsumer) -> None:
                keys = [r.key.decode() for r in records]
                if insert:
                    size = -(-len(keys) // chunks)
                    parts = [keys[i : i + size] for i in range(0, len(keys), size)]
                    await asyncio.gather(
                        *(collection.insert_many([docs[k] for k in part], ordered=False) for part in parts)
                    )
                if produce:
                    await produce_events(keys)

            return step

        return make

    shapes: dict[str, tuple[int, Callable[[str], Any], int]] = {
        "serial_b1000": (1000, shape(1), 1),
        "serial_b2000": (2000, shape(1), 1),
        "serial_b4000": (4000, shape(1), 1),
        "chunks2_b1000": (1000, shape(2), 1),
        "chunks4_b1000": (1000, shape(4), 1),
        "chunks8_b1000": (1000, shape(8), 1),
        "pipelined2_b1000": (1000, shape(1), 2),
        "pipelined3_b1000": (1000, shape(1), 3),
        "pipelined2_chunks4_b1000": (1000, shape(4), 2),
        "insert_only_b1000": (1000, shape(1, produce=False), 1),
        "insert_only_chunks4_b1000": (1000, shape(4, produce=False), 1),
        "produce_only_b1000": (1000, shape(1, insert=False), 1),
    }
    names = [n for n in shapes if only is None or n in only]
    groups = {name: f"shapes-{name}-{tag}" for name in names}
    await start_groups_at_end(kafka, dict.fromkeys(groups.values(), Topic.ISSUES_COMMANDS))
    sender = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=5)
    await sender.start()
    try:
        futures = [
            await sender.send(Topic.ISSUES_COMMANDS, c.model_dump_json().encode(), key=c.partition_key().encode())
            for c in commands
        ]
        await asyncio.gather(*futures)
    finally:
        await sender.stop()

    results: dict[str, Any] = {}
    try:
        for name in names:
            batch, make, depth = shapes[name]
            collection = f"reports_{name}"
            await database[collection].create_indexes(Report.Settings.indexes)
            meter = TreeMeter(processes({"python": os.getpid()}))
            rate = await run_shape(kafka, groups[name], count, batch=batch, step=make(collection), depth=depth)
            cpu = meter.per_command(count)
            results[name] = {
                "commands_per_s": round(rate, 1),
                "cpu_ms_per_command": cpu,
                "cpu_ms_per_command_all": round(sum(cpu.values()), 4),
            }
            print(f"[shapes] {name}: {json.dumps(results[name])}", flush=True)
            await database[collection].drop()
    finally:
        await producer.stop()
        await mongo.drop_database(f"bench_shapes_{tag}")
        await mongo.close()
    return {
        "commands": count,
        "cores": os.cpu_count(),
        "what": "raw pipeline shapes over the same ReportIssue records (documents and event bodies prepared beforehand); "
        "every shape commits after its inserts and acks (acks=all, idempotent)",
        "shapes": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=20000)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--out", default=str(RESULTS / "consumer_shapes.json"))
    args = parser.parse_args()
    result = asyncio.run(main_async(args.commands, args.only))
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
