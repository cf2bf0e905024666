"""Live updates at the gateway against the real Redis: one feed reader per process, fanned out in-process.

A real uvicorn server runs the gateway (streams need a real connection); the consumer is
driven directly with events, and the issues service is a stub that counts its calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import httpx
import orjson
import pytest
import uvicorn
from redis.asyncio import Redis

from snapfix_gateway.app import create_app
from snapfix_gateway.config import DEV_JWT_SECRET, GatewaySettings
from snapfix_gateway.identity.sessions import Sessions
from snapfix_gateway.identity.tokens import TokenCodec
from snapfix_gateway.live import FEED_KEY, KNOWN, LiveFanout, audience_key, stream_key
from snapfix_gateway.live_listener import QUEUE_FRAMES, frame, parse_id
from snapfix_gateway.upstream import Answer
from snapfix_shared.messages import (
    IssueCommented,
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
    Location,
    ReportRejected,
)
from snapfix_shared.messages.issues import FieldError
from tests.stack import Stack, free_port

pytestmark = pytest.mark.integration

PER_USER = 3
LIVE_CONNECTIONS = 2


class StubIssues:
    """The issues service's ``/audience``, counting its calls."""

    def __init__(self) -> None:
        self.audiences: dict[str, list[str]] = {}
        self.calls = 0

    async def fetch(self, method: str, path: str, **_: Any) -> Answer:
        self.calls += 1
        issue_id = path.split("/")[3]
        if issue_id not in self.audiences:
            return Answer(404, b"{}", None)  # type: ignore[arg-type]
        return Answer(200, orjson.dumps({"user_ids": self.audiences[issue_id]}), None)  # type: ignore[arg-type]


def record(event: Any) -> Any:
    return SimpleNamespace(value=event.model_dump_json().encode())


def reported(issue_id: UUID, reporter: str) -> IssueReported:
    return IssueReported(
        correlation_id="live-test",
        actor_id=reporter,
        issue_id=issue_id,
        title="Broken light",
        category="streetlight",
        location=Location(lat=52.52, lon=13.405),
        reported_at=datetime.now(UTC),
    )


def followed(issue_id: UUID, user: str, *, follow: bool = True) -> IssueFollowed:
    return IssueFollowed(correlation_id="live-test", actor_id=user, issue_id=issue_id, follow=follow)


def changed(issue_id: UUID, to: str, frm: str = "open") -> IssueStatusChanged:
    return IssueStatusChanged(
        correlation_id="live-test",
        actor_id="staff-1",
        issue_id=issue_id,
        from_status=frm,  # type: ignore[arg-type]
        to_status=to,  # type: ignore[arg-type]
        category="streetlight",
        changed_at=datetime.now(UTC),
    )


def commented(issue_id: UUID, body: str) -> IssueCommented:
    return IssueCommented(
        correlation_id="live-test",
        actor_id="staff-1",
        issue_id=issue_id,
        comment_id=uuid4(),
        body=body,
        commented_at=datetime.now(UTC),
    )


@pytest.fixture(scope="module")
async def gateway(stack: Stack) -> AsyncIterator[SimpleNamespace]:
    settings = GatewaySettings(
        kafka_bootstrap_servers=stack.kafka,
        mongo_url=stack.mongo_url,
        redis_url=stack.redis_url,
        live_updates=False,  # the consumer is driven by the tests
        live_streams_per_user=PER_USER,
        live_redis_connections=LIVE_CONNECTIONS,
        live_heartbeat_s=1.0,
        live_session_check_s=1.0,
        live_block_s=1.0,
        rate_limit_user="100000/minute",
    )
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the gateway did not start"
        await asyncio.sleep(0.05)
    redis = Redis.from_url(stack.redis_url)
    stub = StubIssues()
    fanout = LiveFanout(app.state.runtime, redis, stub)  # type: ignore[arg-type]
    tokens = TokenCodec(DEV_JWT_SECRET, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=900)
    sessions = Sessions(redis, 3600)

    async def sign_in(user_id: str) -> tuple[dict[str, str], str]:
        session_id, _ = await sessions.create(user_id, "citizen", ())
        return {"authorization": f"Bearer {tokens.issue(user_id, session_id, role='citizen')}"}, session_id

    try:
        yield SimpleNamespace(
            url=f"http://127.0.0.1:{port}", app=app, redis=redis, fanout=fanout, stub=stub, sign_in=sign_in
        )
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 15)
        await redis.aclose()


class Stream:
    """One open ``GET /v1/events``: its events (id/event/data) and comment lines, as they come."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.comments = 0
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        current: dict[str, Any] = {}
        async for line in self.response.aiter_lines():
            if line.startswith(":"):
                self.comments += 1
            elif line:
                name, _, value = line.partition(":")
                current[name] = value.removeprefix(" ")
            elif current:
                await self.events.put({**current, "data": orjson.loads(current["data"])})
                current = {}

    async def next(self, timeout_s: float = 10) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout_s)

    async def nothing_more(self, wait_s: float = 1.0) -> None:
        await asyncio.sleep(wait_s)
        assert self.events.empty(), self.events.get_nowait()


@contextlib.asynccontextmanager
async def opened(gateway: Any, headers: dict[str, str], last_event_id: str | None = None) -> AsyncIterator[Stream]:
    extra = {"last-event-id": last_event_id} if last_event_id else {}
    async with (
        httpx.AsyncClient(base_url=gateway.url, timeout=30) as client,
        client.stream("GET", "/v1/events", headers={**headers, **extra}) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        try:
            yield stream
        finally:
            stream._task.cancel()


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
