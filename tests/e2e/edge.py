"""The nginx edge (deploy/nginx) in front of two real gateway replicas, over real TLS, for the e2e tests.

Debian's nginx runs the rendered templates on free ports, with a local CA made by openssl;
two gateways, the issues service and the media service run as real processes on the test stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.e2e.api import PASSWORD
from tests.stack import ROOT, Stack, free_ports, load_script, wait_ready

render = load_script("deploy/nginx/render.py", "snapfix_edge_render")


@dataclass
class EdgeSystem:
    edge: Any  # render.Edge
    stack: Stack
    gateways: dict[str, subprocess.Popen[bytes]]
    gateway_addrs: dict[str, str]
    logs: Path

    @property
    def url(self) -> str:
        return str(self.edge.url)

    def tls(self, *, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.edge.ca))
        if maximum is not None:
            context.maximum_version = maximum
        return context

    def client(self, *, http2: bool = True, token: str | None = None) -> httpx.AsyncClient:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, verify=self.tls(), http2=http2, timeout=20, headers=headers)

    def access_log(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.edge.access_log.read_text().splitlines() if line.strip()]

    def logged(self, request_id: str, *, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """The access log's entries of ``request_id``, once there: nginx writes a request's line
        after its answer has gone out, so the client can read the answer first."""
        deadline = time.monotonic() + timeout_s
        while True:
            entries = [e for e in self.access_log() if e["request_id"] == request_id]
            if entries or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)


def _start(name: str, module: str, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    with (logs / f"{name}.log").open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def _fail_with_log(what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""
    pytest.fail(f"{what} (exit code {proc.poll()}):\n{tail}", pytrace=False)


def _edge_ready(edge: Any, nginx: subprocess.Popen[bytes], timeout_s: float = 15) -> bool:
    context = ssl.create_default_context(cafile=str(edge.ca))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and nginx.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{edge.url}/healthz", verify=context, timeout=2).status_code == 200:
                return True
        time.sleep(0.1)
    return False


async def _register(system: EdgeSystem) -> str:
    """A new citizen, registered and signed in through the edge; returns the access token."""
    email = f"edge-{uuid4().hex[:10]}@example.org"
    async with system.client() as anonymous:
        body = {"email": email, "password": PASSWORD, "display_name": "Edge"}
        response = await anonymous.post("/v1/auth/register", json=body)
        assert response.status_code == 202, response.text
        response = await anonymous.post(
            "/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@contextlib.contextmanager
def running_edge(stack: Stack, logs: Path) -> Iterator[EdgeSystem]:
    """Start the issues and media services, two gateways and nginx in front of them (their logs in
    ``logs``); stop them all again, nginx gracefully."""
    # Not under pytest's tmp folder: that is 0700, and nginx's workers (nobody) must reach this one.
    state = Path(tempfile.mkdtemp(prefix="snapfix-edge-"))  # render() opens it to nginx's workers
    names = ("issues", "media", "gw-a", "gw-b", "purge", "nothing", "https", "http")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    purge_port = ports["purge"]
    nothing = f"http://127.0.0.1:{ports['nothing']}"  # notify, analytics: not needed here
    base_env = {
        **os.environ,
        "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
        "SNAPFIX_MONGO_URL": stack.mongo_url,
        "SNAPFIX_REDIS_URL": stack.redis_url,
        "SNAPFIX_ISSUES_URL": f"http://127.0.0.1:{ports['issues']}",
        "SNAPFIX_MEDIA_URL": f"http://127.0.0.1:{ports['media']}",
        "SNAPFIX_NOTIFY_URL": nothing,
        "SNAPFIX_ANALYTICS_URL": nothing,
        "OTEL_TRACES_EXPORTER": "none",
        # Both replicas must accept each other's tokens.
        "SNAPFIX_JWT_SECRET": "edge-test-" + uuid4().hex + uuid4().hex,
        # All the load comes from 127.0.0.1 and a few users; the limits are tested elsewhere.
        "SNAPFIX_RATE_LIMIT_USER": "100000/minute",
        "SNAPFIX_RATE_LIMIT_ANONYMOUS": "100000/minute",
        "SNAPFIX_RATE_LIMIT_TOKEN": "100000/minute",
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    nginx: subprocess.Popen[bytes] | None = None
    try:
        procs["issues"] = _start(
            "issues", "snapfix_issues", {**base_env, "SNAPFIX_HTTP_PORT": str(ports["issues"])}, logs
        )
        media_env = {
            **base_env,
            "SNAPFIX_HTTP_PORT": str(ports["media"]),
            # Deleted photos are purged from this edge's cache.
            "SNAPFIX_CDN_PURGE_URL": f"http://127.0.0.1:{purge_port}{{path}}",
        }
        procs["media"] = _start("media", "snapfix_media", media_env, logs)
        edge = render.render(
            state,
            gateways=[f"127.0.0.1:{ports['gw-a']}", f"127.0.0.1:{ports['gw-b']}"],
            https_port=ports["https"],
            http_port=ports["http"],
            purge_port=purge_port,
            rate="100000r/s",
            burst=100000,
        )
        for name in ("gw-a", "gw-b"):
            env = {**base_env, "SNAPFIX_HTTP_PORT": str(ports[name]), "SNAPFIX_PUBLIC_BASE_URL": edge.url}
            procs[name] = _start(name, "snapfix_gateway", env, logs)
        for name, proc in procs.items():
            if not wait_ready(f"http://127.0.0.1:{ports[name]}", proc, timeout_s=180):
                _fail_with_log(f"{name} did not become ready", proc, logs / f"{name}.log")
        render.check(edge)
        with (logs / "nginx.log").open("wb") as out:
            nginx = subprocess.Popen(edge.command(), stdout=out, stderr=subprocess.STDOUT)
        if not _edge_ready(edge, nginx):
            _fail_with_log("nginx did not start", nginx, edge.error_log)
        yield EdgeSystem(
            edge=edge,
            stack=stack,
            gateways={n: procs[n] for n in ("gw-a", "gw-b")},
            gateway_addrs={n: f"127.0.0.1:{ports[n]}" for n in ("gw-a", "gw-b")},
            logs=logs,
        )
    finally:
        _stop(nginx, list(procs.values()))
        shutil.rmtree(state, ignore_errors=True)


def _stop(nginx: subprocess.Popen[bytes] | None, procs: list[subprocess.Popen[bytes]]) -> None:
    """nginx gracefully (it finishes in-flight requests), then the services, each killed if it hangs."""
    if nginx is not None:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=15)
        except subprocess.TimeoutExpired:
            nginx.kill()
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
