"""The nginx edge (deploy/nginx) in front of two real gateway replicas, over real TLS.

Debian's nginx runs the rendered templates on free ports, with a local CA made by
openssl; two gateways and the issues service run as real processes on the test stack.
The last test kills one gateway with SIGKILL in the middle of a load of reads and keyed
POSTs, and counts what clients saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.builders import make_report_body
from tests.e2e.api import PASSWORD, eventually, mark_verified
from tests.e2e.test_media import photo, settled, upload
from tests.stack import ROOT, Stack, free_port, load_script, wait_caught_up, wait_ready

pytestmark = pytest.mark.e2e

CLIENTS = 32  # concurrent clients during the kill
LOAD_BEFORE_KILL_S = 3.0
LOAD_AFTER_KILL_S = 5.0


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


def _start(name: str, module: str, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    with (logs / f"{name}.log").open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def _fail_with_log(what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""
    pytest.fail(f"{what} (exit code {proc.poll()}):\n{tail}", pytrace=False)


@pytest.fixture(scope="module")
def edge_system(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeSystem]:
    logs = tmp_path_factory.mktemp("edge-apps")
    # Not under pytest's tmp folder: that is 0700, and nginx's workers (nobody) must reach this one.
    state = Path(tempfile.mkdtemp(prefix="snapfix-edge-"))  # render() opens it to nginx's workers
    ports = {"issues": free_port(), "media": free_port(), "gw-a": free_port(), "gw-b": free_port()}
    purge_port = free_port()
    nothing = f"http://127.0.0.1:{free_port()}"  # notify, analytics: not needed here
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
            https_port=free_port(),
            http_port=free_port(),
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
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)  # graceful: finish in-flight requests
            try:
                nginx.wait(timeout=15)
            except subprocess.TimeoutExpired:
                nginx.kill()
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(state, ignore_errors=True)


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


# --------------------------------------------------------------------------- TLS


def _handshake(system: EdgeSystem, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", system.edge.https_port), timeout=5)
    try:
        return context.wrap_socket(raw, server_hostname="localhost")
    except Exception:
        raw.close()
        raise


def test_a_tls_1_2_client_is_refused_at_the_handshake(edge_system: EdgeSystem) -> None:
    context = edge_system.tls(maximum=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ssl.SSLError, match=r"(?i)protocol|version|alert"):
        _handshake(edge_system, context).close()


def test_tls_1_3_is_negotiated_with_http2_over_alpn(edge_system: EdgeSystem) -> None:
    context = edge_system.tls()
    context.set_alpn_protocols(["h2", "http/1.1"])
    with _handshake(edge_system, context) as tls:
        assert tls.version() == "TLSv1.3"
        assert tls.selected_alpn_protocol() == "h2"


async def test_plain_http_is_redirected_to_https(edge_system: EdgeSystem) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{edge_system.edge.http_port}/v1/issues?x=1", json={})
    assert response.status_code == 308
    assert response.headers["location"] == f"{edge_system.url}/v1/issues?x=1"


# --------------------------------------------------------------------------- the HTTP layer


async def test_answers_carry_hsts_the_request_id_and_come_compressed_over_http2(edge_system: EdgeSystem) -> None:
    request_id = f"edge-test-{uuid4().hex}"
    async with edge_system.client() as client:
        response = await client.get("/v1/categories", headers={"x-request-id": request_id, "accept-encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.http_version == "HTTP/2"
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")
    assert response.headers.get_list("x-request-id") == [request_id]
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()  # httpx decoded it: a real gzip body
    logged = [e for e in edge_system.access_log() if e["request_id"] == request_id]
    assert [(e["path"], e["status"], e["tls"]) for e in logged] == [("/v1/categories", 200, "TLSv1.3")]
    assert logged[0]["upstream"] in edge_system.gateway_addrs.values()


async def test_public_gets_are_cached_and_signed_in_ones_never(edge_system: EdgeSystem) -> None:
    token = await _register(edge_system)
    async with edge_system.client() as anonymous, edge_system.client(token=token) as signed_in:
        first = await anonymous.get("/v1/categories")
        second = await anonymous.get("/v1/categories")
        mine = await signed_in.get("/v1/categories")
        me = await signed_in.get("/v1/me")
    assert first.headers["cache-control"].startswith("public")
    assert first.headers["x-cache-status"] in {"MISS", "HIT", "EXPIRED", "UPDATING", "REVALIDATED"}
    assert second.headers["x-cache-status"] == "HIT"
    assert second.json() == first.json()
    # The second request id is its own, not the cached answer's.
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert mine.headers["x-cache-status"] == "BYPASS"
    assert me.status_code == 200
    assert me.headers["x-cache-status"] == "BYPASS"


async def test_live_updates_stream_through_the_edge(edge_system: EdgeSystem) -> None:
    token = await _register(edge_system)
    async with (
        edge_system.client(token=token) as client,
        client.stream("GET", "/v1/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        lines: list[str] = []

        async def first_event() -> None:
            async for line in response.aiter_lines():
                lines.append(line)
                if line == "" and any(x.startswith("event:") for x in lines):
                    return

        # The gateway's first event is `ready`; a buffering proxy would hold it back.
        await asyncio.wait_for(first_event(), 10)
    assert "event: ready" in lines


def _raw_request(system: EdgeSystem, head: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request without a body over TLS; the edge must answer from the headers alone."""
    context = system.tls()
    with _handshake(system, context) as tls:
        tls.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < 10:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
    header_block, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_bodies_over_the_limits_are_refused_with_a_problem(edge_system: EdgeSystem) -> None:
    upload = f"/v1/media/{uuid4()}/upload?expires=1&signature=x"
    status, headers, body = _raw_request(
        edge_system,
        f"PUT {upload} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {17 * 1024 * 1024}\r\n"
        "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
    )
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 413
    # JSON endpoints take far less than a photo.
    status, _, _ = _raw_request(
        edge_system,
        f"POST /v1/issues HTTP/1.1\r\nHost: localhost\r\nContent-Length: {2 * 1024 * 1024}\r\n"
        "Content-Type: application/json\r\nConnection: close\r\n\r\n",
    )
    assert status == 413


