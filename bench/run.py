"""`make bench`: SnapFix's benchmarks, each compared with a baseline measured in the same run.

1. Gateway accept path for a signed-in user (JWT + session check + rate limit + validation
   + the issues service's check + Kafka acks=all + 202) vs a bare FastAPI endpoint with
   the same body model, one uvicorn worker each, at full throttle (vegeta); then the
   gateway's accept latency at a fixed rate of half its measured peak.
2. Accepted -> readable through the gateway, at a fixed arrival rate (open loop).
3. Issues consumer: ReportIssue commands/s from Kafka into the Mongo-wire server vs a raw
   pipeline (aiokafka consume + insert_many into the same indexed collection + raw produce
   of the same events + commit) over the same commands.
4. Reads: GET /v1/issues/{id} through the gateway (served from the issues service's
   cache) vs a bare FastAPI GET of a same-sized body; nearby search at full throttle
   and its latency at a fixed rate.

The per-user rate limit is raised for the benchmark user (the limiter still counts every
request in Redis, so its cost is measured; only refusals are avoided).

Results: bench/results/latest.json and bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from bench.accept import bench_accept
from bench.consumer_shapes import TreeMeter, processes
from bench.cpu import LOAD_CORE, SERVER_CORE, pid_on, pinned, stack_pids
from bench.load import BODY, RESULTS, ROOT, get_targets, issues_and_gateway, post_target, process, sign_up, vegeta
from snapfix_issues.config import IssuesSettings
from snapfix_issues.consumers import REPORT_CHUNK
from snapfix_issues.models import Report
from snapfix_issues.records import new_report, reported_event
from snapfix_issues.repository import report_document
from snapfix_shared.topics import Topic
from tests.builders import make_report_command, signed
from tests.stack import start_groups_at_end, wait_caught_up


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

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None, enable_auto_commit=False)
    await consumer.start()
    await consumer._client.force_metadata_update()
    partitions = [
        TopicPartition(Topic.ISSUES_EVENTS, p) for p in consumer.partitions_for_topic(Topic.ISSUES_EVENTS) or ()
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end()
    await asyncio.gather(*(consumer.position(tp) for tp in partitions))

    async def watch() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()  # wall clock, comparable with vegeta's timestamps
            for records in batches.values():
                for record in records:
                    seen_at.setdefault(record.key.decode(), now)

    watcher = asyncio.create_task(watch())
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

    print(f"[bench] {len(accepted_at)} accepted; waiting for their events", flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not accepted_at.keys() <= seen_at.keys():
        await asyncio.sleep(0.1)
    watcher.cancel()
    await consumer.stop()
    # A sample of the announced reports must read back through the gateway.
    sample = random.sample(sorted(accepted_at), min(200, len(accepted_at)))
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
    readable_ms = [max(0.0, seen_at[k] - t) * 1000 for k, t in accepted_at.items() if k in seen_at]
    for _ in range(len(accepted_at) - len(readable_ms)):
        fail("accepted but not announced within 60s")

    def pct(values: list[float], q: int) -> float:
        return round(statistics.quantiles(values, n=100)[q - 1], 2) if len(values) > 1 else float("nan")

    return {
        "rate": rate,
        "reports": rate * duration_s,
        "accepted": len(accepted_at),
        "accept_p50_ms": pct(accept_ms, 50),
        "accept_p99_ms": pct(accept_ms, 99),
        "readable_p50_ms": pct(readable_ms, 50),
        "readable_p99_ms": pct(readable_ms, 99),
        "failures": failures,
    }


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


async def seed_reports(gateway: str, token: str, count: int) -> list[str]:
    """``count`` reports scattered within 1 km of BODY's point, each readable before this returns."""
    headers = {"authorization": f"Bearer {token}"}
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=gateway, timeout=10, headers=headers) as client:
        for i in range(count):
            body = BODY | {
                "lat": BODY["lat"] + random.uniform(-0.008, 0.008),
                "lon": BODY["lon"] + random.uniform(-0.012, 0.012),
                "title": f"Pothole {i}",
            }
            accepted = await client.post("/v1/issues", json=body)
            accepted.raise_for_status()
            ids.append(accepted.json()["id"])
        deadline = time.monotonic() + 120
        for issue_id in ids:
            while (await client.get(f"/v1/issues/{issue_id}")).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"seeded report {issue_id} not readable after 120 s")
                await asyncio.sleep(0.05)
    return ids


