"""The gateway serves the built web app next to the API: deep links, cached assets, /config.json,
its security headers; API paths keep their problem+json 404 and 405 and the OpenAPI document
never names the app's routes. A temporary build stands in for web/dist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.web import csp_source

pytestmark = pytest.mark.unit

INDEX = (
    "<!doctype html><title>SnapFix</title><div id=root></div><script type=module src=/assets/index-Ab12.js></script>"
)
SCRIPT = "console.log('snapfix')"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    build = tmp_path / "dist"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text(INDEX)
    (build / "assets" / "index-Ab12.js").write_text(SCRIPT)
    (build / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("not for the web")  # next to the build, never served
    return build


def settings(dist: Path | None, **extra: object) -> GatewaySettings:
    # Nothing listens on port 1: rate limits are counted in memory. No other I/O here.
    return GatewaySettings(
        redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.2, live_updates=False, web_dist=dist, **extra
    )


async def client(gateway_settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(gateway_settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


@pytest.fixture
async def gw(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    tiles = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    async for http in client(settings(dist, web_tile_url=tiles, web_tile_attribution="© Tiles")):
        yield http


@pytest.mark.parametrize("path", ["/", "/issues/0192f1a2-7b3c-7d4e-8f90-123456789abc", "/staff", "/index.html"])
async def test_every_page_of_the_app_is_its_index_never_cached(gw: httpx.AsyncClient, path: str) -> None:
    response = await gw.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    assert "connect-src 'self' https://*.tile.example.org;" in csp
    assert "img-src 'self' data: blob: https://*.tile.example.org;" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"]


async def test_head_of_a_page_has_no_body(gw: httpx.AsyncClient) -> None:
    response = await gw.head("/issues/x")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == len(INDEX)


async def test_hashed_assets_are_cached_for_good_and_revalidate(gw: httpx.AsyncClient) -> None:
    response = await gw.get("/assets/index-Ab12.js")
    assert response.status_code == 200
    assert response.text == SCRIPT
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = await gw.get("/assets/index-Ab12.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_a_missing_asset_is_a_problem_not_the_index(gw: httpx.AsyncClient) -> None:
    response = await gw.get("/assets/index-Gone.js")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


@pytest.mark.parametrize("path", ["/assets/index-Ab12.js.map", "/assets/index-Ab12.JS.MAP", "/stray.js.map"])
async def test_source_maps_are_never_served_even_when_present(gw: httpx.AsyncClient, dist: Path, path: str) -> None:
    (dist / "assets" / "index-Ab12.js.map").write_text('{"version":3,"sources":["src/secret.ts"]}')
    (dist / "stray.js.map").write_text('{"version":3,"sources":["src/secret.ts"]}')
    for method in (gw.get, gw.head):
        response = await method(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert b"secret" not in response.content
    assert (await gw.get("/assets/index-Ab12.js")).text == SCRIPT  # the script itself still is


async def test_files_at_the_root_of_the_build_are_served_and_revalidated(gw: httpx.AsyncClient) -> None:
    response = await gw.get("/favicon.svg")
    assert response.status_code == 200
    assert response.text.startswith("<svg")
    assert response.headers["cache-control"] == "no-cache"


async def test_config_json_names_the_map(gw: httpx.AsyncClient) -> None:
    response = await gw.get("/config.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.json() == {
        "tileUrl": "https://{s}.tile.example.org/{z}/{x}/{y}.png",
        "tileAttribution": "© Tiles",
        "defaultCenter": [12.9716, 77.5946],
        "defaultZoom": 12,
    }


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/assets/../../secret.txt",
        b"/assets/..%2f..%2fsecret.txt",
        b"/assets/%2e%2e/%2e%2e/secret.txt",
        b"/..%2fsecret.txt",
        b"/assets//etc/passwd",
        b"/%2fetc%2fpasswd",
    ],
)
async def test_paths_out_of_the_build_are_refused(gw: httpx.AsyncClient, raw_path: bytes) -> None:
    url = httpx.URL("http://gateway").copy_with(raw_path=raw_path)  # as sent: no client-side normalising
    response = await gw.get(url)
    assert "not for the web" not in response.text
    assert "root:" not in response.text
    assert response.status_code in {200, 404}
    if response.status_code == 200:  # a page of the app's, never the file asked for
        assert response.text == INDEX


@pytest.mark.parametrize("path", ["/v1/no-such-thing", "/open311/v2/nothing", "/metrics/x", "/docs/x"])
async def test_api_paths_keep_their_problem_404(gw: httpx.AsyncClient, path: str) -> None:
    response = await gw.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "content-security-policy" not in response.headers


async def test_api_405_is_unchanged_and_app_pages_take_only_get(gw: httpx.AsyncClient) -> None:
    api = await gw.delete("/v1/auth/token")
    assert api.status_code == 405
    assert "POST" in api.headers["allow"]
    page = await gw.post("/issues/x", json={})
    assert page.status_code == 405
    assert page.headers["allow"] == "GET, HEAD"
    assert page.headers["content-type"] == "application/problem+json"


async def test_the_openapi_document_does_not_name_the_app(gw: httpx.AsyncClient) -> None:
    served = (await gw.get("/openapi.json")).json()
    assert not [p for p in served["paths"] if not p.startswith(("/v1/", "/open311/"))]
    async for plain in client(settings(None)):
        assert (await plain.get("/openapi.json")).json() == served


@pytest.mark.usefixtures("dist")
async def test_without_a_build_the_root_is_the_api_404() -> None:
    async for http in client(settings(None)):
        response = await http.get("/issues/x")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


def test_a_dist_without_index_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"holds no index\.html"):
        settings(tmp_path)


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "https://*.tile.openstreetmap.org"),
        ("https://tiles.example.org:8443/style.json", "https://tiles.example.org:8443"),
    ],
)
def test_map_hosts_become_csp_sources(url: str, source: str) -> None:
    assert csp_source(url) == source


@pytest.mark.parametrize(
    "url", ["ftp://x.example/a", "https://tiles.{s}.example/{z}", "/relative/{z}", "https://x.example;"]
)
def test_map_urls_a_policy_cannot_name_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"URL|placeholder|port"):
        settings(None, web_tile_url=url)
