"""Live updates at the gateway against the real Redis: one feed reader per process, fanned out in-process.

A real uvicorn server runs the gateway (tests/integration/live_gateway.py); the consumer is
driven directly with events, and the issues service is a stub that counts its calls. Here: who
gets an event, the per-user cap, heartbeats and the session's end, bounded Redis connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest

from snapfix_gateway.live import KNOWN, audience_key, stream_key
from snapfix_shared.messages import (
    ReportRejected,
)
from snapfix_shared.messages.issues import FieldError
from tests.integration.live_gateway import (
    LIVE_CONNECTIONS,
    PER_USER,
    changed,
    commented,
    followed,
    opened,
    record,
    reported,
    running_live_gateway,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def gateway(stack: Stack) -> AsyncIterator[SimpleNamespace]:
    async with running_live_gateway(stack) as running:
        yield running


async def test_one_event_reaches_every_connection_of_its_audience_without_asking_the_issues_service(
    gateway: Any,
) -> None:
    issue = uuid4()
    reporter, follower, stranger = (f"u-{uuid4().hex[:8]}" for _ in range(3))
    (rep_headers, _), (fol_headers, _), (str_headers, _) = [
        await gateway.sign_in(u) for u in (reporter, follower, stranger)
    ]
    await gateway.fanout.handle([record(reported(issue, reporter)), record(followed(issue, follower))])
    async with contextlib.AsyncExitStack() as stack:
        reporters = [await stack.enter_async_context(opened(gateway, rep_headers)) for _ in range(2)]
        followers = [await stack.enter_async_context(opened(gateway, fol_headers)) for _ in range(PER_USER)]
        strangers = [await stack.enter_async_context(opened(gateway, str_headers))]
        for stream in reporters + followers + strangers:
            assert (await stream.next())["event"] == "ready"
        calls = gateway.stub.calls
        await gateway.fanout.handle([record(changed(issue, "acknowledged"))])
        got = [await stream.next() for stream in reporters + followers]
        assert {(e["event"], e["data"]["issue_id"], e["data"]["to"]) for e in got} == {
            ("status_changed", str(issue), "acknowledged")
        }
        assert len({e["id"] for e in got[:2]}) == 1  # one user's connections: one entry of one stream
        assert gateway.stub.calls == calls  # the audience came from the projection
        await strangers[0].nothing_more()
        # Unfollowing takes the follower out of the audience.
        await gateway.fanout.handle([record(followed(issue, follower, follow=False)), record(commented(issue, "Done"))])
        assert (await reporters[0].next())["data"]["body"] == "Done"
        await followers[0].nothing_more()


async def test_an_issue_reported_before_the_projection_is_asked_of_the_issues_service_once(gateway: Any) -> None:
    issue, reporter = uuid4(), f"u-{uuid4().hex[:8]}"
    gateway.stub.audiences[str(issue)] = [reporter]
    calls = gateway.stub.calls
    await gateway.fanout.handle([record(changed(issue, "acknowledged"))])
    await gateway.fanout.handle([record(changed(issue, "in_progress", "acknowledged"))])
    assert gateway.stub.calls == calls + 1
    assert {m.decode() for m in await gateway.redis.smembers(audience_key(str(issue)))} == {KNOWN, reporter}
    entries = await gateway.redis.xrange(stream_key(reporter))
    assert [orjson.loads(fields[b"data"])["to"] for _, fields in entries] == ["acknowledged", "in_progress"]


async def test_past_the_per_user_cap_a_stream_is_refused_with_429_problem(gateway: Any) -> None:
    headers, _ = await gateway.sign_in(f"u-{uuid4().hex[:8]}")
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(PER_USER):
            await stack.enter_async_context(opened(gateway, headers))
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            refused = await client.get("/v1/events", headers=headers)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 429
    # Closed streams free their places.
    await asyncio.sleep(0.3)
    async with opened(gateway, headers) as again:
        assert (await again.next())["event"] == "ready"


async def test_heartbeats_and_the_stream_ends_with_its_session(gateway: Any) -> None:
    user = f"u-{uuid4().hex[:8]}"
    headers, session_id = await gateway.sign_in(user)
    async with opened(gateway, headers) as stream:
        await asyncio.sleep(2.5)
        assert stream.comments >= 1  # ": ping" every second here
        await gateway.redis.delete(f"gw:sess:{{{session_id}}}")  # signed out
        await asyncio.wait_for(stream._task, 5)  # the server ends the stream


async def test_a_stream_ends_within_a_second_or_two_of_its_session_revoked_on_any_replica(gateway: Any) -> None:
    user = f"u-{uuid4().hex[:8]}"
    headers, session_id = await gateway.sign_in(user)
    async with opened(gateway, headers) as stream:
        # As the revocation feed brings it from another replica: the session hash is still in Redis,
        # so only the process's revocation set can end the stream.
        gateway.app.state.revocations.note([session_id])
        await asyncio.wait_for(stream._task, 3)
        assert await gateway.redis.exists(f"gw:sess:{{{session_id}}}")


async def test_redis_connections_stay_bounded_however_many_streams(gateway: Any) -> None:
    async def clients() -> int:
        return len(await gateway.redis.client_list())

    users = [await gateway.sign_in(f"u-{uuid4().hex[:8]}") for _ in range(21)]
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(opened(gateway, users.pop()[0]))
        await first.next()
        before = await clients()
        # One after the other: the sign-in check of a request may take a connection of its own
        # (the process's pool, not the live path's); each stream stays open, and waits for news.
        streams = [
            await stack.enter_async_context(opened(gateway, headers)) for headers, _ in users for _ in range(PER_USER)
        ]
        for stream in streams:
            assert (await stream.next())["event"] == "ready"
        after = await clients()
        # 60 more streams (one connection each, before); the live path's few were there already, or come now.
        assert after - before <= LIVE_CONNECTIONS, (before, after)
        # Another request meanwhile is answered (never a 500 for want of a connection).
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            assert (await client.get("/livez")).status_code == 200


async def test_a_report_refused_when_applied_tells_its_reporter_why(gateway: Any) -> None:
    issue, reporter = uuid4(), f"u-{uuid4().hex[:8]}"
    headers, _ = await gateway.sign_in(reporter)
    calls = gateway.stub.calls
    async with opened(gateway, headers) as stream:
        assert (await stream.next())["event"] == "ready"
        refused = ReportRejected(
            correlation_id="live-test",
            actor_id=reporter,
            issue_id=issue,
            reason="The category no longer exists.",
            errors=(FieldError(field="category", message="unknown category"),),
        )
        await gateway.fanout.handle([record(refused)])
        told = await stream.next()
    assert told["event"] == "report_rejected"
    assert (told["data"]["issue_id"], told["data"]["reason"]) == (str(issue), "The category no longer exists.")
    assert told["data"]["errors"] == [{"field": "category", "message": "unknown category"}]
    assert gateway.stub.calls == calls  # nobody else to ask about: only the reporter hears
