"""The issues cache against a real Redis: a read that raced a write never caches the older state."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from snapfix_issues.cache import CachedIssue, IssueCache
from snapfix_issues.readmodel import ReadModelDown
from snapfix_issues.records import new_report
from tests.builders import make_report_command
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
async def cache(stack: Stack) -> AsyncIterator[IssueCache]:
    redis = Redis.from_url(stack.redis_url, socket_timeout=2)
    yield IssueCache(redis, ttl_s=60)
    await redis.aclose()


async def test_a_read_that_raced_a_write_is_not_cached(cache: IssueCache) -> None:
    stale = CachedIssue(new_report(make_report_command(), None))
    issue_id = stale.issue.id

    noted = await cache.generation(issue_id)  # a reader notes the generation, then reads the store...
    await cache.invalidate([issue_id])  # ...while a write is stored and announced
    assert not await cache.put(stale, noted)  # the reader's (older) copy is refused
    assert await cache.get(issue_id) is None

    fresh = CachedIssue(stale.issue.model_copy(update={"title": "Edited title"}))
    assert await cache.put(fresh, await cache.generation(issue_id))  # a read after the write is cached
    cached = await cache.get(issue_id)
    assert cached is not None
    assert cached.issue.title == "Edited title"


async def test_without_redis_reads_miss_and_writes_fail_loudly() -> None:
    down = IssueCache(Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2), 60)
    entry = CachedIssue(new_report(make_report_command(), None))
    generation = await down.generation(entry.issue.id)
    assert generation is None
    assert not await down.put(entry, generation)
    assert await down.get(entry.issue.id) is None
    with pytest.raises(ReadModelDown):  # never swallowed: the consumer retries and does not commit
        await down.invalidate([entry.issue.id])
    with pytest.raises(ReadModelDown):
        await down.store([entry])
