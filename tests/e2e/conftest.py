"""The five SnapFix processes, started as real subprocesses against the real test stack."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import pytest

from snapfix_shared.topics import Topic
from tests.mailbox import Mailbox
from tests.otlp import OtlpReceiver
from tests.stack import ROOT, Stack, free_ports, start_groups_at_end, wait_ready

APPS = ("gateway", "issues", "media", "notify", "analytics")
ADMIN = ("admin@city.example", "amber-walrus-93-fjord")
GRACE_S = 45
# Settings that are safe by default and that these tests turn off on purpose: the tests'
# webhook receiver is plain http on loopback.
OPT_INS = {"notify": {"SNAPFIX_WEBHOOK_HTTPS_ONLY": "false", "SNAPFIX_WEBHOOK_ALLOW_PRIVATE": "true"}}


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
def mailbox() -> Iterator[Mailbox]:
    """The SMTP server (aiosmtpd on loopback) the notify process sends its email to."""
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def system(stack: Stack, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[System]:
    notify_groups = (f"notify-users-e2e-{uuid4().hex[:8]}", f"notify-issues-e2e-{uuid4().hex[:8]}")
    # The other event consumers that would otherwise replay every earlier test's events first
    # (analytics takes minutes over them on FerretDB): this session's groups start at the end.
    session_groups = {
        "analytics": {"SNAPFIX_CONSUMER_GROUP": f"analytics-issues-e2e-{uuid4().hex[:8]}"},
        "notify": {"SNAPFIX_WEBHOOKS_GROUP": f"notify-webhooks-e2e-{uuid4().hex[:8]}"},
    }
    groups = {notify_groups[0]: Topic.USERS_EVENTS, notify_groups[1]: Topic.ISSUES_EVENTS}
    groups |= {group: Topic.ISSUES_EVENTS for extra in session_groups.values() for group in extra.values()}
    with ThreadPoolExecutor(1) as pool:  # its own event loop, whatever runs in this thread
        pool.submit(asyncio.run, start_groups_at_end(stack.kafka, groups)).result(timeout=60)
    logs = tmp_path_factory.mktemp("apps")
    ports = dict(zip(APPS, free_ports(len(APPS)), strict=True))
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
            # Every trace kept: the trace tests follow one action across every process.
            "OTEL_TRACES_SAMPLER": "always_on",
            "SNAPFIX_BOOTSTRAP_ADMIN_EMAIL": ADMIN[0],
            "SNAPFIX_BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
            "SNAPFIX_PUBLIC_BASE_URL": urls["gateway"],
            # The gateway serves the web app (web/dist, built by make test) on its own origin: e-mailed links
            # open its pages (verify, reset, issues, unsubscribe), as under make run.
            "SNAPFIX_WEB_BASE_URL": urls["gateway"],
            # Every test request comes from one address and a few users polling for results;
            # the limits themselves are tested on their own (integration and the test below).
            "SNAPFIX_RATE_LIMIT_USER": "20000/minute",
            "SNAPFIX_RATE_LIMIT_ANONYMOUS": "20000/minute",
            "SNAPFIX_RATE_LIMIT_TOKEN": "20000/minute",
            "SNAPFIX_RATE_LIMIT_EXPORT": "2000/minute",
            # As in development (`make run`): citizens report and upload before verifying their address.
            # test_media_verified.py starts a gateway of its own with the setting on.
            "SNAPFIX_REQUIRE_VERIFIED_EMAIL": "false",
            "NOTIFY_SMTP_HOST": mailbox.host,
            "NOTIFY_SMTP_PORT": str(mailbox.port),
            # Notify's groups start at the topics' ends (committed above): it hears this session, not the
            # stack's whole history (thousands of earlier tests' events would be notified first).
            "SNAPFIX_NOTIFY_USERS_GROUP": notify_groups[0],
            "SNAPFIX_NOTIFY_ISSUES_GROUP": notify_groups[1],
        }
        system = System(urls, traces, stack, procs=procs, logs=logs)
        try:
            for app in APPS:
                system.envs[app] = {
                    **base_env,
                    **session_groups.get(app, {}),
                    **OPT_INS.get(app, {}),
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
            # As long as a deployment waits (terminationGracePeriodSeconds in deploy/k8s): an
            # in-flight batch may be retrying a transient failure (up to 30 s) before it commits.
            for app, proc in procs.items():
                try:
                    proc.wait(timeout=GRACE_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    pytest.fail(f"{app} did not stop within {GRACE_S}s of SIGTERM", pytrace=False)
