"""Every Redis use against a real 3-master Redis Cluster (``SNAPFIX_REDIS_CLUSTER=true``).

The local stack starts the cluster for the test profile (``stack.py up --redis-cluster``
elsewhere) and names a seed node in ``SNAPFIX_REDIS_CLUSTER_URL``. Each test also checks
that the keys it wrote really are in the cluster, so a silent fallback (the rate limiter's
local memory, a swallowed error in a cache) cannot pass for success.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from urllib.parse import urlparse
from uuid import uuid4

import httpx
import pytest
from limits import parse
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from snapfix_gateway.identity import sessions as sessions_module
from snapfix_gateway.identity.revocations import Revocations, announce
from snapfix_gateway.identity.sessions import RefreshRejected, Sessions
from snapfix_gateway.ratelimit import Limiter, Policy
from snapfix_issues.cache import CachedIssue, IssueCache, generation_key, issue_key
from snapfix_issues.readmodel import ReadModel, geo_keys
from snapfix_issues.records import new_report
from snapfix_shared.messages import Location
from snapfix_shared.redis_client import redis_client
from snapfix_shared.settings import RedisSettings
from tests.builders import make_report_command
from tests.integration.gateway_app import PASSWORD, bearer, gateway_settings, new_email, running
from tests.stack import Stack, _env_file_values, _reachable

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster_url() -> str:
    url = os.environ.get("SNAPFIX_REDIS_CLUSTER_URL") or _env_file_values().get("SNAPFIX_REDIS_CLUSTER_URL")
    if not url:
        pytest.fail(
            "SNAPFIX_REDIS_CLUSTER_URL is not set: start the cluster with `stack.py up --redis-cluster` "
            "(`make test` starts it for the test profile)",
            pytrace=False,
        )
    parts = urlparse(url)
    if not _reachable(parts.hostname or "127.0.0.1", parts.port or 6379):
        pytest.fail(f"the Redis Cluster is not reachable at {parts.netloc}", pytrace=False)
    return url


@pytest.fixture
async def cluster(cluster_url: str) -> AsyncIterator[Redis]:
    client = redis_client(RedisSettings(redis_url=cluster_url, redis_cluster=True, redis_timeout_s=2))
    yield client
    await client.aclose()


async def test_the_client_is_a_cluster_client_spread_over_three_masters(cluster: Redis) -> None:
    assert isinstance(cluster, RedisCluster)
    assert await cluster.ping()
    masters = {node.name for node in cluster.get_primaries()}
    assert len(masters) == 3
    # Different issues land on different nodes: this really is sharded, not one node.
    nodes = {cluster.get_node_from_key(issue_key(uuid4())).name for _ in range(64)}
    assert nodes == masters


async def test_session_rotation_and_replay_on_the_cluster(cluster: Redis) -> None:
    sessions = Sessions(cluster, ttl_s=60)
    session_id, first = await sessions.create("user-1", "citizen", ("roads",))  # a MULTI on one slot
    principal = await sessions.get(session_id)
    assert principal is not None
    assert principal.departments == ("roads",)

    _, second = await sessions.rotate(first)  # the Lua script over two hash-tagged keys
    assert second != first
    with pytest.raises(RefreshRejected) as replay:
        await sessions.rotate(first)
    assert replay.value.outcome == "reused"
    assert await sessions.get(session_id) is None  # the family is revoked
    assert await cluster.exists(f"gw:sess:{{{session_id}}}", f"gw:sess:{{{session_id}}}:rotated") == 0


async def test_a_reset_ends_a_refreshed_session_on_the_cluster(cluster: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 2 on the cluster: the user's index (another slot) is extended by each refresh, and
    a sign-in drops ended sessions from it (a pipeline over many slots)."""
    monkeypatch.setattr(sessions_module, "LISTING_GRACE_S", 0)
    # Sessions live 4 s, refreshed every 1.5 s: a 2.5 s margin per refresh on a busy 2-core machine
    # (with 2 s and 1.2 s, one slow moment let a session lapse between two refreshes: CI, stop 23).
    sessions = Sessions(cluster, ttl_s=4)
    user = f"user-{uuid4().hex[:8]}"
    ended, _ = await sessions.create(user, "citizen", ())
    await sessions.revoke(ended)
    session_id, refresh = await sessions.create(user, "citizen", ())  # drops the ended one
    assert await cluster.smembers(f"gw:user:{{{user}}}:sessions") == {session_id.encode()}
    for _ in range(3):  # 4.5 s: past the 4 s the index was given at sign-in
        await asyncio.sleep(1.5)
        _, refresh = await sessions.rotate(refresh)
    assert await sessions.revoke_all(user) == 1
    with pytest.raises(RefreshRejected) as refused:
        await sessions.rotate(refresh)
    assert refused.value.outcome == "missing"


async def test_the_revocation_feed_on_the_cluster(cluster_url: str, cluster: Redis) -> None:
    reader = redis_client(RedisSettings(redis_url=cluster_url, redis_cluster=True, redis_timeout_s=2), socket_timeout=3)
    revocations = Revocations(reader, keep_s=60)
    earlier = str(uuid4())
    await announce(cluster, [earlier], keep_s=60)  # before this process follows: found by the reload
    await revocations.start()
    try:
        later = str(uuid4())
        await announce(cluster, [later], keep_s=60)  # while it follows: delivered by the blocking read
        deadline = asyncio.get_running_loop().time() + 5
        while not (revocations.is_revoked(later) and revocations.fresh):
            assert asyncio.get_running_loop().time() < deadline, "the revocation did not arrive"
            await asyncio.sleep(0.02)
        assert revocations.is_revoked(earlier)
        assert not revocations.is_revoked(str(uuid4()))
    finally:
        await revocations.stop()
        await reader.aclose()