async def bench_reads(env: dict[str, str], duration_s: int) -> dict[str, Any]:
    with (
        process("bare", [sys.executable, str(ROOT / "bench" / "bare_app.py")], env) as bare_url,
        issues_and_gateway(env) as (issues_url, gateway_url),
    ):
        pids = stack_pids({"bare": pid_on(bare_url), "gateway": pid_on(gateway_url), "issues": pid_on(issues_url)})
        token = await asyncio.to_thread(sign_up, gateway_url)
        ids = await seed_reports(gateway_url, token, int(os.environ.get("BENCH_SEED_REPORTS", "300")))
        one = [f"/v1/issues/{i}" for i in ids]
        bare, gateway = get_targets(bare_url, one), get_targets(gateway_url, one)
        near = [f"/v1/issues?lat={BODY['lat']}&lon={BODY['lon']}&radius_m=1000"]
        nearby = get_targets(gateway_url, near)
        with pinned(pids):
            vegeta(bare, rate=0, duration_s=2)  # warm-up (and every issue cached once)
            vegeta(gateway, rate=0, duration_s=2)
            bare_runs, gateway_runs = [], []
            for _ in range(2):
                bare_runs.append(vegeta(bare, rate=0, duration_s=duration_s, pids=pids))
                gateway_runs.append(vegeta(gateway, rate=0, duration_s=duration_s, pids=pids))
            nearby_peak = vegeta(nearby, rate=0, duration_s=duration_s, workers=16, pids=pids)
            nearby_rate = max(1, int(nearby_peak["throughput_rps"] / 2))
            nearby_half = vegeta(nearby, rate=nearby_rate, duration_s=duration_s, pids=pids)
    bare_rps = statistics.median(r["throughput_rps"] for r in bare_runs)
    gateway_rps = statistics.median(r["throughput_rps"] for r in gateway_runs)
    return {
        "cores": f"servers on core {SERVER_CORE}, vegeta on core {LOAD_CORE}",
        "seeded_reports": len(ids),
        "bare_get": bare_runs,
        "gateway_get": gateway_runs,
        "gateway_get_over_bare": round(gateway_rps / bare_rps, 3),
        "nearby_peak": nearby_peak,
        "nearby_at_half_peak": {"rate": nearby_rate, **nearby_half},
    }


def markdown(results: dict[str, Any]) -> str:
    a, r, c, g = results["accept"], results["readable"], results["consumer"], results["reads"]
    rows = [
        (
            "bare FastAPI POST, 1 worker (median req/s)",
            round(statistics.median(x["throughput_rps"] for x in a["bare"]), 1),
            "",
        ),
        (
            "gateway accept path, 1 worker (median req/s)",
            round(statistics.median(x["throughput_rps"] for x in a["gateway"]), 1),
            "",
        ),
        ("gateway / bare", a["gateway_over_bare"], ">= 0.6"),
    ]
    if "floor" in a:  # the produce floor and the consumer's share, measured since stop 23
        rows += [
            (
                "floor: bare POST + one Kafka produce acked (acks=all), 1 worker (median req/s)",
                round(statistics.median(x["throughput_rps"] for x in a["floor"]), 1),
                "",
            ),
            ("floor / bare", a["floor_over_bare"], ""),
            ("gateway / floor", a["gateway_over_floor"], ""),
            (
                "consumer work per accepted report, measured as the paused issues service caught up (CPU ms)",
                a["consumer_work"]["cpu_ms_per_report_all"],
                "",
            ),
            (
                "CPU per accepted report, all processes, its consumer work included (ms)",
                a["cpu_ms_per_report_all_work"],
                "<= 3",
            ),
            (
                "gateway accept path with the issues consumer working on the same core (req/s)",
                a["gateway_with_consumer_working"]["throughput_rps"],
                "",
            ),
        ]
    rows += [
        (
            "CPU per accepted report, all processes, while the gateway was measured (median ms)",
            round(statistics.median(x["cpu_ms_per_request_all"] for x in a["gateway"]), 2),
            "" if "floor" in a else "<= 3",
        ),
        ("gateway p99 at full throttle (ms)", max(x["p99_ms"] for x in a["gateway"]), ""),
        (
            f"gateway accept p50 / p99 at {a['gateway_at_half_peak']['rate']} req/s (half peak, ms)",
            f"{a['gateway_at_half_peak']['p50_ms']} / {a['gateway_at_half_peak']['p99_ms']}",
            "p99 <= 25",
        ),
        (
            f"accepted -> readable p50 / p99 at {r['rate']} reports/s offered, {r['accepted']} of {r['reports']} accepted (ms)",
            f"{r['readable_p50_ms']} / {r['readable_p99_ms']}",
            "p99 <= 100 at 500/s",
        ),
        ("accept p50 / p99 in that run (ms)", f"{r['accept_p50_ms']} / {r['accept_p99_ms']}", ""),
        ("raw pipeline: consume + insert_many + produce (commands/s)", c["raw_pipeline_commands_per_s"], ""),
        ("issues consumer (commands/s)", c["consumer_commands_per_s"], ">= 5000"),
        ("consumer / raw", c["consumer_over_raw"], ">= 0.7"),
    ]
    if "raw_pipeline_chunked_commands_per_s" in c:
        rows += [
            (
                f"raw pipeline in the service's shape, concurrent chunks of {c['chunk']} (commands/s)",
                c["raw_pipeline_chunked_commands_per_s"],
                "",
            ),
            ("consumer / raw in the service's shape", c["consumer_over_raw_chunked"], ""),
            (
                "CPU per command, all processes: consumer / raw (ms)",
                f"{c['cpu_ms_per_command_all']['consumer']} / {c['cpu_ms_per_command_all']['raw_pipeline']}",
                "",
            ),
        ]
    rows += [
        (
            "bare FastAPI GET (median req/s)",
            round(statistics.median(x["throughput_rps"] for x in g["bare_get"]), 1),
            "",
        ),
        (
            "GET /v1/issues/{id} through the gateway, cached (median req/s)",
            round(statistics.median(x["throughput_rps"] for x in g["gateway_get"]), 1),
            "",
        ),
        ("gateway GET / bare GET", g["gateway_get_over_bare"], ">= 0.6"),
        (
            f"nearby search, {g['seeded_reports']} reports within 1 km (req/s at full throttle)",
            g["nearby_peak"]["throughput_rps"],
            "",
        ),
        (
            f"nearby search p50 / p99 at {g['nearby_at_half_peak']['rate']} req/s (ms)",
            f"{g['nearby_at_half_peak']['p50_ms']} / {g['nearby_at_half_peak']['p99_ms']}",
            "",
        ),
    ]
    if m := results.get("media"):
        rows += [
            (f"image pipeline, {m['image']} (images/s per core)", m["images_per_s_per_core"], ""),
            ("image pipeline peak memory per image (MiB)", m["peak_memory_mib_per_image"], ""),
        ]
    if nt := results.get("notify"):
        rows += [
            (
                f"notify, one instance, {nt['events']} events -> emails accepted (notifications/s)",
                nt["notifications_per_s"],
                "",
            ),
            ("the SMTP sink fed directly (messages/s)", nt["sink_direct_per_s"], ""),
        ]
    if an := results.get("analytics"):
        rows += [
            (f"analytics, one instance, {an['events']} issue events (events/s)", an["analytics_events_per_s"], ""),
            ("raw consume of the same records (events/s)", an["raw_consume_events_per_s"], ""),
        ]
    lines = [
        f"# SnapFix benchmarks ({results['when']}, {results['machine']})",
        "",
        "| measure | value | target |",
        "|---|---|---|",
    ]
    lines += [f"| {m} | {v} | {t} |" for m, v, t in rows]
    lines += [
        "",
        f"Failures in the readable run: {r['failures'] or 'none'}. Readable = IssueReported seen on the topic (the report is stored before it is announced); 200 of them are then read back by GET through the gateway.",
        "",
    ]
    return "\n".join(lines)


