"""Pooled Redis connections that the server closed while idle (a restart, a failover) cost
no request an error: the call that finds one is sent again on a fresh connection.

Found in CI: after the degradation test restarted Redis, a sign-in 40 s later drew one of the
gateway's stale pooled connections and answered 503."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from snapfix_shared.redis_client import redis_client
from snapfix_shared.settings import RedisSettings
from tests.stack import Stack

pytestmark = pytest.mark.integration


async def _transaction(redis: object, key: str) -> list[object]:
    async with redis.pipeline(transaction=True) as pipe:  # type: ignore[attr-defined]
        pipe.hset(key, mapping={"user_id": "u"})
        pipe.expire(key, 60)
        return await pipe.execute()  # type: ignore[no-any-return]


async def test_connections_closed_by_the_server_while_idle_fail_no_call(stack: Stack) -> None:
    settings = RedisSettings(redis_url=stack.redis_url, redis_max_connections=12, redis_timeout_s=2)
    redis = redis_client(settings)
    admin = redis_client(RedisSettings(redis_url=stack.redis_url, redis_timeout_s=2))
    keys = [f"test:reconnect:{uuid4().hex}:{n}" for n in range(8)]
    try:
        # Eight calls at once leave eight idle connections in the pool.
        await asyncio.gather(*(_transaction(redis, key) for key in keys))
        pooled = [c for c in redis.connection_pool._available_connections if c.is_connected]  # type: ignore[attr-defined]
        assert len(pooled) >= 4, len(pooled)
        ports = {c._writer.get_extra_info("sockname")[1] for c in pooled}

        # The server drops every one of them, as a restarted Redis has.
        for port in ports:
            assert await admin.execute_command("CLIENT", "KILL", "ADDR", f"127.0.0.1:{port}")

        # Transactions, plain commands and pipelines all go through on fresh connections.
        assert await asyncio.gather(*(_transaction(redis, key) for key in keys)) == [[0, True]] * len(keys)
        assert await redis.hget(keys[0], "user_id") == b"u"
        async with redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
            assert await pipe.execute() == [1] * len(keys)
    finally:
        await admin.delete(*keys)
        await redis.aclose()
        await admin.aclose()
