"""`make bench` phase "servers": the ASGI server, uvicorn against granian, on the same bare app.

The bare app of the accept and reads phases (``bench/bare_app.py``: the report POST with
the gateway's body model, and a GET of an issue-sized body) is served by one worker of
each server in turn, pinned to core 0, with vegeta on core 1 at full throttle. Each
server's CPU-ms per request (the server and its children, from /proc) is the figure that
decides; throughput on a shared machine drifts, CPU per request much less. The rounds
alternate, so drift hits both alike. Results: bench/results/servers.json.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.cpu import LOAD_CORE, SERVER_CORE, cpu_s
from bench.load import BODY, RESULTS, ROOT
from tests.stack import free_port

ROUNDS = int(os.environ.get("BENCH_SERVERS_ROUNDS", "2"))
DURATION_S = int(os.environ.get("BENCH_DURATION_S", "10"))
BIN = Path(sys.executable).parent


def command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            "bench.bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    return [
        str(BIN / "granian"),
        "--interface",
        "asgi",
        "bench.bare_app:app",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-ws",
    ]


@contextmanager
def serving(server: str) -> Iterator[tuple[str, list[int]]]:
    port = free_port()
    proc = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, *command(server, port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{server} did not start")
            time.sleep(0.2)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False)
        yield url, [proc.pid, *map(int, children.stdout.split())]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def attack(target: str, duration_s: int) -> dict[str, Any]:
    run = subprocess.run(
        [
            "taskset",
            "-c",
            LOAD_CORE,
            "vegeta",
            "attack",
            "-rate=0",
            "-workers=64",
            "-max-workers=64",
            f"-duration={duration_s}s",
        ],
        input=target.encode(),
        capture_output=True,
        check=True,
    )
    report = subprocess.run(["vegeta", "report", "-type=json"], input=run.stdout, capture_output=True, check=True)
    return json.loads(report.stdout)  # type: ignore[no-any-return]


def measure(url: str, pids: list[int], body: Path) -> dict[str, Any]:
    targets = {
        "post": f"POST {url}/v1/issues\nContent-Type: application/json\n@{body}\n\n",
        "get": f"GET {url}/v1/issues/01a214af-7a77-7585-be5b-41d730f90259\n\n",
    }
    out = {}
    for name, target in targets.items():
        attack(target, 2)  # warm-up
        before = sum(cpu_s(p) for p in pids)
        data = attack(target, DURATION_S)
        spent = sum(cpu_s(p) for p in pids) - before
        if data["success"] < 1:
            raise RuntimeError(f"{name} failed: {data['status_codes']}")
        out[name] = {
            "throughput_rps": round(data["throughput"], 1),
            "p99_ms": round(data["latencies"]["99th"] / 1e6, 2),
            "cpu_ms_per_request": round(spent * 1000 / data["requests"], 4),
        }
    return out


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bench-servers-"))
    body = scratch / "body.json"
    body.write_text(json.dumps(BODY))
    runs: dict[str, list[dict[str, Any]]] = {"uvicorn": [], "granian": []}
    try:
        for _ in range(ROUNDS):
            for server, results in runs.items():
                with serving(server) as (url, pids):
                    results.append(measure(url, pids, body))
                print(f"[servers] {server}: {results[-1]}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def median(server: str, kind: str, key: str) -> float:
        return statistics.median(r[kind][key] for r in runs[server])

    summary = {
        kind: {
            server: {key: median(server, kind, key) for key in ("throughput_rps", "cpu_ms_per_request")}
            for server in runs
        }
        for kind in ("post", "get")
    }
    cheaper = {kind: min(runs, key=lambda s, k=kind: summary[k][s]["cpu_ms_per_request"]) for kind in summary}
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": f"server on core {SERVER_CORE}, one worker; vegeta on core {LOAD_CORE}",
        "load_average": os.getloadavg(),
        "rounds": runs,
        "median": summary,
        "cheaper_per_request": cheaper,
    }
    (RESULTS / "servers.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({"median": summary, "cheaper_per_request": cheaper}, indent=2), flush=True)


if __name__ == "__main__":
    main()