async def test_issue_cache_on_the_cluster(cluster: Redis) -> None:
    cache = IssueCache(cluster, ttl_s=60)
    stale = CachedIssue(new_report(make_report_command(), None))
    issue_id = stale.issue.id

    noted = await cache.generation(issue_id)
    assert noted == "0"
    await cache.invalidate([issue_id])
    assert await cluster.get(generation_key(issue_id)) == b"1"  # the invalidation really reached Redis
    assert not await cache.put(stale, noted)  # the raced read is refused by the script
    fresh = CachedIssue(stale.issue.model_copy(update={"title": "Edited title"}))
    assert await cache.put(fresh, await cache.generation(issue_id))
    cached = await cache.get(issue_id)
    assert cached is not None
    assert cached.issue.title == "Edited title"

    # Pipelines over many issues cross slots and nodes.
    others = [CachedIssue(new_report(make_report_command(), None)) for _ in range(12)]
    await cache.store(others)
    assert all([await cache.get(entry.issue.id) for entry in others])
    await cache.invalidate([entry.issue.id for entry in others])
    assert [await cache.get(entry.issue.id) for entry in others] == [None] * len(others)
    assert await cluster.get(generation_key(others[-1].issue.id)) == b"2"  # written through, then invalidated


async def test_rate_limits_are_counted_in_the_cluster(cluster: Redis) -> None:
    limiter = Limiter(cluster)
    policy = Policy(f"cluster-test-{uuid4().hex[:8]}", parse("3/minute"))
    verdicts = [await limiter.check(policy, "caller-1") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].reset_s >= 1
    assert not limiter.degraded  # counted in Redis, not in this process's fallback memory
    assert (await limiter.check(policy, "caller-2")).allowed  # another key, its own window
    stored = [key async for key in cluster.scan_iter(match=f"gw:rl*{policy.name}*")]
    assert len(stored) == 2


@pytest.fixture(scope="module")
async def gw_on_cluster(stack: Stack, cluster_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = gateway_settings(stack, redis_url=cluster_url, redis_cluster=True)
    async for http in running(settings):
        yield http


async def test_the_gateway_runs_on_the_cluster(gw_on_cluster: httpx.AsyncClient, cluster: Redis) -> None:
    gw = gw_on_cluster
    # Ready once its copy of the catalogue is read from Kafka (a moment after it answers at all).
    deadline = asyncio.get_running_loop().time() + 60
    ready = await gw.get("/readyz")
    while ready.status_code != 200 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        ready = await gw.get("/readyz")
    assert ready.status_code == 200, ready.text

    # Idempotency keys: the replay is the first answer, stored in the cluster.
    email, key = new_email(), f"cluster-{uuid4()}"
    body = {"email": email, "password": PASSWORD, "display_name": "Ada"}
    first = await gw.post("/v1/auth/register", json=body, headers={"idempotency-key": key})
    again = await gw.post("/v1/auth/register", json=body, headers={"idempotency-key": key})
    assert first.status_code == again.status_code == 202, first.text
    assert again.json() == first.json()
    assert [k async for k in cluster.scan_iter(match="gw:idem:*")]

    # Sessions: sign in, rotate, and a replayed refresh token revokes the session.
    signed_in = await gw.post(
        "/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    tokens = signed_in.json()
    assert "ratelimit" in signed_in.headers
    # Counted in the process, added to the cluster's counts within rate_limit_settle_ms.
    counted = [k async for k in cluster.scan_iter(match="gw:rl*credentials*")]
    while not counted and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        counted = [k async for k in cluster.scan_iter(match="gw:rl*credentials*")]
    assert counted
    rotated = await gw.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200, rotated.text
    latest = await gw.post(  # the first token is then two rotations back, past the reuse grace's one
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": rotated.json()["refresh_token"]}
    )
    assert (await gw.get("/v1/me", headers=bearer(latest.json()))).status_code == 200
    replay = await gw.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert replay.status_code == 400
    assert (await gw.get("/v1/me", headers=bearer(latest.json()))).status_code == 401


async def test_the_issues_read_model_on_the_cluster(cluster: Redis) -> None:
    model = ReadModel(cluster)
    lat, lon = random.uniform(-50, 50), random.uniform(-170, 170)
    reports = [new_report(make_report_command(location=Location(lat=lat + i * 0.001, lon=lon)), None) for i in range(5)]
    await model.index(reports)
    found, more = await model.near(lat, lon, keys=geo_keys((), None), radius_m=300, limit=2)
    assert [row["id"] for _, row in found] == [str(r.id) for r in reports[:2]]
    assert more
    moved = reports[0].model_copy(update={"status": "acknowledged"})
    await model.index([moved])  # one script moves it between sets, all in one slot
    acknowledged, _ = await model.near(lat, lon, keys=geo_keys(("acknowledged",), None), radius_m=10, limit=5)
    assert [row["id"] for _, row in acknowledged] == [str(moved.id)]
