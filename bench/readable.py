"""`make bench`, readable phase: accepted -> readable through the gateway, at a fixed arrival rate (open loop).

vegeta POSTs reports while this process watches issues.events.v1 for their announcements;
a sample of them is then read back by GET through the gateway.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.cpu import LOAD_CORE
from bench.load import post_target, sign_up
from snapfix_shared.topics import Topic


async def bench_readable(gateway: str, kafka: str, *, rate: int, duration_s: int) -> dict[str, Any]:
    """vegeta POSTs reports at a fixed rate (open loop) while this process watches issues.events.v1.

    A report is readable once stored, and the issues service stores it before it
    announces IssueReported; so the moment its event is seen bounds from above the
    moment it became readable. (Polling GETs for every report would load this 2-core
    machine more than the reports do.) Afterwards one GET per report checks that each
    really reads back through the gateway.
    """
    seen_at: dict[str, float] = {}
    failures: dict[str, int] = {}

    def fail(reason: str) -> None:
        failures[reason] = failures.get(reason, 0) + 1

    consumer = await _at_the_end(kafka)
    watcher = asyncio.create_task(_watch(consumer, seen_at))
    lines = await _attack(gateway, rate=rate, duration_s=duration_s)
    accepted_at, accept_ms = _accepted(lines, fail)
    print(f"[bench] {len(accepted_at)} accepted; waiting for their events", flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not accepted_at.keys() <= seen_at.keys():
        await asyncio.sleep(0.1)
    watcher.cancel()
    await consumer.stop()
    # A sample of the announced reports must read back through the gateway.
    sample = random.sample(sorted(accepted_at), min(200, len(accepted_at)))
    await _read_back(gateway, sample, seen_at, fail)
    readable_ms = [max(0.0, seen_at[k] - t) * 1000 for k, t in accepted_at.items() if k in seen_at]
    for _ in range(len(accepted_at) - len(readable_ms)):
        fail("accepted but not announced within 60s")
    return {
        "rate": rate,
        "reports": rate * duration_s,
        "accepted": len(accepted_at),
        "accept_p50_ms": _pct(accept_ms, 50),
        "accept_p99_ms": _pct(accept_ms, 99),
        "readable_p50_ms": _pct(readable_ms, 50),
        "readable_p99_ms": _pct(readable_ms, 99),
        "failures": failures,
    }


async def _at_the_end(kafka: str) -> AIOKafkaConsumer:
    """A consumer of issues.events.v1 (every partition) positioned at its end: it sees only what comes next."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None, enable_auto_commit=False)
    await consumer.start()
    await consumer._client.force_metadata_update()
    partitions = [
        TopicPartition(Topic.ISSUES_EVENTS, p) for p in consumer.partitions_for_topic(Topic.ISSUES_EVENTS) or ()
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end()
    await asyncio.gather(*(consumer.position(tp) for tp in partitions))
    return consumer


async def _watch(consumer: AIOKafkaConsumer, seen_at: dict[str, float]) -> None:
    """Each issue's first event: when it was seen (wall clock, comparable with vegeta's timestamps)."""
    while True:
        batches = await consumer.getmany(timeout_ms=50)
        now = time.time()
        for records in batches.values():
            for record in records:
                seen_at.setdefault(record.key.decode(), now)


async def _attack(gateway: str, *, rate: int, duration_s: int) -> bytes:
    """vegeta's results of POSTing reports at ``rate`` for ``duration_s`` (on the load core), as JSON lines."""
    target = post_target(gateway, await asyncio.to_thread(sign_up, gateway))
    attack = await asyncio.create_subprocess_exec(
        "taskset",
        "-c",
        LOAD_CORE,
        "vegeta",
        "attack",
        f"-rate={rate}",
        f"-duration={duration_s}s",
        "-timeout=10s",
        "-max-workers=400",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    raw, _ = await attack.communicate(target.encode())
    print(f"[bench] vegeta done: {len(raw)} bytes of results", flush=True)
    encode = await asyncio.create_subprocess_exec(
        "vegeta", "encode", "--to=json", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    lines, _ = await encode.communicate(raw)
    return lines


def _accepted(lines: bytes, fail: Callable[[str], None]) -> tuple[dict[str, float], list[float]]:
    """Issue id -> when its 202 came (wall clock), and the 202s' latencies in ms; other answers fail."""
    accepted_at: dict[str, float] = {}
    accept_ms: list[float] = []
    for line in lines.splitlines():
        result = json.loads(line)
        if result["code"] != 202:
            fail(f"POST {result['code']}")
            continue
        issue_id = json.loads(base64.b64decode(result["body"]))["id"]
        sent = datetime.fromisoformat(result["timestamp"]).timestamp()
        accepted_at[issue_id] = sent + result["latency"] / 1e9
        accept_ms.append(result["latency"] / 1e6)
    return accepted_at, accept_ms


async def _read_back(gateway: str, sample: list[str], seen_at: dict[str, float], fail: Callable[[str], None]) -> None:
    """One GET of each sampled report through the gateway, 16 at a time; anything but a 200 fails."""
    limit = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=gateway, timeout=5) as client:

        async def check(issue_id: str) -> None:
            async with limit:
                try:
                    status = (await asyncio.wait_for(client.get(f"/v1/issues/{issue_id}"), 5)).status_code
                except (httpx.HTTPError, TimeoutError) as exc:
                    fail(f"GET {type(exc).__name__}")
                    return
                if status != 200:
                    fail(f"GET answered {status}" + ("" if issue_id in seen_at else " (never announced)"))

        await asyncio.gather(*map(check, sample))


def _pct(values: list[float], q: int) -> float:
    return round(statistics.quantiles(values, n=100)[q - 1], 2) if len(values) > 1 else float("nan")
