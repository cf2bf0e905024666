"""The five SnapFix processes, started as real subprocesses against the real test stack."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.otlp import OtlpReceiver
from tests.stack import ROOT, Stack

APPS = ("gateway", "issues", "media", "notify", "analytics")


@dataclass
class System:
    urls: dict[str, str]
    traces: OtlpReceiver
    stack: Stack

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(name: str, url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    pytest.fail(f"{name} did not become ready at {url} (exit code {proc.poll()}):\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def system(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    logs = tmp_path_factory.mktemp("apps")
    ports = {app: free_port() for app in APPS}
    urls = {app: f"http://127.0.0.1:{port}" for app, port in ports.items()}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    with OtlpReceiver() as traces:
        base_env = {
            **os.environ,
            "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
            "SNAPFIX_MONGO_URL": stack.mongo_url,
            "SNAPFIX_REDIS_URL": stack.redis_url,
            "SNAPFIX_ISSUES_URL": urls["issues"],
            "OTEL_EXPORTER_OTLP_ENDPOINT": traces.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        try:
            for app in APPS:
                env = {**base_env, "SNAPFIX_HTTP_PORT": str(ports[app]), "OTEL_SERVICE_NAME": f"snapfix-{app}"}
                with (logs / f"{app}.log").open("wb") as out:
                    procs[app] = subprocess.Popen(
                        [sys.executable, "-m", f"snapfix_{app}"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=ROOT,
                    )
            for app in APPS:
                _wait_ready(app, urls[app], procs[app], logs / f"{app}.log")
            yield System(urls, traces, stack)
        finally:
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
            for app, proc in procs.items():
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    pytest.fail(f"{app} did not stop within 20s of SIGTERM", pytrace=False)