@pytest.mark.parametrize("path", ["/metrics", "/readyz", "/livez"])
async def test_the_edge_does_not_publish_metrics_or_health(edge_system: EdgeSystem, path: str) -> None:
    async with edge_system.client() as client:
        response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_deleted_photo_is_purged_from_the_edge_cache(edge_system: EdgeSystem) -> None:
    """Variants are cached as immutable; the media service's purge makes a withdrawn photo 410 at once."""
    token = await _register(edge_system)
    async with edge_system.client(token=token) as reporter, edge_system.client() as anonymous:
        await mark_verified(edge_system.stack, (await reporter.get("/v1/me")).json()["id"])  # uploads need it
        media_id = await upload(reporter, photo("JPEG", (320, 240)))  # through the edge's upload location
        state = await eventually(reporter, f"/v1/media/{media_id}", settled)
        assert state["status"] == "processed", state
        variant = f"/v1/media/{media_id}/thumb.webp"
        assert (await anonymous.get(variant)).status_code == 200
        cached = await anonymous.get(f"{variant}?cache-buster=1")  # one copy per path, whatever the query
        assert cached.status_code == 200
        assert cached.headers["x-cache-status"] == "HIT"

        accepted = await reporter.post(
            "/v1/issues", json=make_report_body(media_ids=[media_id]), headers={"idempotency-key": str(uuid4())}
        )
        assert accepted.status_code == 202, accepted.text
        await eventually(reporter, accepted.headers["location"], lambda issue: issue["media_ids"] == [media_id])
        withdrawn = await reporter.post(
            f"{accepted.headers['location']}/transitions",
            json={"to": "withdrawn"},
            headers={"idempotency-key": str(uuid4())},
        )
        assert withdrawn.status_code == 202, withdrawn.text

        for _ in range(150):  # up to ~30 s: withdrawal -> MediaDeleted -> purge
            gone = await anonymous.get(variant)
            if gone.status_code != 200:
                break
            await asyncio.sleep(0.2)
    # Without the purge the edge would serve the cached photo for as long as it is asked for.
    assert gone.status_code == 410, (gone.status_code, gone.headers.get("x-cache-status"))
    assert gone.json()["status"] == 410
    # Every variant is purged (one after the other) through the internal listener, whose
    # answer tells the purger it is gone (204; logged under the /refresh hop it goes through).
    purged: set[str] = set()
    for _ in range(50):
        purged = {
            e["path"]
            for e in edge_system.access_log()
            if e["path"].startswith("/refresh/") and media_id in e["path"] and e["status"] == 204
        }
        if len(purged) == 6:
            break
        await asyncio.sleep(0.2)
    assert len(purged) == 6, purged
    async with edge_system.client() as anonymous:
        large = await anonymous.get(f"/v1/media/{media_id}/large.jpg")
    assert large.status_code == 410


# --------------------------------------------------------------------------- a gateway dies


@dataclass
class Tally:
    gets: int = 0
    get_failures: list[str] = field(default_factory=list)  # an error status: nginx did not hide the death
    gets_cut: list[str] = field(default_factory=list)  # the answer broke off mid-stream
    posts: int = 0
    post_first_failures: list[str] = field(default_factory=list)
    post_final_failures: list[str] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # title -> issue id


