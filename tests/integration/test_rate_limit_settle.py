"""Rate limits without a Redis round trip per request: each gateway process counts a request
without an Idempotency-Key itself, and adds its counts to Redis's in one pipeline every
``rate_limit_settle_ms``, reading the totals back. Against the stack's real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from limits import parse
from redis.asyncio import Redis

from snapfix_gateway.idempotency import Claim
from snapfix_gateway.ratelimit import Limiter, Policy, counter_key
from snapfix_shared.breakers import Breakers
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url, socket_timeout=5)
    yield client
    await client.aclose()


def replica(redis: Redis) -> Limiter:
    """A gateway process's limiter; its settling is driven by the test (``settle``), not by a timer."""
    return Limiter(redis, Breakers(f"gw-{uuid4().hex[:6]}"), settle_every_s=60)


def fresh(amount: int = 4) -> tuple[Policy, str]:
    return Policy(f"settle-{uuid4().hex[:8]}", parse(f"{amount}/minute")), f"u:{uuid4().hex[:8]}"


async def test_one_process_counts_exactly_without_asking_redis_then_settles_its_counts(redis: Redis) -> None:
    limiter = replica(redis)
    policy, caller = fresh(amount=4)
    key = counter_key(policy, caller)
    verdicts = [(await limiter.check_all([(policy, caller)]))[0][0] for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, True, False]
    assert [v.remaining for v in verdicts] == [3, 2, 1, 0, 0]
    assert await redis.get(key) is None  # nothing asked of Redis yet
    await limiter.settle()
    assert int(await redis.get(key) or 0) == 5  # the refused request counts too, as in Redis's own script
    assert 55_000 < await redis.pttl(key) <= 60_000  # the window started when Redis first counted it
    assert not (await limiter.check_all([(policy, caller)]))[0][0].allowed  # settled: still past the limit


async def test_what_other_replicas_counted_is_seen_once_settled(redis: Redis) -> None:
    first, second = replica(redis), replica(redis)
    policy, caller = fresh(amount=4)
    for _ in range(3):
        assert (await first.check_all([(policy, caller)]))[0][0].allowed
    await first.settle()
    # The second replica has not met the caller: it admits, and learns Redis's total when it settles.
    assert (await second.check_all([(policy, caller)]))[0][0].remaining == 3
    await second.settle()
    refused = (await second.check_all([(policy, caller)]))[0][0]
    assert (refused.allowed, refused.remaining) == (False, 0)  # 3 + 1 + this one, past 4
    assert int(await redis.get(counter_key(policy, caller)) or 0) == 4


async def test_a_request_with_an_idempotency_key_is_still_counted_and_claimed_in_redis(redis: Redis) -> None:
    limiter = replica(redis)
    policy, caller = fresh(amount=4)
    claim = Claim(caller=caller, store_key=f"gw:idem:{{{caller}}}:{uuid4().hex}", fingerprint="fp")
    verdicts, outcome = await limiter.check_all([(policy, caller)], claim)
    assert verdicts[0].allowed
    assert outcome is not None
    assert outcome.claimed
    assert int(await redis.get(counter_key(policy, caller)) or 0) == 1  # at once, in the claim's round trip


async def test_a_keyed_request_past_the_counts_not_yet_settled_is_refused_and_claims_nothing(redis: Redis) -> None:
    limiter = replica(redis)
    policy, caller = fresh(amount=3)
    for _ in range(3):
        assert (await limiter.check_all([(policy, caller)]))[0][0].allowed  # counted here, not settled
    claim = Claim(caller=caller, store_key=f"gw:idem:{{{caller}}}:{uuid4().hex}", fingerprint="fp")
    verdicts, outcome = await limiter.check_all([(policy, caller)], claim)
    assert (verdicts[0].allowed, verdicts[0].remaining) == (False, 0)
    assert outcome is not None
    assert not outcome.claimed
    assert await redis.get(claim.store_key) is None  # a retry after the window is not answered 409


async def test_while_redis_is_down_counts_stay_in_memory_and_settle_again_once_it_answers(redis: Redis) -> None:
    down = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    limiter = Limiter(down, Breakers(f"gw-{uuid4().hex[:6]}"), settle_every_s=60)
    policy, caller = fresh(amount=2)
    await limiter.check_all([(policy, caller)])
    await limiter.settle()
    assert limiter.degraded
    verdicts = [(await limiter.check_all([(policy, caller)]))[0][0] for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]  # memory's own window, from the outage on
    await down.aclose()

    limiter.redis = redis  # Redis answers again (the same limiter, its client reconnected)
    await limiter.settle()
    assert not limiter.degraded
    assert int(await redis.get(counter_key(policy, caller)) or 0) == 3  # what was counted meanwhile reached Redis
