"""A gateway serving live updates on a real uvicorn server against the real Redis (streams need a
real connection), its issues service a stub that counts its calls; the events its tests drive
the consumer with, and an open ``GET /v1/events`` read as it comes.
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
import uvicorn
from redis.asyncio import Redis

from snapfix_gateway.app import create_app
from snapfix_gateway.config import DEV_JWT_SECRET, GatewaySettings
from snapfix_gateway.identity.sessions import Sessions
from snapfix_gateway.identity.tokens import TokenCodec
from snapfix_gateway.live import LiveFanout
from snapfix_gateway.upstream import Answer
from snapfix_shared.messages import (
    IssueCommented,
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
    Location,
)
from tests.stack import Stack, free_port

PER_USER = 3
LIVE_CONNECTIONS = 2


class StubIssues:
    """The issues service's ``/audience``, counting its calls."""

    def __init__(self) -> None:
        self.audiences: dict[str, list[str]] = {}
        self.calls = 0

    async def fetch(self, _method: str, path: str, **_: Any) -> Answer:
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


@contextlib.asynccontextmanager
async def running_live_gateway(stack: Stack) -> AsyncIterator[SimpleNamespace]:
    """The gateway on a free port with small live-update limits and quick heartbeats and session checks;
    the namespace it yields has its url, app, redis, fanout (the consumer, driven by hand), stub and sign_in."""
    settings = GatewaySettings(
        **stack.connections(),
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
