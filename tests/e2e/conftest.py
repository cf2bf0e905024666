"""The five SnapFix processes, started as real subprocesses against the real test stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.otlp import OtlpReceiver
from tests.stack import ROOT, Stack, free_port, wait_ready

APPS = ("gateway", "issues", "media", "notify", "analytics")
ADMIN = ("admin@city.example", "amber-walrus-93-fjord")


@dataclass
class System:
    urls: dict[str, str]
    traces: OtlpReceiver
    stack: Stack

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]


def _wait_ready(name: str, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    if not wait_ready(url, proc):
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
            "SNAPFIX_MEDIA_URL": urls["media"],
            "SNAPFIX_NOTIFY_URL": urls["notify"],
            "SNAPFIX_ANALYTICS_URL": urls["analytics"],
            "OTEL_EXPORTER_OTLP_ENDPOINT": traces.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "SNAPFIX_BOOTSTRAP_ADMIN_EMAIL": ADMIN[0],
            "SNAPFIX_BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
            "SNAPFIX_PUBLIC_BASE_URL": urls["gateway"],
            # Every test request comes from one address and a few users polling for results;
            # the limits themselves are tested on their own (integration and the test below).
            "SNAPFIX_RATE_LIMIT_USER": "2000/minute",
            "SNAPFIX_RATE_LIMIT_ANONYMOUS": "20000/minute",
            "SNAPFIX_RATE_LIMIT_TOKEN": "20000/minute",
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
