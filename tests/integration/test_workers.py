"""SNAPFIX_WORKERS: one service in two worker processes on one port, its metrics reported whole."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from snapfix_shared.tally import FLUSH_EVERY_S
from tests.stack import ROOT, Stack, free_port, process_env, wait_ready

pytestmark = pytest.mark.integration

REQUESTS = 60


def _workers(parent: int) -> list[int]:
    """The worker processes under ``parent`` (not multiprocessing's resource tracker)."""
    found = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True, check=False).stdout
    pids = [int(pid) for pid in found.split()]
    return [p for p in pids if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]


def _unmatched(metrics: str) -> float:
    pattern = r'snapfix_http_requests_total\{[^}]*route="unmatched"[^}]*status="404"[^}]*\} (\S+)'
    return sum(float(value) for value in re.findall(pattern, metrics))


def test_two_workers_share_the_port_and_metrics_count_every_request(stack: Stack, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = process_env(
        stack,
        port,
        {
            "SNAPFIX_WORKERS": "2",
            "OTEL_SERVICE_NAME": "snapfix-analytics-workers",
        },
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "analytics.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snapfix_analytics"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    try:
        if not wait_ready(url, proc):
            pytest.fail(f"analytics with two workers did not get ready:\n{log.read_text(errors='replace')[-3000:]}")
        deadline = time.monotonic() + 30
        while len(_workers(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _workers(proc.pid)
        assert len(workers) == 2, f"worker processes under {proc.pid}: {workers}"

        # A fresh connection per request, so the kernel spreads them over both workers.
        for _ in range(REQUESTS):
            assert httpx.get(f"{url}/no-such-path", timeout=5).status_code == 404
        # Whichever worker answers the scrape, it reports both workers' requests: its own at
        # once, the other's once that worker has flushed its tallies (every FLUSH_EVERY_S).
        deadline = time.monotonic() + 10 * FLUSH_EVERY_S
        while _unmatched(httpx.get(f"{url}/metrics", timeout=5).text) < REQUESTS and time.monotonic() < deadline:
            time.sleep(0.2)
        for _ in range(4):
            assert _unmatched(httpx.get(f"{url}/metrics", timeout=5).text) == REQUESTS
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
