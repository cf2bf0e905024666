"""The five SnapFix processes, started as real subprocesses against the real test stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    envs: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: Path | None = None

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]

    def spawn(self, app: str) -> None:
        assert self.logs is not None
        with (self.logs / f"{app}.log").open("ab") as out:
            self.procs[app] = subprocess.Popen(
                [sys.executable, "-m", f"snapfix_{app}"],
                env=self.envs[app],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    def wait_ready(self, app: str) -> None:
        assert self.logs is not None
        _wait_ready(app, self.urls[app], self.procs[app], self.logs / f"{app}.log")

    def stop(self, app: str, sig: signal.Signals = signal.SIGTERM) -> None:
        """Take one process down (outage tests); ``start`` brings it back on the same port."""
        proc = self.procs[app]
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def start(self, app: str) -> None:
        self.spawn(app)
        self.wait_ready(app)


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
        system = System(urls, traces, stack, procs=procs, logs=logs)
        try:
            for app in APPS:
                system.envs[app] = {
                    **base_env,
                    "SNAPFIX_HTTP_PORT": str(ports[app]),
                    "OTEL_SERVICE_NAME": f"snapfix-{app}",
                }
                system.spawn(app)
            for app in APPS:
                system.wait_ready(app)
            yield system
        finally:
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
            for app, proc in procs.items():
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    pytest.fail(f"{app} did not stop within 20s of SIGTERM", pytrace=False)
