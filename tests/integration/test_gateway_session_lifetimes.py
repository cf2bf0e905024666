"""Session lifetimes in Redis (issue 15, finding 2): a password reset ends every session of the
user, even one kept alive by refreshing past the lifetime its index was given at sign-in;
sessions end at an absolute lifetime however often they are refreshed; and what a session
keeps to detect replayed refresh tokens stays bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from snapfix_gateway.identity import sessions as sessions_module
from snapfix_gateway.identity.sessions import USED_KEPT, RefreshRejected, Sessions
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url)
    yield client
    await client.aclose()


def _user() -> str:
    return f"u-{uuid4().hex[:8]}"


async def test_a_reset_ends_a_session_refreshed_past_its_index_first_lifetime(redis: Redis) -> None:
    sessions = Sessions(redis, ttl_s=4)  # a 2.5 s margin per refresh on a busy machine
    user = _user()
    session_id, refresh = await sessions.create(user, "citizen", ())
    for _ in range(3):  # refreshed every 1.5 s: 4.5 s in all, past the 4 s given at sign-in
        await asyncio.sleep(1.5)
        _, refresh = await sessions.rotate(refresh)
    assert await sessions.get(session_id) is not None  # kept alive by its refreshes

    assert await sessions.revoke_all(user) == 1  # the reset finds it

    assert await sessions.get(session_id) is None
    with pytest.raises(RefreshRejected) as refused:
        await sessions.rotate(refresh)
    assert refused.value.outcome == "missing"


async def test_the_index_outlives_each_of_its_sessions(redis: Redis) -> None:
    sessions = Sessions(redis, ttl_s=60)
    user = _user()
    session_id, refresh = await sessions.create(user, "citizen", ())
    await redis.expire(f"gw:user:{{{user}}}:sessions", 1)  # as if given a shorter life at sign-in
    await sessions.rotate(refresh)
    index_ttl = await redis.ttl(f"gw:user:{{{user}}}:sessions")
    session_ttl = await redis.ttl(f"gw:sess:{{{session_id}}}")
    assert index_ttl >= session_ttl > 50


async def test_a_refresh_re_lists_a_session_its_index_lost(redis: Redis) -> None:
    """A session whose index expired before this release (or whose listing was lost) is listed again."""
    sessions = Sessions(redis, ttl_s=60)
    user = _user()
    session_id, refresh = await sessions.create(user, "citizen", ())
    await redis.delete(f"gw:user:{{{user}}}:sessions")
    _, refresh = await sessions.rotate(refresh)
    assert await sessions.revoke_all(user) == 1
    assert await sessions.get(session_id) is None


async def test_a_session_ends_at_its_absolute_lifetime_however_often_it_is_refreshed(redis: Redis) -> None:
    sessions = Sessions(redis, ttl_s=60, max_age_s=2)
    session_id, refresh = await sessions.create(_user(), "citizen", ())
    assert 0 < await redis.ttl(f"gw:sess:{{{session_id}}}") <= 2  # never kept past its absolute end
    await asyncio.sleep(1.0)
    _, refresh = await sessions.rotate(refresh)
    assert 0 < await redis.ttl(f"gw:sess:{{{session_id}}}") <= 1  # a refresh does not extend past it
    await asyncio.sleep(1.3)
    with pytest.raises(RefreshRejected) as refused:
        await sessions.rotate(refresh)
    assert refused.value.outcome == "missing"
    assert await sessions.get(session_id) is None


async def test_the_replay_history_is_bounded_and_still_catches_a_recent_replay(redis: Redis) -> None:
    sessions = Sessions(redis, ttl_s=60)
    session_id, first = await sessions.create(_user(), "citizen", ())
    tokens = [first]
    for _ in range(USED_KEPT + 20):
        _, token = await sessions.rotate(tokens[-1])
        tokens.append(token)
    kept = [key.decode() for key in await redis.keys(f"gw:sess:{{{session_id}}}*")]
    types = {key: await redis.type(key) for key in kept}
    assert sorted(types.values()) == [b"hash", b"list"], types  # no unbounded set beside them
    assert await redis.llen(f"gw:sess:{{{session_id}}}:used") == USED_KEPT

    with pytest.raises(RefreshRejected) as refused:
        await sessions.rotate(tokens[-3])  # stolen two rotations ago, replayed now
    assert refused.value.outcome == "reused"
    assert await sessions.get(session_id) is None


async def test_the_reuse_grace_honours_only_the_last_retired_secret_and_only_for_its_window(redis: Redis) -> None:
    sessions = Sessions(redis, ttl_s=60, reuse_grace_s=0.5)
    session_id, first = await sessions.create(_user(), "citizen", ())
    _, second = await sessions.rotate(first)
    _, retried = await sessions.rotate(first)  # within the grace: rotates anew
    assert retried not in {first, second}
    await sessions.rotate(retried)
    with pytest.raises(RefreshRejected) as refused:
        await sessions.rotate(first)  # retired two rotations ago: a replay, whatever the clock says
    assert refused.value.outcome == "reused"
    assert await sessions.get(session_id) is None

    session_id, first = await sessions.create(_user(), "citizen", ())
    await sessions.rotate(first)
    await asyncio.sleep(0.7)  # past the grace
    with pytest.raises(RefreshRejected) as refused:
        await sessions.rotate(first)
    assert refused.value.outcome == "reused"
    assert await sessions.get(session_id) is None


async def test_the_index_forgets_ended_sessions_at_the_next_sign_in(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = Sessions(redis, ttl_s=60)
    user = _user()
    ended = [(await sessions.create(user, "citizen", ()))[0] for _ in range(5)]
    for session_id in ended:
        await sessions.revoke(session_id)
    assert len(await redis.smembers(f"gw:user:{{{user}}}:sessions")) == 5
    # A listed session younger than the grace may be being created: spared. Here none is.
    monkeypatch.setattr(sessions_module, "LISTING_GRACE_S", 0)
    live, _ = await sessions.create(user, "citizen", ())
    assert await redis.smembers(f"gw:user:{{{user}}}:sessions") == {live.encode()}
