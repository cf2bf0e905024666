"""The web app (``web/``, built by ``npm run build`` into ``web/dist``), served by the gateway next to the API.

One origin for the app and the API: no CORS, and the app's session cookie-free Bearer calls go
to ``/v1`` as they are. ``WebMiddleware`` answers GET and HEAD for every path that is not the
API's (the first segments of the app's own routes: ``/v1``, ``/open311``, ``/livez``,
``/readyz``, ``/metrics``, ``/docs``, ``/redoc``, ``/openapi.json``); API paths go on untouched,
so their 404 and 405 stay problem+json and the OpenAPI document never names these routes.

- ``/config.json``: what the app's map shows and where it opens (settings, read at start);
- ``/assets/…``: Vite's content-hashed files, cached for a year (``immutable``); a missing one
  is a 404 (a stale page's chunk must fail, not parse the app's HTML as JavaScript);
- another file at the root of the build (Vite copies ``public/`` there): served, revalidated;
- anything else: ``index.html`` (``no-cache``), so that deep links (``/issues/<id>``, ``/staff``)
  open the app, which routes them itself;
- a source map (``….map``), anywhere: never served (a 404 problem), even when a build holds one:
  the build leaves them out (``vite.config.ts``), and this keeps one left behind private.

Files are served by Starlette's ``StaticFiles``, which refuses paths out of its directory.
Every answer carries a strict Content-Security-Policy (scripts, styles, fonts and fetches from
this origin only; images also from ``data:``, ``blob:`` and the configured map hosts; no
framing), ``Referrer-Policy: no-referrer`` and ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from stat import S_ISREG
from typing import Any
from urllib.parse import urlsplit

import anyio
import orjson
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapfix_shared.problems import send_problem

# The API's first path segments, whatever routes exist yet (the app's own routes are added to these).
API_SEGMENTS = frozenset({"v1", "open311", "livez", "readyz", "healthz", "metrics", "docs", "redoc", "openapi.json"})
IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
_HOST_LABEL = re.compile(r"^[A-Za-z0-9-]+$")


def csp_source(url: str) -> str:
    """The Content-Security-Policy source naming ``url``'s origin; a ``{s}``-style subdomain
    placeholder (``https://{s}.tile.example/...``) becomes ``*.``. ValueError when it cannot be named."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    if parts.scheme not in {"http", "https"} or not host:
        raise ValueError(f"{url!r} is not an http(s) URL")
    name, colon, port = host.partition(":")
    labels = name.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    if not all(_HOST_LABEL.match(label) for label in labels[1 if labels[0] == "*" else 0 :]):
        raise ValueError(f"{url!r}: only the host's first label may be a placeholder such as {{s}}")
    if colon and not port.isdigit():
        raise ValueError(f"{url!r}: the port must be a number")
    return f"{parts.scheme}://{'.'.join(labels)}{colon}{port}"


def security_headers(map_urls: Iterable[str | None]) -> list[tuple[bytes, bytes]]:
    hosts = sorted({csp_source(url) for url in map_urls if url})
    extra = "".join(f" {host}" for host in hosts)
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob:{extra}",
            "font-src 'self'",
            f"connect-src 'self'{extra}",  # a vector map's style and tiles are fetched
            "worker-src 'self' blob:",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return [
        (b"content-security-policy", policy.encode()),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
    ]


class WebApp:
    """The built app's files and its ``/config.json``, as one ASGI app (GET and HEAD)."""

    def __init__(self, dist: Path, config: dict[str, Any], map_urls: Iterable[str | None] = ()) -> None:
        self.root = StaticFiles(directory=dist)
        self.assets = StaticFiles(directory=dist / "assets", check_dir=False)
        self.config = orjson.dumps(config)
        self.headers = security_headers(map_urls)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path == "/config.json":
            response = Response(self.config, media_type="application/json")
            await response(scope, receive, self._with_headers(send, REVALIDATE))
            return
        if path.lower().endswith(".map"):
            await send_problem(scope, send, 404, "Not Found", "Source maps are not published.")
            return
        if path.startswith("/assets/"):
            served = await self._file(self.assets, path.removeprefix("/assets/"), scope)
            if served is None:
                await send_problem(scope, send, 404, "Not Found", "No such file in this build of the app.")
                return
            await served(scope, receive, self._with_headers(send, IMMUTABLE))
            return
        relative = path.lstrip("/")
        served = await self._file(self.root, relative, scope) if relative != "index.html" else None
        if served is None:  # a route of the app's own: the app reads the path
            served = await self._file(self.root, "index.html", scope)
        if served is None:
            detail = "The web app's index.html is missing (being rebuilt?); try again shortly."
            await send_problem(scope, send, 503, "Service Unavailable", detail, headers=[(b"retry-after", b"5")])
            return
        await served(scope, receive, self._with_headers(send, REVALIDATE))

    @staticmethod
    async def _file(files: StaticFiles, relative: str, scope: Scope) -> Response | None:
        """The file's answer (200, or 304 to a matching ``If-None-Match``), None when there is no such
        file: ``StaticFiles.lookup_path`` refuses anything that resolves outside its directory."""
        normalised = posixpath.normpath(relative) if relative else ""
        if not normalised or normalised.startswith(("..", "/")):
            return None
        full_path, stat = await anyio.to_thread.run_sync(files.lookup_path, normalised)
        if stat is None or not S_ISREG(stat.st_mode):
            return None
        return files.file_response(full_path, stat, scope)

    def _with_headers(self, send: Send, cache_control: bytes) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message["headers"] = [*headers, (b"cache-control", cache_control), *self.headers]
            await send(message)

        return sending


class WebMiddleware:
    """GET and HEAD of a path that is not the API's go to the web app; a path of the app's takes no
    other method (405). API paths go on to the routes untouched."""

    def __init__(self, app: ASGIApp, *, web: WebApp, routes: Callable[[], Iterable[str]]) -> None:
        self.app, self.web, self.routes = app, web, routes
        self._api: frozenset[str] | None = None

    def is_api(self, path: str) -> bool:
        if self._api is None:  # the routes are all included once the first request arrives
            self._api = API_SEGMENTS | {route.split("/")[1] for route in self.routes() if route.startswith("/")}
        return path.split("/", 2)[1] in self._api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_api(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["method"] not in {"GET", "HEAD"}:
            detail = f"{scope['method']} is not allowed here; the web app's pages take GET, HEAD."
            await send_problem(scope, send, 405, "Method Not Allowed", detail, headers=[(b"allow", b"GET, HEAD")])
            return
        await self.web(scope, receive, send)