PHASES = ("readable", "consumer", "accept", "reads")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=[*PHASES, "report"])
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION_S", "10")))
    parser.add_argument("--readable-rate", type=int, default=int(os.environ.get("BENCH_READABLE_RATE", "100")))
    parser.add_argument("--commands", type=int, default=int(os.environ.get("BENCH_COMMANDS", "20000")))
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k.startswith("SNAPFIX_")}
    env["OTEL_TRACES_EXPORTER"] = "none"
    quiet = {**env, "SNAPFIX_LOG_LEVEL": "WARNING"}

    if args.phase == "readable":
        print(f"[bench] accepted -> readable at {args.readable_rate} reports/s ...", flush=True)
        with issues_and_gateway(quiet) as (_, gw):
            kafka = env["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"]
            result = asyncio.run(bench_readable(gw, kafka, rate=args.readable_rate, duration_s=args.duration))
    elif args.phase == "consumer":
        print(f"[bench] issues consumer vs a raw pipeline, {args.commands} commands ...", flush=True)
        result = asyncio.run(bench_consumer(quiet, args.commands))
    elif args.phase == "accept":
        print("[bench] gateway accept path vs bare FastAPI and the produce floor ...", flush=True)
        result = bench_accept(quiet, args.duration)
    elif args.phase == "reads":
        print("[bench] reads: GET one issue vs bare GET; nearby search ...", flush=True)
        result = asyncio.run(bench_reads(quiet, args.duration))
    else:
        results = {phase: json.loads((RESULTS / f"{phase}.json").read_text()) for phase in PHASES}
        if (RESULTS / "media.json").exists():  # written by bench.media
            results["media"] = json.loads((RESULTS / "media.json").read_text())
        if (RESULTS / "notify.json").exists():  # written by bench.notify
            results["notify"] = json.loads((RESULTS / "notify.json").read_text())
        if (RESULTS / "analytics.json").exists():  # written by bench.analytics
            results["analytics"] = json.loads((RESULTS / "analytics.json").read_text())
        results["when"] = datetime.now(UTC).isoformat(timespec="seconds")
        results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
        (RESULTS / "latest.md").write_text(markdown(results))
        print(markdown(results))
        return
    (RESULTS / f"{args.phase}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
