"""The nginx edge (deploy/nginx) in front of two real gateway replicas, over real TLS: TLS 1.3 and
HTTP/2 only, HSTS and compression, what is cached and what never is, live updates through it,
body limits, no metrics or health outside, and deleted photos purged from its cache.

The edge and its processes are tests/e2e/edge.py's.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest

from tests.builders import make_report_body
from tests.e2e.api import eventually, mark_verified
from tests.e2e.edge import EdgeSystem, _register, running_edge
from tests.e2e.test_media import photo, settled, upload
from tests.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def edge_system(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeSystem]:
    with running_edge(stack, tmp_path_factory.mktemp("edge-apps")) as system:
        yield system


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
    logged = edge_system.logged(request_id)
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
