"""A bounded Redis pool that is all busy is overload, not an outage: the circuit stays closed,
rate limits fall back to memory for that request, and an Idempotency-Key is never skipped."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from limits import parse

from snapfix_gateway.idempotency import Claim
from snapfix_gateway.ratelimit import Limiter, Policy
from snapfix_shared.breakers import Breakers
from snapfix_shared.redis_client import RedisBusy, redis_client
from snapfix_shared.settings import RedisSettings
from tests.stack import Stack

pytestmark = pytest.mark.integration


async def test_a_busy_pool_refuses_a_claim_but_never_opens_the_circuit(stack: Stack) -> None:
    settings = RedisSettings(redis_url=stack.redis_url, redis_max_connections=1, redis_timeout_s=0.3)
    redis = redis_client(settings, socket_timeout=15)  # the one connection blocks for 8 s below
    breakers = Breakers("gateway-test")
    limiter = Limiter(redis, breakers)
    policy = Policy("user", parse("100/minute"))
    caller = f"u:{uuid4().hex[:8]}"
    try:
        assert (await limiter.check_all([(policy, caller)]))[0][0].allowed  # a connection exists now
        holder = asyncio.create_task(redis.blpop([f"nothing-{uuid4()}"], timeout=8))  # takes the only one
        await asyncio.sleep(0.2)

        with pytest.raises(RedisBusy):
            await redis.get("anything")
        claim = Claim(caller=caller, store_key=f"gw:idem:{{{caller}}}:k", fingerprint="f")
        for _ in range(6):  # more than the circuit's threshold of failures
            with pytest.raises(RedisBusy):
                await limiter.check_all([(policy, caller)], claim)
            verdicts, outcome = await limiter.check_all([(policy, caller)])  # no key: counted in memory
            assert verdicts[0].allowed
            assert outcome is None
        assert not breakers.is_open("redis")
        assert not limiter.degraded

        await holder
        verdicts, outcome = await limiter.check_all([(policy, caller)], claim)  # free again: claimed
        assert verdicts[0].allowed
        assert outcome is not None
        assert outcome.claimed
    finally:
        await redis.delete(f"gw:idem:{{{caller}}}:k")
        await redis.aclose()
