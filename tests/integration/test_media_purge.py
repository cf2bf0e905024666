"""Cache purges on MediaDeleted: the media service's purger, on the real Kafka, calls a local
HTTP receiver standing in for nginx or a CDN."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import uuid4

import pytest
from aiohttp import web

from snapfix_media import purge
from snapfix_media.config import MediaSettings
from snapfix_media.consumers import subscribe_cdn_purge
from snapfix_shared.messages import MediaDeleted, MediaRejected, Message
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic
from tests.stack import Stack, free_port, produce

pytestmark = pytest.mark.integration


@dataclass
class Receiver:
    """Answers PURGE like a cache; fails each path's first attempt once with a 503."""

    port: int
    seen: list[tuple[str, str]] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix("/purge")
        self.attempts[path] += 1
        if self.attempts[path] == 1:
            return web.Response(status=503)
        self.seen.append((request.method, path))
        return web.Response(status=200)

    def paths_of(self, media_id: object) -> set[str]:
        return {p for _, p in self.seen if str(media_id) in p}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver(free_port())
    app = web.Application()
    app.router.add_route("*", "/purge/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", server.port).start()
    yield server
    await runner.cleanup()


@pytest.fixture
async def purger(stack: Stack, receiver: Receiver) -> AsyncIterator[None]:
    settings = MediaSettings(
        kafka_bootstrap_servers=stack.kafka,
        redis_url=stack.redis_url,
        cdn_purge_url=f"http://127.0.0.1:{receiver.port}/purge{{path}}",
    )
    runtime = Runtime("media-purge-test", settings)
    assert subscribe_cdn_purge(runtime, settings) is not None
    await runtime.broker.start()
    yield
    await runtime.broker.stop()
    for hook in runtime.after_stop:
        await hook()
    if runtime.redis is not None:
        await runtime.redis.aclose()


async def announce(stack: Stack, event: Message) -> None:
    await produce(stack.kafka, Topic.MEDIA_EVENTS, event.model_dump_json().encode(), key=event.partition_key().encode())


@pytest.mark.usefixtures("purger")
async def test_a_deleted_photos_variants_are_purged_and_a_failed_purge_is_retried(
    stack: Stack, receiver: Receiver
) -> None:
    rejected = MediaRejected(media_id=uuid4(), owner_id="u1", reason="The file is empty.", correlation_id="r")
    deleted = MediaDeleted(media_id=uuid4(), owner_id="u1", reason="issue_withdrawn", correlation_id="d")
    await announce(stack, rejected)
    await announce(stack, deleted)

    expected = set(purge.variant_paths(deleted.media_id))
    deadline = time.monotonic() + 60
    while receiver.paths_of(deleted.media_id) != expected and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    assert receiver.paths_of(deleted.media_id) == expected  # all six variants, each once confirmed
    assert {m for m, p in receiver.seen if str(deleted.media_id) in p} == {"PURGE"}
    assert all(receiver.attempts[p] == 2 for p in expected)  # the 503 was retried
    assert not receiver.paths_of(rejected.media_id)  # only deletions are purged
