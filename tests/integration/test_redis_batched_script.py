"""``BatchedScript`` against the real Redis: calls made at once share one pipeline, each caller
gets its own reply or error, and a script Redis lost is loaded again without running a call twice."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import patch
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from snapfix_shared.redis_client import BatchedScript, redis_client
from snapfix_shared.settings import RedisSettings
from tests.stack import Stack, free_port

pytestmark = pytest.mark.integration

# Counts KEYS[1] up by ARGV[1]; refuses (an error reply) when ARGV[1] is negative.
COUNT = """
if tonumber(ARGV[1]) < 0 then return redis.error_reply('negative') end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


async def _pipelines_sent(redis: Redis, calls: list[Any]) -> tuple[list[Any], int]:
    """The replies of ``calls`` (awaitables), and how many pipelines Redis was sent meanwhile."""
    real = redis.pipeline
    made = 0

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal made
        made += 1
        return real(*args, **kwargs)

    with patch.object(redis, "pipeline", counting):
        replies = await asyncio.gather(*calls, return_exceptions=True)
    return replies, made


async def test_calls_made_at_once_share_one_pipeline_and_each_gets_its_reply(stack: Stack) -> None:
    redis = redis_client(RedisSettings(redis_url=stack.redis_url, redis_timeout_s=2))
    script = BatchedScript(redis, COUNT)
    keys = [f"test:batched:{uuid4().hex}:{n}" for n in range(30)]
    try:
        await redis.script_load(COUNT)  # else the first batch is refused (NOSCRIPT) and sent again
        calls = [script(keys=[key], args=[n + 1]) for n, key in enumerate(keys)]
        calls.append(script(keys=[keys[0]], args=[-1]))  # refused by the script: its caller alone
        replies, pipelines = await _pipelines_sent(redis, calls)
        assert replies[:30] == list(range(1, 31))  # each its own key's count
        assert isinstance(replies[30], ResponseError)
        assert "negative" in str(replies[30])
        assert pipelines == 1
        # One at a time, each call goes alone, a turn later: still its own reply.
        assert await script(keys=[keys[0]], args=[5]) == 6
    finally:
        await redis.delete(*keys)
        await redis.aclose()


async def test_a_script_redis_lost_is_loaded_again_and_no_call_runs_twice(stack: Stack) -> None:
    redis = redis_client(RedisSettings(redis_url=stack.redis_url, redis_timeout_s=2))
    script = BatchedScript(redis, COUNT)
    keys = [f"test:batched:{uuid4().hex}:{n}" for n in range(10)]
    try:
        assert await script(keys=[keys[0]], args=[1]) == 1  # loaded
        await redis.script_flush()  # as a restarted Redis has lost it
        replies = await asyncio.gather(*(script(keys=[key], args=[1]) for key in keys))
        assert replies == [2] + [1] * 9
        assert [int(v) for v in await redis.mget(keys)] == [2] + [1] * 9  # each counted once
    finally:
        await redis.delete(*keys)
        await redis.aclose()


async def test_when_redis_does_not_answer_every_caller_gets_the_error() -> None:
    down = Redis(port=free_port(), socket_connect_timeout=1, socket_timeout=1)
    script = BatchedScript(down, COUNT)
    try:
        replies = await asyncio.gather(*(script(keys=["k"], args=[1]) for _ in range(5)), return_exceptions=True)
        assert len(replies) == 5
        assert all(isinstance(reply, RedisConnectionError) for reply in replies), replies
    finally:
        await down.aclose()
