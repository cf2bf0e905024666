"""The gateway's edge cache: an anonymous read of an issue that its owner marked public is kept
for its max-age and served again without the routes; nothing else is kept or served from it.

A small Starlette app stands in for the routes and the owner behind them: it counts the
requests that reach it and answers with the headers each test gives it.
"""

from __future__ import annotations

import httpx
import pytest
from limits import parse
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from snapfix_gateway.accept_lane import AcceptLane
from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.edge_cache import ENTRY_OVERHEAD, ROUTE, Admit, EdgeCacheMiddleware, max_age
from snapfix_gateway.ratelimit import AnonymousLimit, Limiter, Policy, RateLimitMiddleware
from snapfix_shared.conditional import etag_matches
from snapfix_shared.tally import flush_all

pytestmark = pytest.mark.unit

ISSUE = "/v1/issues/01a214af-7a77-7585-be5b-41d730f90259"
OTHER = "/v1/issues/01a214af-7a77-7585-be5b-41d730f9025a"
PUBLIC = "public, max-age=5"


class Owner:
    """The routes behind the cache: answers ``status`` with ``cache_control``, counting reads."""

    def __init__(self, cache_control: str = PUBLIC, status: int = 200, body: bytes = b'{"status":"open"}') -> None:
        self.cache_control, self.status, self.body = cache_control, status, body
        self.reads: list[str] = []
        self.extra: dict[str, str] = {}

    async def issue(self, request: Request) -> Response:
        self.reads.append(request.url.path)
        headers = {"etag": f'"v{len(self.reads)}"', "cache-control": self.cache_control, **self.extra}
        return Response(self.body, status_code=self.status, media_type="application/json", headers=headers)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def edge(
    owner: Owner, clock: Clock, max_bytes: int = 1024 * 1024, admit: Admit | None = None, client: str = "203.0.113.9"
) -> tuple[httpx.AsyncClient, EdgeCacheMiddleware]:
    routes = Starlette(routes=[Route("/v1/issues/{issue_id}", owner.issue, methods=["GET", "POST"])])
    cache = EdgeCacheMiddleware(routes, max_bytes=max_bytes, admit=admit, timer=clock)
    transport = httpx.ASGITransport(app=cache, client=(client, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway"), cache


def anonymous_limit(limit: str) -> AnonymousLimit:
    """The anonymous limit, counted by a limiter that settles in Redis (never here: its settling is not
    started, and its Redis client is never connected): a hit never asks Redis."""
    limiter = Limiter(Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.1), settle_every_s=60)
    return AnonymousLimit(limiter, Policy("anonymous", parse(limit)))


async def test_an_anonymous_read_marked_public_is_served_again_from_memory_until_its_max_age() -> None:
    owner, clock = Owner(), Clock()
    client, _ = edge(owner, clock)
    async with client:
        first = await client.get(ISSUE)
        clock.now += 3
        second = await client.get(ISSUE)
        clock.now += 2.5  # 5.5 s after it was kept: past its max-age of 5
        third = await client.get(ISSUE)
    assert owner.reads == [ISSUE, ISSUE]  # the second read did not reach the routes
    assert (second.status_code, second.content, second.headers["etag"]) == (200, first.content, '"v1"')
    assert second.headers["cache-control"] == PUBLIC
    assert second.headers["age"] == "3"
    assert second.headers["content-type"] == "application/json"
    assert second.headers["vary"] == "Authorization"
    assert "age" not in first.headers
    assert third.headers["etag"] == '"v2"'


async def test_a_client_holding_the_kept_tag_gets_304_without_a_body() -> None:
    owner, clock = Owner(), Clock()
    client, _ = edge(owner, clock)
    async with client:
        await client.get(ISSUE)
        same = await client.get(ISSUE, headers={"if-none-match": 'W/"v1", "x"'})
        other = await client.get(ISSUE, headers={"if-none-match": '"old"'})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", '"v1"')
    assert "content-type" not in same.headers
    assert (other.status_code, other.content) == (200, owner.body)
    assert owner.reads == [ISSUE]


@pytest.mark.parametrize(
    ("cache_control", "status"),
    [
        ("private, no-cache", 200),  # a signed-in viewer's view
        ("public, max-age=0", 200),
        ("public", 200),  # no freshness given
        ("public, max-age=5, no-store", 200),
        ("", 200),
        (PUBLIC, 404),  # a problem is never kept, whatever it says
        (PUBLIC, 410),
    ],
)
async def test_an_answer_that_is_not_a_public_200_with_a_max_age_is_never_kept(cache_control: str, status: int) -> None:
    owner, clock = Owner(cache_control, status), Clock()
    client, cache = edge(owner, clock)
    async with client:
        answers = [await client.get(ISSUE) for _ in range(2)]
    assert owner.reads == [ISSUE, ISSUE]
    assert [a.status_code for a in answers] == [status, status]
    assert len(cache.kept) == 0


async def test_an_answer_setting_a_cookie_is_never_kept() -> None:
    owner, clock = Owner(), Clock()
    owner.extra = {"set-cookie": "session=1"}
    client, cache = edge(owner, clock)
    async with client:
        await client.get(ISSUE)
        await client.get(ISSUE)
    assert owner.reads == [ISSUE, ISSUE]
    assert len(cache.kept) == 0


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", ISSUE, {"authorization": "Bearer t"}),  # a signed-in viewer may see more
        ("GET", f"{ISSUE}?fields=all", {}),
        ("POST", ISSUE, {}),
        ("GET", "/v1/issues/not-an-id", {}),
    ],
)
async def test_signed_in_reads_queries_and_other_methods_always_reach_the_routes(
    method: str, path: str, headers: dict[str, str]
) -> None:
    owner, clock = Owner(), Clock()
    client, _ = edge(owner, clock)
    async with client:
        await client.get(ISSUE)  # kept for anonymous visitors
        for _ in range(2):
            await client.request(method, path, headers=headers)
    assert len(owner.reads) == 3


