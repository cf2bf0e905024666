"""Events per second through the analytics service (one instance), with the raw consume rate
of the same records as the baseline, measured in the same run.

A generated city day of issue events (``tests.analytics_history``: reports, acknowledgements,
resolutions, reopenings, rejections over four areas and three categories) is published to
``issues.events.v1`` first. The baseline reads those records with a bare aiokafka consumer;
then one analytics process (a new database, a new consumer group starting at the history)
takes them in: claims, ledger, windows 1m/1h/1d, backlog, both analyst streams, commits. The
rate is events over the time from its first claim to its group having committed
everything. The CPU time of the analytics process (and of the FerretDB server, where the
cost of this workload lies) over the same span is read from /proc, per event: robust to
the load other work puts on this shared machine, which the wall-clock rate is not.
Needs the local stack's settings in the environment. Results: bench/results/analytics.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from snapfix_analytics.config import AnalyticsSettings
from snapfix_shared.topics import Topic
from tests.analytics_history import make_history
from tests.integration.analytics_app import end_offsets, publish_events, start_group_at
from tests.stack import Stack, free_port, wait_caught_up, wait_ready

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0 when it is not known)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of stat)


def backend_cpu_s() -> float:
    """CPU seconds of the stack's PostgreSQL server (FerretDB's backend, when it is the one):
    the postmaster, its live children (a backend per FerretDB connection) and those it reaped."""
    profile = os.environ.get("SNAPFIX_STACK_PROFILE")
    try:
        text = (ROOT / ".stack" / (profile or "-") / "postgresql" / "data" / "postmaster.pid").read_text()
        postmaster = int(text.split()[0])
        fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return 0.0
    total = sum(int(f) for f in fields[11:15]) / TICKS  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(child[1]) == postmaster:
            total += (int(child[11]) + int(child[12])) / TICKS
    return total


def store_pid() -> int | None:
    """The local stack's FerretDB server, when this stack profile runs one."""
    profile = os.environ.get("SNAPFIX_STACK_PROFILE")
    pid_file = ROOT / ".stack" / (profile or "-") / "ferretdb" / "ferretdb.pid"
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


@contextmanager
def analytics_process(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    url = f"http://127.0.0.1:{free_port()}"
    with (RESULTS / "analytics.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snapfix_analytics"],
            env={**os.environ, **env, "SNAPFIX_HTTP_PORT": url.rsplit(":", 1)[1]},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_ready(url, proc):
                raise RuntimeError("analytics did not start; see bench/results/analytics.log")
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def raw_consume_rate(stack: Stack, offsets: dict[Any, int], count: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        for tp, offset in offsets.items():
            consumer.seek(tp, offset)
        seen, start = 0, time.perf_counter()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            seen += sum(len(records) for records in batches.values())
        return count / (time.perf_counter() - start)
    finally:
        await consumer.stop()


async def bench(issues: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k.startswith("SNAPFIX_")}
    stack = Stack(env["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"], env["SNAPFIX_MONGO_URL"], env["SNAPFIX_REDIS_URL"])
    run = uuid4().hex[:6]
    day = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    # A busy hour: reports within 10 minutes, their handling within the hour after.
    history = make_history(7, issues=issues, categories=[f"bench{run}{c}" for c in "abc"], day=day, pace=1 / 18)
    count = len(history.events)
    start_offsets = await end_offsets(stack)
    await publish_events(stack, history.events)
    raw_rate = await raw_consume_rate(stack, start_offsets, count)

    group, database = f"analytics-bench-{run}", f"bench_analytics_{run}"
    await start_group_at(stack, group, start_offsets)
    service_env = {
        **env,
        "SNAPFIX_CONSUMER_GROUP": group,
        "SNAPFIX_MONGO_DATABASE": database,
        "SNAPFIX_ALLOWED_LATENESS_S": str(10 * 365 * 86400),
        "SNAPFIX_LOG_LEVEL": "WARNING",
        "OTEL_TRACES_EXPORTER": "none",
    }
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    store = store_pid()
    load_before = os.getloadavg()
    try:
        with analytics_process(service_env) as proc:
            ledger, claims = mongo[database]["applied"], mongo[database]["claims"]
            first_seen, cpu_start, store_start, backend_start = None, 0.0, 0.0, 0.0
            deadline = time.monotonic() + 900
            while first_seen is None and time.monotonic() < deadline:
                if await claims.find_one({}, {"_id": 1}) is not None:  # the first batch's claims
                    first_seen = time.perf_counter()
                    cpu_start, store_start, backend_start = cpu_s(proc.pid), cpu_s(store), backend_cpu_s()
                await asyncio.sleep(0.1)
            await wait_caught_up(stack.kafka, group, Topic.ISSUES_EVENTS, timeout_s=900)
            done = time.perf_counter()
            cpu, store_cpu = cpu_s(proc.pid) - cpu_start, cpu_s(store) - store_start
            backend_cpu = backend_cpu_s() - backend_start
        assert first_seen is not None
        applied = await ledger.count_documents({})
        await mongo.drop_database(database)
    finally:
        await mongo.close()
    rate = count / max(done - first_seen, 1e-9)
    return {
        "events": count,
        "applied": applied,
        "raw_consume_events_per_s": round(raw_rate, 1),
        "analytics_events_per_s": round(rate, 1),
        "analytics_over_raw": round(rate / raw_rate, 4),
        "analytics_cpu_ms_per_event": round(cpu * 1000 / count, 3),
        "store_cpu_ms_per_event": round(store_cpu * 1000 / count, 3) if store else None,
        "store_backend_cpu_ms_per_event": round(backend_cpu * 1000 / count, 3),
        "batch_records": int(
            service_env.get("SNAPFIX_BATCH_RECORDS", AnalyticsSettings.model_fields["batch_records"].default)
        ),
        "wall_s": round(done - first_seen, 2),
        "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "store": _backend(),
        "note": "one instance; store_cpu is the FerretDB server's CPU over the same span, store_backend_cpu its "
        "PostgreSQL server's (0 on SQLite, which runs inside FerretDB); on SQLite every update and find by _id scans "
        "a collection, on PostgreSQL an equality on a string _id uses an index",
    }


def _backend() -> str:
    """The Mongo-wire server's backend in this profile's stack (what stack.py chose)."""
    root = Path(os.environ.get("SNAPFIX_STACK_DIR", Path(__file__).resolve().parents[1] / ".stack"))
    chosen = root / os.environ.get("SNAPFIX_STACK_PROFILE", "bench") / "store"
    return chosen.read_text().strip() if chosen.exists() else "sqlite"


def main() -> None:
    parser = argparse.ArgumentParser()
    # 6,000 issues: about 18,300 events, two batches of 10,000 records (2,000 issues made one)
    parser.add_argument("--issues", type=int, default=int(os.environ.get("BENCH_ANALYTICS_ISSUES", "6000")))
    args = parser.parse_args()
    print(f"[bench] analytics: events/s through one instance vs raw consume, {args.issues} issues ...", flush=True)
    result = asyncio.run(bench(args.issues))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "analytics.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
