"""`make bench`, accept phase: the gateway's ``POST /v1/issues`` against two baselines of the same run.

- **bare**: a bare FastAPI endpoint with the same body model (no auth, no Kafka), the ratio's
  denominator as the issue defines it;
- **floor**: the same endpoint that also hands the body to Kafka and answers after the broker's
  ack (aiokafka, acks=all, idempotent). No accept path that keeps the zero-loss rule can be
  faster on this machine, so ``gateway / floor`` says how much of the gap is the gateway's own.

Beside the gateway's plain ``POST /v1/issues``, the same with an ``Idempotency-Key`` of its own on
every request (**keyed**), as the apps send every POST: its claim is a Redis round trip the plain
request does not make.

The servers under test (bare, floor, gateway) run on core 0, one worker each, vegeta on core 1.
While they are measured, each has its core to itself, as the bare endpoint does: what the accept
paths call (the broker; Redis for the gateway) runs on vegeta's core, as in production it runs
on machines of its own, and its CPU is still read from ``/proc`` and reported per request. Until
stop 37 the broker and Redis shared the servers' core, so the broker's requests, collections and
JIT compiler bursts were the measured server's too (a 30 ms stall there drained in about 150 ms
at half of the gateway's peak, and became its p99); one round at full throttle and the half-peak
runs are still measured that way (``dependencies_on_server_core``), so runs of different stops
compare. The load core's busy share is reported for every run (``cores_busy``): vegeta must have
room to spare there.

While the gateway is measured the issues service is paused (SIGSTOP): the consumer work its
reports set off (storing them, their events, the gateway's live fan-out of those events) would
otherwise run on the same core, mixed into the accept figures. So is the store's (FerretDB and
PostgreSQL, which no accept path here touches): its background work on the warm-up's reports
(PostgreSQL's autovacuum took 14 % of the core in one bare run) would land at random in one round
or another, so while the service is paused the store runs on vegeta's core too. The consumer
work is measured on its own right after, as the paused service catches up (the whole stack back
on core 0), and reported per report (of the first 100,000). One run with the consumer working
through the rest of that backlog on the same core (the accept path on a machine this small
right after a burst) is reported too.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.cpu import LOAD_CORE, SERVER_CORE, Meter, pid_on, pin, pinned, stack_pids
from bench.load import ROOT, issues_and_gateway, keyed_post_targets, post_target, process, sign_up, vegeta
from snapfix_issues.config import IssuesSettings
from snapfix_shared.topics import Topic
from tests.stack import wait_caught_up

FLOOR_TOPIC = "bench.accept-floor.v1"


async def _floor_topic(bootstrap: str) -> None:
    """The floor's topic, shaped like the commands topic (its partitions), created once."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        topics = await admin.list_topics()
        if FLOOR_TOPIC not in topics:
            described = await admin.describe_topics([Topic.ISSUES_COMMANDS])
            partitions = len(described[0]["partitions"])
            await admin.create_topics([NewTopic(FLOOR_TOPIC, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


@contextmanager
def aside(pids: dict[str, int], names: tuple[str, ...]) -> Iterator[None]:
    """The named processes (and their children: PostgreSQL's backends) on the load generator's
    core for the block, then back on the servers' core."""
    moved = {name: pids[name] for name in names if name in pids}
    pin(moved, LOAD_CORE)
    try:
        yield
    finally:
        pin(moved, SERVER_CORE)


@contextmanager
def paused(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


# The warm-up: each target as fast as it goes for a moment, then the two that produce at a steady
# moderate rate. A fresh broker's JVM compiles its produce path only after many single-record
# requests (the peak runs batch them): cold, it spent 0.8-0.9 ms of CPU per record at 500/s,
# warm 0.19 ms (a producer alone against the broker on core 0), and a cold tail is not the accept
# path's. In production the broker is warm.
WARM_RATE, WARM_S = 400, 30
# Keys made for each keyed run, per second of it: above any peak here, so that none repeats.
KEYS_PER_S = 4000
# Reports whose consumer work is metered (the paused service's backlog is larger: 400,000 in a run
# of 15:40, more than it stores in the 5 minutes allowed).
METERED_REPORTS = 100_000
# Runs at half of the gateway's peak, each of the gateway and of the floor.
HALF_RUNS = 3
# Full-throttle rounds of every target, interleaved: the ratios are of their medians (three, so
# that one round a stray burst of work fell into is not half of the figure).
ROUNDS = 3
# Connections of each full-throttle run. The floor and the gateway answer after the broker's ack
# of a window of records, so each request waits a window however light the load: with 64
# connections (the bench's until stop 37), the accept-only bench of 2026-12-05 15:03 kept their
# core only 59% and 80% busy (``cores_busy``), a peak of vegeta's connections, not of the server.
# With 256 every target keeps its core 97-99% busy, and the bare endpoint, busy at any count,
# served as much at 256 as at 32-128 (one stack at 15:32: 6,941-7,480 requests/s in one round,
# 6,205-7,503 in the next; docs/operations.md).
PEAK_CONNECTIONS = 256
# The stack's processes no accept path uses (names of their pid files).
STORE = ("ferretdb", "postmaster")
# What the accept paths call: the broker (the floor and the gateway) and Redis (the gateway).
DEPENDENCIES = ("kafka", "redis")


def median_p99(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose p99 is the median of ``runs`` (an odd number of them)."""
    return sorted(runs, key=lambda r: r["p99_ms"])[len(runs) // 2]


def half_peak_runs(run: Callable[[str], dict[str, Any]], targets: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """HALF_RUNS runs of the gateway, interleaved with the floor's at the same rate (the tail a bare
    endpoint that waits for one acks=all produce already has here). A tail percentile of one short
    run says mostly whether a rare pause fell into it (p99s of 6 to 131 ms at one rate on one
    stack), so the run with the median p99 is reported (``median_p99``)."""
    runs: dict[str, list[dict[str, Any]]] = {"gateway": [], "floor": []}
    for _ in range(HALF_RUNS):
        for name, made in runs.items():
            made.append(run(targets[name]))
    return runs


def warm_up(targets: dict[str, str]) -> None:
    for target in targets.values():
        vegeta(target, rate=0, duration_s=2)
    for name in ("floor", "gateway"):
        vegeta(targets[name], rate=WARM_RATE, duration_s=WARM_S)


def catch_up(env: dict[str, str], pids: dict[str, int], reports: int) -> dict[str, Any]:
    """The consumer work the paused reports set off, measured as the resumed service stores the
    first ``METERED_REPORTS`` of them (all, when fewer) and the gateway fans their events out.

    The CPU is read until both groups have committed that many more records, so a group ahead
    of the other is counted for more than ``metered`` reports: the figure errs high. The rest
    of the backlog is left to the service (a phase's stack is not used after it)."""
    metered = min(reports, METERED_REPORTS)
    meter, started = Meter(pids), time.monotonic()
    asyncio.run(_advanced(env, metered, timeout_s=300))
    cpu = meter.per_request(metered)
    seconds = time.monotonic() - started
    return {
        "reports": reports,
        "metered": metered,
        "seconds": round(seconds, 1),
        "reports_per_s": round(metered / seconds, 1),
        "cpu_ms_per_report": cpu,
        "cpu_ms_per_report_all": round(sum(cpu.values()), 3),
    }


def bench_accept(env: dict[str, str], duration_s: int) -> dict[str, Any]:
    asyncio.run(_floor_topic(env["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"]))
    bare_app = [sys.executable, str(ROOT / "bench" / "bare_app.py")]
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "floor": [], "gateway": [], "keyed": []}
    with (
        process("bare", bare_app, env) as bare_url,
        process("floor", bare_app, {**env, "BARE_PRODUCE_TOPIC": FLOOR_TOPIC}) as floor_url,
        issues_and_gateway(env) as (issues_url, gateway_url),
    ):
        token = sign_up(gateway_url)
        targets = {
            "bare": post_target(bare_url),
            "floor": post_target(floor_url),
            "gateway": post_target(gateway_url, token),
        }

        def keyed() -> str:  # fresh keys for every run: a key used before would be a replay
            return keyed_post_targets(gateway_url, token, count=KEYS_PER_S * duration_s)

        apps = {name: pid_on(url) for name, url in (("bare", bare_url), ("floor", floor_url), ("gateway", gateway_url))}
        pids = stack_pids({**apps, "issues": pid_on(issues_url)})
        with pinned(pids):
            warm_up({**targets, "keyed": keyed()})
            asyncio.run(_caught_up(env, timeout_s=120))  # the warm-up's reports stored before anything is measured

            def full(target: str) -> dict[str, Any]:  # as fast as PEAK_CONNECTIONS go
                return vegeta(target, rate=0, duration_s=duration_s, workers=PEAK_CONNECTIONS, pids=pids)

            with paused(pids["issues"]), aside(pids, STORE):
                with aside(pids, DEPENDENCIES):  # each server under test alone on its core, as bare is
                    for _ in range(ROUNDS):  # interleaved, so drift on this shared machine hits all alike
                        for name, target in targets.items():
                            runs[name].append(full(target))
                        runs["keyed"].append(full(keyed()))
                    half = max(1, int(statistics.median(r["throughput_rps"] for r in runs["gateway"]) / 2))

                    def at_half(target: str) -> dict[str, Any]:
                        return vegeta(target, rate=half, duration_s=duration_s, pids=pids)

                    at_half_runs = half_peak_runs(at_half, targets)
                    keyed_at_half = at_half(keyed())
                # The placement of the stops before 37: the broker and Redis on the servers' core,
                # so each of their requests and pauses is the measured server's too.
                shared_full = {name: full(targets[name]) for name in ("gateway", "floor")}
                shared_half = half_peak_runs(at_half, targets)
                to_gateway = [*runs["gateway"], *runs["keyed"], *at_half_runs["gateway"], keyed_at_half]
                to_gateway += [shared_full["gateway"], *shared_half["gateway"]]
            consumer = catch_up(env, pids, sum(r["requests"] for r in to_gateway))
            with_consumer = full(targets["gateway"])
    bare, floor, peak = (
        statistics.median(r["throughput_rps"] for r in runs[name]) for name in ("bare", "floor", "gateway")
    )
    return {
        "cores": f"servers on core {SERVER_CORE} (the baselines, the gateway, the issues service; one worker each), "
        f"vegeta on core {LOAD_CORE}; while the targets are measured the issues service is paused, the store "
        f"(FerretDB, PostgreSQL) is on core {LOAD_CORE}, and so are the broker and Redis except in "
        f"dependencies_on_server_core; the rest of the time the whole stack is on core {SERVER_CORE}",
        "rounds": ROUNDS,
        **runs,
        "gateway_over_bare": round(peak / bare, 3),
        "floor_over_bare": round(floor / bare, 3),
        "gateway_over_floor": round(peak / floor, 3),
        "gateway_at_half_peak": {"rate": half, **median_p99(at_half_runs["gateway"])},
        "gateway_at_half_peak_p99s_ms": [r["p99_ms"] for r in at_half_runs["gateway"]],
        # The same report, each with its own Idempotency-Key, as phones send them: one Redis round trip more.
        "keyed_over_bare": round(statistics.median(r["throughput_rps"] for r in runs["keyed"]) / bare, 3),
        "keyed_at_gateway_half_peak": {"rate": half, **keyed_at_half},
        "floor_at_gateway_half_peak": {"rate": half, **median_p99(at_half_runs["floor"])},
        "floor_at_gateway_half_peak_p99s_ms": [r["p99_ms"] for r in at_half_runs["floor"]],
        "consumer_work": consumer,
        # The issue's "CPU per accepted report, summed over all processes": the accept path's, then its consumers'.
        "cpu_ms_per_report_all_work": round(
            statistics.median(r["cpu_ms_per_request_all"] for r in runs["gateway"]) + consumer["cpu_ms_per_report_all"],
            3,
        ),
        "gateway_with_consumer_working": with_consumer,
        "dependencies_on_server_core": {
            "gateway_over_bare": round(shared_full["gateway"]["throughput_rps"] / bare, 3),
            "floor_over_bare": round(shared_full["floor"]["throughput_rps"] / bare, 3),
            **shared_full,
            "gateway_at_half_peak": {"rate": half, **median_p99(shared_half["gateway"])},
            "gateway_at_half_peak_p99s_ms": [r["p99_ms"] for r in shared_half["gateway"]],
            "floor_at_half_peak": {"rate": half, **median_p99(shared_half["floor"])},
            "floor_at_half_peak_p99s_ms": [r["p99_ms"] for r in shared_half["floor"]],
        },
    }


async def _committed(admin: AIOKafkaAdminClient, group: str, topic: str) -> int:
    """How many records of ``topic`` ``group`` has committed, over all its partitions."""
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(max(o.offset, 0) for tp, o in offsets.items() if tp.topic == topic)


async def _advanced(env: dict[str, str], count: int, *, timeout_s: float) -> None:
    """``count`` more reports stored by the issues service and their events fanned out by the gateway."""
    groups = ((IssuesSettings().consumer_group, Topic.ISSUES_COMMANDS), ("gateway-live", Topic.ISSUES_EVENTS))
    admin = AIOKafkaAdminClient(bootstrap_servers=env["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"], request_timeout_ms=30_000)
    await admin.start()
    try:
        start = [await _committed(admin, group, topic) for group, topic in groups]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            now = [await _committed(admin, group, topic) for group, topic in groups]
            if all(n - s >= count for n, s in zip(now, start, strict=True)):
                return
            await asyncio.sleep(0.3)
        raise TimeoutError(f"{count} reports not stored and fanned out within {timeout_s} s: {start} -> {now}")
    finally:
        await admin.close()


async def _caught_up(env: dict[str, str], *, timeout_s: float) -> None:
    """Every report on the commands topic stored, and every event of theirs fanned out to live streams."""
    bootstrap = env["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"]
    await wait_caught_up(bootstrap, IssuesSettings().consumer_group, Topic.ISSUES_COMMANDS, timeout_s=timeout_s)
    await wait_caught_up(bootstrap, "gateway-live", Topic.ISSUES_EVENTS, timeout_s=timeout_s)