async def test_the_kept_bytes_are_bounded_least_recently_used_first_out() -> None:
    owner, clock = Owner(body=b"x" * 1000), Clock()
    client, cache = edge(owner, clock, max_bytes=2 * (1000 + ENTRY_OVERHEAD) + 10)
    third = "/v1/issues/01a214af-7a77-7585-be5b-41d730f9025b"
    async with client:
        for path in (ISSUE, OTHER, ISSUE, third):  # ISSUE used again: OTHER is the one dropped
            await client.get(path)
    assert set(cache.kept) == {ISSUE, third}
    assert cache.kept.currsize <= cache.kept.maxsize


async def test_a_cache_of_zero_bytes_is_off() -> None:
    owner, clock = Owner(), Clock()
    client, cache = edge(owner, clock, max_bytes=0)
    async with client:
        await client.get(ISSUE)
        await client.get(ISSUE)
    assert owner.reads == [ISSUE, ISSUE]
    assert not cache.enabled


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (b"public, max-age=5", 5),
        (b"max-age=30, Public", 30),
        (b"public, max-age=5, private", None),
        (b"public, no-cache, max-age=5", None),
        (b"public, max-age=abc", None),
        (b"private, max-age=5", None),
    ],
)
def test_only_a_public_max_age_is_read_as_shareable_freshness(value: bytes, seconds: int | None) -> None:
    assert max_age(value) == seconds


def test_if_none_match_compares_weakly_and_accepts_a_star() -> None:
    tag = '"abc"'
    assert etag_matches('"abc"', tag)
    assert etag_matches('W/"abc"', tag)
    assert etag_matches('"x", "abc"', tag)
    assert etag_matches("*", tag)
    assert not etag_matches('"abd"', tag)
    assert etag_matches('"abc"', 'W/"abc"')  # a weak tag of ours compares the same way


