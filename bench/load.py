"""What the benchmark phases share: the app processes they start, the signed-in user, vegeta."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from bench.cpu import LOAD_CORE, Cores, Meter
from tests.stack import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BODY = {
    "title": "Pothole on Main St",
    "description": "Deep, near the bus stop",
    "category": "pothole",
    "lat": 52.52,
    "lon": 13.405,
}


@contextmanager
def process(name: str, argv: list[str], env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (RESULTS / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        argv, env={**os.environ, **env, "SNAPFIX_HTTP_PORT": str(port)}, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        if not wait_ready(url, proc):
            raise RuntimeError(f"{name} did not start; see {log.name}")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


BENCH_LIMITS = {"SNAPFIX_RATE_LIMIT_USER": "100000000/minute", "SNAPFIX_RATE_LIMIT_ANONYMOUS": "100000000/minute"}


def sign_up(gateway: str) -> str:
    """A new citizen, signed in: the bearer token for the benchmark's requests."""
    email, password = f"bench-{uuid4().hex[:10]}@example.org", "violet-harbour-71-lantern"
    with httpx.Client(base_url=gateway, timeout=30) as client:
        created = client.post("/v1/auth/register", json={"email": email, "password": password, "display_name": "B"})
        created.raise_for_status()
        token = client.post("/v1/auth/token", data={"grant_type": "password", "username": email, "password": password})
        token.raise_for_status()
        return str(token.json()["access_token"])


def post_target(url: str, token: str | None = None) -> str:
    body = RESULTS / "body.json"
    body.write_text(json.dumps(BODY))
    auth = f"Authorization: Bearer {token}\n" if token else ""
    return f"POST {url}/v1/issues\nContent-Type: application/json\n{auth}@{body}\n"


def keyed_post_targets(url: str, token: str, count: int) -> str:
    """``count`` targets of the same report, each with an ``Idempotency-Key`` of its own, as a phone
    sends every POST: enough of them that vegeta's round robin never repeats one (a repeat would be
    a replay, not an accepted report)."""
    body = RESULTS / "body.json"
    body.write_text(json.dumps(BODY))
    head = f"POST {url}/v1/issues\nContent-Type: application/json\nAuthorization: Bearer {token}\n"
    return "".join(f"{head}Idempotency-Key: {uuid4()}\n@{body}\n\n" for _ in range(count))


def get_targets(url: str, paths: list[str], token: str | None = None) -> str:
    """vegeta's targets: a GET of each path (signed in with ``token``, if given)."""
    auth = f"Authorization: Bearer {token}\n" if token else ""
    return "".join(f"GET {url}{path}\n{auth}\n" for path in paths)


# An open-loop run (a fixed rate) may hold this many requests in flight: a stall of the server
# then shows as the latency of every request sent on schedule meanwhile, not as requests vegeta
# held back for want of a free worker and sent late (whose latency would hide the stall).
OPEN_LOOP_MAX_WORKERS = 2048


def vegeta(
    target: str,
    *,
    rate: int,
    duration_s: int,
    workers: int = 64,
    pids: dict[str, int] | None = None,
    insecure: bool = False,
) -> dict[str, Any]:
    """Attack with the vegeta ``target`` text (round-robin); rate 0 means as fast as ``workers``
    connections allow (a closed loop), any other rate is held whatever the latency (an open loop).

    vegeta runs on the load core; with ``pids``, the CPU each of those processes spent per
    request is reported too (``cpu_ms_per_request``, and their sum). ``insecure``: HTTPS to a
    server whose certificate is the local edge's own CA's.
    """
    meter, cores = Meter(pids or {}), Cores()
    attack = [
        "taskset",
        "-c",
        LOAD_CORE,
        "vegeta",
        "attack",
        f"-rate={rate}",
        f"-duration={duration_s}s",
        f"-max-workers={workers if rate == 0 else OPEN_LOOP_MAX_WORKERS}",
        "-timeout=10s",
    ]
    if rate == 0:
        attack.append(f"-workers={workers}")
    if insecure:
        attack.append("-insecure")
    result = subprocess.run(attack, input=target.encode(), capture_output=True, check=True)
    report = subprocess.run(["vegeta", "report", "-type=json"], input=result.stdout, capture_output=True, check=True)
    data = json.loads(report.stdout)
    summary = {
        "requests": data["requests"],
        "throughput_rps": round(data["throughput"], 1),
        "p50_ms": round(data["latencies"]["50th"] / 1e6, 2),
        "p99_ms": round(data["latencies"]["99th"] / 1e6, 2),
        "success": data["success"],
        "status_codes": data["status_codes"],
        "cores_busy": cores.shares(),
    }
    if pids:
        cpu = meter.per_request(data["requests"])
        summary["cpu_ms_per_request"] = cpu
        summary["cpu_ms_per_request_all"] = round(sum(cpu.values()), 3)
    return summary


@contextmanager
def issues_and_gateway(env: dict[str, str]) -> Iterator[tuple[str, str]]:
    with (
        process("issues", [sys.executable, "-m", "snapfix_issues"], env) as issues,
        process(
            "gateway", [sys.executable, "-m", "snapfix_gateway"], {**env, **BENCH_LIMITS, "SNAPFIX_ISSUES_URL": issues}
        ) as gateway,
    ):
        yield issues, gateway
