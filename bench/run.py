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

Each phase has its module (bench/accept.py, readable.py, consumer.py, reads.py); ``report`` gathers
their results into bench/results/latest.json and, by bench/report.py, bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
from datetime import UTC, datetime

from bench.accept import bench_accept
from bench.consumer import bench_consumer
from bench.load import RESULTS, issues_and_gateway
from bench.readable import bench_readable
from bench.reads import bench_reads
from bench.report import markdown

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