async def test_a_hit_carries_a_request_id_and_the_limit_it_was_counted_against() -> None:
    owner, clock = Owner(), Clock()
    client, _ = edge(owner, clock, admit=anonymous_limit("5/minute"))
    async with client:
        await client.get(ISSUE)
        given = await client.get(ISSUE, headers={"x-request-id": "trace-me-0001"})
        fresh = await client.get(ISSUE, headers={"x-request-id": "bad id"})
    assert owner.reads == [ISSUE]
    assert given.headers["x-request-id"] == "trace-me-0001"
    assert fresh.headers["x-request-id"] not in ("", "bad id")
    assert given.headers["ratelimit-policy"] == '"anonymous";q=5;w=60'
    # The first read went through (counted in Redis by the routes' middleware, absent here): 2 hits counted.
    assert given.headers["ratelimit"].startswith('"anonymous";r=4;')
    assert fresh.headers["ratelimit"].startswith('"anonymous";r=3;')


async def test_hits_past_the_anonymous_limit_are_refused_429_per_client_address() -> None:
    owner, clock = Owner(), Clock()
    client, cache = edge(owner, clock, admit=anonymous_limit("2/minute"))
    elsewhere_transport = httpx.ASGITransport(app=cache, client=("198.51.100.4", 50000))
    other = httpx.AsyncClient(transport=elsewhere_transport, base_url="http://gateway")
    async with client, other:
        await client.get(ISSUE)  # read through and kept
        hits = [await client.get(ISSUE) for _ in range(3)]
        elsewhere = await other.get(ISSUE)
    assert owner.reads == [ISSUE]
    assert [h.status_code for h in hits] == [200, 200, 429]
    refused = hits[2]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit"].startswith('"anonymous";r=0;')
    assert refused.headers["x-request-id"]
    assert elsewhere.status_code == 200  # another address has its own count


def _answered(service: str, status: int) -> tuple[float, float]:
    """How many answers of ``status`` the RED metrics counted for the issue route, and how many
    latencies they observed for it (all statuses)."""
    labels = {"service": service, "method": "GET", "route": ROUTE}
    flush_all()
    counted = REGISTRY.get_sample_value("snapfix_http_requests_total", labels | {"status": str(status)}) or 0.0
    timed = REGISTRY.get_sample_value("snapfix_http_request_duration_seconds_count", labels) or 0.0
    return counted, timed


async def test_answers_from_memory_are_counted_and_timed_as_the_routes_answers_are() -> None:
    owner, clock = Owner(), Clock()
    client, cache = edge(owner, clock, admit=anonymous_limit("2/minute"))
    async with client:
        await client.get(ISSUE)  # read through and kept: counted by the routes' middleware, absent here
        (hits, timed), (refused, _) = _answered(cache.service, 200), _answered(cache.service, 429)
        answers = [await client.get(ISSUE) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert _answered(cache.service, 200) == (hits + 2, timed + 3)
    assert _answered(cache.service, 429)[0] == refused + 1


def test_in_the_gateway_the_cache_is_outside_tracing_and_the_redis_rate_limit() -> None:
    app = create_app(GatewaySettings())
    stack = app.build_middleware_stack()
    assert isinstance(stack, EdgeCacheMiddleware)
    assert isinstance(stack.admit, AnonymousLimit)
    inner: object = stack.app
    layers: list[type] = []
    while inner is not None:
        layers.append(type(inner))
        inner = getattr(inner, "app", None)
    assert OpenTelemetryMiddleware in layers
    assert RateLimitMiddleware in layers
    assert EdgeCacheMiddleware not in layers  # kept answers are served once, from the outside
    # The accept lane decides on a report's trace before the tracing middleware would.
    assert layers.index(AcceptLane) < layers.index(OpenTelemetryMiddleware)
