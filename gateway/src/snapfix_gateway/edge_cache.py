"""Public answers kept at the edge: an anonymous visitor's read of an issue, served as stored bytes.

The issues service marks the detail view an anonymous visitor gets ``Cache-Control: public,
max-age=N`` (a few seconds: it is every anonymous visitor's view), with its ``ETag``. This
middleware keeps such answers, for their max-age, in a byte-bounded time-aware LRU
(``cachetools.TLRUCache``) of this process, and answers the next anonymous reads of the same
issue from it. A client that holds the ETag gets 304. A kept answer carries ``Age`` (RFC 9111),
so a cache downstream knows how fresh it still is.

It is the process's outermost layer, as the nginx edge's micro-cache is in front of the
gateways: a hit is answered before tracing, the rate-limit and idempotency middleware, routing,
dependencies and the call to the issues service. A hit still counts against the anonymous
limit, by the same limiter as every request (``admit``: ``ratelimit.AnonymousLimit``; past it,
429, and no Redis round trip unless the limiter is set to ask Redis per request), and
carries the ``RateLimit`` headers and an ``X-Request-ID``; it is counted in the request
metrics under the route's template. It records no span: it touches nothing a trace would show.

What is never kept or served from here:
- a request with ``Authorization`` (a signed-in viewer may see more: their own report, staff's
  view) or with a query string;
- an answer that is not a public 200 with a max-age (private views, 404, 410, problems),
  or that sets a cookie.

A change to the issue is seen by anonymous visitors within the max-age the owner chose, as
behind nginx or a CDN; signed-in viewers always read through to the owner.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import TLRUCache
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapfix_gateway.request_id import HEADER as REQUEST_ID
from snapfix_gateway.request_id import request_id_of
from snapfix_gateway.sending import adding_headers
from snapfix_shared.conditional import etag_matches
from snapfix_shared.http_metrics import record

# The issue detail route: its path, and the template the request metrics name it by.
CACHED_PATH = re.compile(r"/v1/issues/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ROUTE = "/v1/issues/{issue_id}"
# What one kept answer costs beyond its body (the entry, its headers, the key).
ENTRY_OVERHEAD = 512

# Counts a hit against a limit: the headers to send when admitted; None when refused (and answered).
Admit = Callable[[Scope, Send], Awaitable[list[tuple[bytes, bytes]] | None]]

EDGE_CACHE = Counter(
    "snapfix_gateway_edge_cache_total",
    "Anonymous issue reads: served from the edge cache (hit, revalidated) or read through (miss, kept)",
    ["outcome"],
)
HIT, REVALIDATED, MISS, KEPT = (EDGE_CACHE.labels(outcome) for outcome in ("hit", "revalidated", "miss", "kept"))


@dataclass(frozen=True)
class Kept:
    body: bytes
    etag: bytes
    cache_control: bytes
    content_type: bytes
    stored_at: float
    max_age_s: int


def max_age(cache_control: bytes) -> int | None:
    """The max-age of a ``public`` answer a shared cache may keep; None for any other."""
    directives = {d.strip().lower() for d in cache_control.decode("latin-1").split(",")}
    if "public" not in directives or directives & {"private", "no-store", "no-cache"}:
        return None
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age" and value.strip().isdigit():
            seconds = int(value.strip())
            return seconds if seconds > 0 else None
    return None


class EdgeCacheMiddleware:
    """Pure ASGI: a hit is answered without the routes below it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        admit: Admit | None = None,
        timer: Callable[[], float] = time.monotonic,
        service: str = "gateway",
    ) -> None:
        self.app, self.admit, self.timer, self.service = app, admit, timer, service
        self.enabled = max_bytes > 0
        self.kept: TLRUCache[str, Kept] = TLRUCache(
            maxsize=max(1, max_bytes),
            ttu=lambda _key, kept, _now: kept.stored_at + kept.max_age_s,
            timer=timer,
            getsizeof=lambda kept: len(kept.body) + ENTRY_OVERHEAD,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        kept = self.kept.get(path)
        if kept is None:
            MISS.inc()
            await self.app(scope, receive, self._keeping(path, send))
            return
        start = time.perf_counter()
        headers = [(REQUEST_ID, request_id_of(scope).encode())]
        if self.admit is not None:
            admitted = await self.admit(scope, adding_headers(send, headers))
            if admitted is None:  # refused: answered 429
                record(self.service, "GET", ROUTE, 429, time.perf_counter() - start)
                return
            headers += admitted
        status = self._answer(kept, scope)
        headers += self._headers(kept, status)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": kept.body if status == 200 else b""})
        (HIT if status == 200 else REVALIDATED).inc()
        record(self.service, "GET", ROUTE, status, time.perf_counter() - start)

    def _cacheable(self, scope: Scope) -> bool:
        if not self.enabled or scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]:
            return False
        if not CACHED_PATH.fullmatch(scope["path"]):
            return False
        return not any(name == b"authorization" for name, _ in scope["headers"])

    @staticmethod
    def _answer(kept: Kept, scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                return 304 if etag_matches(value.decode("latin-1"), kept.etag.decode("latin-1")) else 200
        return 200

    def _headers(self, kept: Kept, status: int) -> list[tuple[bytes, bytes]]:
        age = max(0, int(self.timer() - kept.stored_at))
        headers = [
            (b"etag", kept.etag),
            (b"cache-control", kept.cache_control),
            (b"vary", b"Authorization"),
            (b"age", str(age).encode()),
        ]
        if status == 200:
            headers += [(b"content-type", kept.content_type), (b"content-length", str(len(kept.body)).encode())]
        return headers

    def _keeping(self, path: str, send: Send) -> Send:
        """``send``, keeping the answer when it is a public 200 with a max-age."""
        start: dict[bytes, bytes] = {}
        chunks: list[bytes] = []
        keep = False

        async def keeping(message: Message) -> None:
            nonlocal keep
            if message["type"] == "http.response.start":
                start.update((k.lower(), v) for k, v in message.get("headers", []))
                keep = message["status"] == 200 and b"etag" in start and b"set-cookie" not in start
            elif message["type"] == "http.response.body" and keep:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._keep(path, start, b"".join(chunks))
            await send(message)

        return keeping

    def _keep(self, path: str, headers: dict[bytes, bytes], body: bytes) -> None:
        seconds = max_age(headers.get(b"cache-control", b""))
        if seconds is None:
            return
        kept = Kept(
            body=body,
            etag=headers[b"etag"],
            cache_control=headers[b"cache-control"],
            content_type=headers.get(b"content-type", b"application/json"),
            stored_at=self.timer(),
            max_age_s=seconds,
        )
        try:
            self.kept[path] = kept
        except ValueError:  # larger than the whole cache: served, not kept
            return
        KEPT.inc()
