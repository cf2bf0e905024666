"""A real gateway process (uvicorn) serving a build of the web app against the real stack: deep
links, cached assets and /config.json over HTTP, and paths that climb out of the build refused
as uvicorn hands them over (no client-side normalising)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.stack import ROOT, Stack, free_port, process_env

pytestmark = pytest.mark.integration

INDEX = (
    "<!doctype html><title>SnapFix</title><div id=root></div><script type=module src=/assets/index-Ab12.js></script>"
)


@pytest.fixture(scope="module")
def gateway(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("web")
    dist = home / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-Ab12.js").write_text("console.log('snapfix')")
    (home / "secret.txt").write_text("not for the web")
    port = free_port()
    env = process_env(
        stack,
        port,
        {
            "SNAPFIX_LIVE_UPDATES": "false",
            "SNAPFIX_WEB_DIST": str(dist),
            "SNAPFIX_WEB_TILE_URL": "https://tile.example.org/{z}/{x}/{y}.png",
            "OTEL_SERVICE_NAME": "snapfix-gateway-web",
        },
    )
    log = home / "gateway.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snapfix_gateway"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        if not _live(url, proc):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            pytest.fail(f"the gateway did not start at {url}:\n{tail}", pytrace=False)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            proc.kill()


def _live(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> bool:
    """Serving HTTP (/livez): the web app needs none of the gateway's dependencies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/livez", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def get(url: str, raw_path: bytes, method: str = "GET") -> httpx.Response:
    target = httpx.URL(url).copy_with(raw_path=raw_path)  # sent as written
    return httpx.request(method, target, timeout=10)


def test_a_deep_link_opens_the_app_with_its_headers(gateway: str) -> None:
    response = get(gateway, b"/issues/0192f1a2-7b3c-7d4e-8f90-123456789abc")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["cache-control"] == "no-cache"
    csp = response.headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://tile.example.org;" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    head = get(gateway, b"/staff", method="HEAD")
    assert head.status_code == 200
    assert head.content == b""


def test_assets_and_config_over_http(gateway: str) -> None:
    asset = get(gateway, b"/assets/index-Ab12.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert get(gateway, b"/assets/index-Zz99.js").headers["content-type"] == "application/problem+json"
    config = get(gateway, b"/config.json").json()
    assert config["tileUrl"] == "https://tile.example.org/{z}/{x}/{y}.png"
    assert config["defaultCenter"] == [12.9716, 77.5946]


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/assets/../../secret.txt",
        b"/assets/%2e%2e/%2e%2e/secret.txt",
        b"/../secret.txt",
        b"/assets/..%2f..%2fsecret.txt",
    ],
)
def test_climbing_out_of_the_build_is_refused(gateway: str, raw_path: bytes) -> None:
    response = get(gateway, raw_path)
    assert "not for the web" not in response.text
    assert response.status_code in {200, 400, 404}
    if response.status_code == 200:
        assert response.text == INDEX


def test_api_paths_are_still_the_api(gateway: str) -> None:
    missing = get(gateway, b"/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert get(gateway, b"/openapi.json").json()["paths"]