async def _worker(system: EdgeSystem, token: str, n: int, run: str, stop: asyncio.Event, tally: Tally) -> None:
    async with system.client(http2=n % 2 == 0, token=token) as client:
        i = 0
        while not stop.is_set():
            i += 1
            if i % 5 == 0:
                await _post_report(client, run, tally)
                continue
            path = "/v1/categories" if i % 2 else "/v1/me"  # through the gateway to issues, or the gateway alone
            tally.gets += 1
            try:
                response = await client.get(path)
                if response.status_code != 200:
                    tally.get_failures.append(f"GET {path} {response.status_code} {response.text[:120]}")
            except httpx.HTTPError as exc:
                tally.gets_cut.append(f"GET {path} {exc!r}")


async def _post_report(client: httpx.AsyncClient, run: str, tally: Tally) -> None:
    """A phone's report: one Idempotency-Key, retried like a phone would (same key, same body)."""
    key = str(uuid4())
    body = make_report_body(title=f"edge {run} {key}")
    tally.posts += 1
    for attempt in range(4):
        try:
            response = await client.post("/v1/issues", json=body, headers={"idempotency-key": key})
            outcome = f"{response.status_code} {response.text[:120]}"
            if response.status_code == 202:
                tally.accepted[body["title"]] = response.json()["id"]
                return
        except httpx.HTTPError as exc:
            outcome = repr(exc)
        if attempt == 0:
            tally.post_first_failures.append(f"POST {key}: {outcome}")
        await asyncio.sleep(0.5 * (attempt + 1))
    tally.post_final_failures.append(f"POST {key}: {outcome}")


async def test_killing_a_gateway_mid_load_fails_no_read_and_duplicates_no_report(edge_system: EdgeSystem) -> None:
    """Runs last in this module: it kills one of the two gateways."""
    tokens = await asyncio.gather(*(_register(edge_system) for _ in range(4)))
    run = uuid4().hex[:10]
    tally, stop = Tally(), asyncio.Event()
    log_mark = len(edge_system.access_log())
    workers = [
        asyncio.create_task(_worker(edge_system, tokens[n % len(tokens)], n, run, stop, tally)) for n in range(CLIENTS)
    ]
    await asyncio.sleep(LOAD_BEFORE_KILL_S)
    before_kill = tally.gets + tally.posts
    victim = edge_system.gateways["gw-a"]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    await asyncio.sleep(LOAD_AFTER_KILL_S)
    stop.set()
    await asyncio.gather(*workers)

    entries = edge_system.access_log()[log_mark:]
    served_by = Counter(e["upstream"] for e in entries if e["upstream"])
    retried = [e for e in entries if "," in e["upstream"]]  # "a, b": tried on one replica, then the other
    summary = (
        f"edge under a gateway kill: {CLIENTS} clients, {tally.gets} GETs "
        f"({len(tally.get_failures)} failed with a status, {len(tally.gets_cut)} cut mid-answer), "
        f"{tally.posts} keyed POSTs ({len(tally.post_first_failures)} failed at first, "
        f"{len(tally.post_final_failures)} still failed after 3 retries, {len(tally.accepted)} accepted); "
        f"{before_kill} requests before the kill; nginx retried {len(retried)} on the other replica; "
        f"served by: {dict(served_by)}"
    )
    print(summary)

    gw_a, gw_b = edge_system.gateway_addrs["gw-a"], edge_system.gateway_addrs["gw-b"]
    assert served_by[gw_a] > 0, summary  # both replicas took load before the kill
    assert served_by[gw_b] > 0, summary
    assert tally.gets > 0, summary
    assert tally.posts > 0, summary
    # Reads fail over transparently: refused and unanswered ones are retried on the other
    # replica, so no client sees an error status. Only an answer the killed replica was
    # already sending can break off (nginx cannot replay half an answer): a handful at most.
    assert tally.get_failures == [], summary + "\n" + "\n".join(tally.get_failures[:20])
    assert len(tally.gets_cut) <= 3, summary + "\n" + "\n".join(tally.gets_cut)
    # Only a POST in flight at the killed replica may fail (each client has one request in
    # flight at a time), and a phone's retries with the same key get through or are refused,
    # never stored twice (checked below).
    assert len(tally.post_first_failures) <= CLIENTS, summary
    assert len(tally.post_final_failures) <= CLIENTS, summary

    # No duplicates, no loss: every title (one per key) stored once; every accepted one stored.
    await wait_caught_up(edge_system.stack.kafka, "issues", "issues.commands.v1", timeout_s=60)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(edge_system.stack.mongo_url)
    try:
        cursor = mongo["snapfix_issues"]["reports"].find({"title": {"$regex": f"^edge {run} "}}, {"title": 1})
        stored = Counter([doc["title"] async for doc in cursor])
    finally:
        await mongo.close()
    duplicates = {title: n for title, n in stored.items() if n > 1}
    assert duplicates == {}, summary
    assert set(tally.accepted) <= set(stored), summary
