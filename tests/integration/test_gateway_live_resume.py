"""Live updates at the gateway against the real Redis, when something is missed: Last-Event-ID
resumes, entries put on the feed out of order by two replicas, a connection that falls behind,
and the feed reader losing its connection; each update arrives once, in order.

The gateway, its stub issues service and the stream reader are tests/integration/live_gateway.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import orjson
import pytest

from snapfix_gateway.live import FEED_KEY, stream_key
from snapfix_gateway.live_listener import QUEUE_FRAMES, frame, parse_id
from tests.integration.live_gateway import (
    changed,
    commented,
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


async def test_last_event_id_resumes_with_what_was_missed_then_live_without_duplicates(gateway: Any) -> None:
    issue, reporter = uuid4(), f"u-{uuid4().hex[:8]}"
    headers, _ = await gateway.sign_in(reporter)
    await gateway.fanout.handle([record(reported(issue, reporter)), record(changed(issue, "acknowledged"))])
    async with opened(gateway, headers, last_event_id="0-0") as first:
        seen = await first.next()
        assert seen["data"]["to"] == "acknowledged"
    # While away: two updates.
    await gateway.fanout.handle(
        [record(changed(issue, "in_progress", "acknowledged")), record(commented(issue, "Crew at noon"))]
    )
    async with opened(gateway, headers, last_event_id=seen["id"]) as resumed:
        missed = [await resumed.next(), await resumed.next()]
        assert [(e["event"], e["data"].get("to")) for e in missed] == [
            ("status_changed", "in_progress"),
            ("comment", None),
        ]
        await gateway.fanout.handle([record(changed(issue, "resolved", "in_progress"))])
        live = await resumed.next()
        assert live["data"]["to"] == "resolved"
        assert live["id"] > missed[1]["id"]
        await resumed.nothing_more()


async def test_entries_put_on_the_feed_out_of_order_by_two_replicas_all_arrive_once(gateway: Any) -> None:
    user = f"u-{uuid4().hex[:8]}"
    headers, _ = await gateway.sign_in(user)
    async with opened(gateway, headers) as stream:
        assert (await stream.next())["event"] == "ready"
        key = stream_key(user)
        # Replica A appends first, replica B second; B's feed entry lands before A's.
        first = await gateway.redis.xadd(key, {"type": "status_changed", "data": orjson.dumps({"n": 1})})
        second = await gateway.redis.xadd(key, {"type": "status_changed", "data": orjson.dumps({"n": 2})})
        for entry_id, n in ((second, 2), (first, 1)):
            fields = {
                "type": "status_changed",
                "data": orjson.dumps({"n": n}),
                "users": orjson.dumps({user: entry_id.decode()}),
            }
            await gateway.redis.xadd(FEED_KEY, fields)  # type: ignore[arg-type]
        got = [await stream.next(), await stream.next()]
        assert [(e["id"], e["data"]["n"]) for e in got] == [(second.decode(), 2), (first.decode(), 1)]
        await gateway.redis.xadd(FEED_KEY, fields)  # type: ignore[arg-type]  # the same entry again
        await stream.nothing_more()


async def test_a_connection_that_falls_behind_catches_up_from_its_stream_in_order_once(gateway: Any) -> None:
    hub = gateway.app.state.live_hub
    user = f"u-{uuid4().hex[:8]}"
    # A live session: the hub's periodic session check (every second here) ends a stream whose
    # session is gone, which could happen mid-test on a loaded machine with a made-up one.
    _, session_id = await gateway.sign_in(user)
    listener = hub.open(user, session_id)
    try:
        ready = await hub.start_at(listener, None)
        ids = []
        for n in range(QUEUE_FRAMES + 36):  # more than a connection's queue holds, before it reads any
            entry_id = (
                await gateway.redis.xadd(stream_key(user), {"type": "comment", "data": f'{{"n": {n}}}'})
            ).decode()
            ids.append(entry_id)
            listener.offer(parse_id(entry_id), frame(entry_id, b"comment", f'{{"n": {n}}}'.encode()))
        assert listener.catch_up  # its queue overflowed: what it missed is read from its stream
        got: list[bytes] = []
        frames = hub.frames(listener, ready)

        async def read() -> None:
            async for chunk in frames:
                got.append(chunk)
                if len(got) == len(ids) + 1:
                    return

        await asyncio.wait_for(read(), 10)
        assert b"event: ready" in got[0]
        assert [chunk.split(b"\n")[0].removeprefix(b"id: ").decode() for chunk in got[1:]] == ids
    finally:
        hub.close(listener)


async def test_the_feed_reader_resumes_after_losing_its_connection_without_losing_updates(gateway: Any) -> None:
    issue, reporter = uuid4(), f"u-{uuid4().hex[:8]}"
    headers, _ = await gateway.sign_in(reporter)
    await gateway.fanout.handle([record(reported(issue, reporter))])
    async with opened(gateway, headers) as stream:
        assert (await stream.next())["event"] == "ready"
        blocked = [c for c in await gateway.redis.client_list() if c.get("cmd") == "xread"]
        assert blocked  # the feed reader, waiting for news
        for client in blocked:
            await gateway.redis.client_kill_filter(_id=client["id"])
        # Appended while the reader reconnects: it reads on from where it was.
        await gateway.fanout.handle([record(changed(issue, "acknowledged"))])
        await gateway.fanout.handle([record(changed(issue, "in_progress", "acknowledged"))])
        got = [await stream.next(), await stream.next()]
        assert [e["data"]["to"] for e in got] == ["acknowledged", "in_progress"]
        await stream.nothing_more()
