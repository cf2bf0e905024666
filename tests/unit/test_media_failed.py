"""A photo whose processing is dead-lettered ends ``failed`` and is announced, in memory
(TestKafkaBroker, a fake repository, store and worker pool)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from faststream.kafka import TestKafkaBroker
from uuid_utils.compat import uuid7

from snapfix_media.config import MediaSettings
from snapfix_media.consumers import ProcessMediaHandler, subscribe_media_commands
from snapfix_media.models import Media
from snapfix_media.service import FAILED_REASON, Processing
from snapfix_media.storage import original_key, variant_key
from snapfix_shared.messages import MEDIA_EVENTS, MediaRejected, ProcessMedia
from snapfix_shared.messages.base import utcnow
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

pytestmark = pytest.mark.unit
OWNER = "user-owner"


@dataclass
class FakeRepo:
    docs: dict[UUID, Media] = field(default_factory=dict)

    async def get(self, media_id: UUID) -> Media | None:
        return self.docs.get(media_id)

    async def finish(self, media_id: UUID, status: str, event: dict[str, Any], **fields: Any) -> bool:
        m = self.docs[media_id]
        if m.status != "pending":
            return False
        self.docs[media_id] = m.model_copy(update={"status": status, "event": event, **fields})
        return True


@dataclass
class FakeStore:
    blobs: dict[str, bytes] = field(default_factory=dict)

    async def get(self, key: str) -> bytes | None:
        return self.blobs.get(key)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:  # noqa: ARG002 - the interface's keyword, passed by name
        self.blobs[key] = data

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)


class BrokenWorkers:
    """A pipeline bug: every image raises something nobody expected."""

    calls = 0

    async def process(self, _data: bytes) -> Any:
        self.calls += 1
        raise KeyError("a bug in the pipeline")


@dataclass
class Harness:
    broker: Any
    repo: FakeRepo
    store: FakeStore
    workers: BrokenWorkers
    events: Any
    dead_letters: Any

    def pending(self, *, with_original: bool = True) -> UUID:
        media_id = UUID(str(uuid7()))
        now = utcnow()
        self.repo.docs[media_id] = Media.model_construct(
            id=media_id,
            owner_id=OWNER,
            declared_type="image/jpeg",
            declared_size=10,
            status="pending",
            created_at=now,
            upload_expires_at=now + timedelta(minutes=15),
            variants=[],
            event=None,
            reason=None,
        )
        if with_original:
            self.store.blobs[original_key(media_id)] = b"\xff\xd8 not really a jpeg"
        return media_id

    async def process(self, media_id: UUID, message_id: UUID | None = None) -> ProcessMedia:
        command = ProcessMedia(
            media_id=media_id, owner_id=OWNER, content_type="image/jpeg", size=10, correlation_id="c"
        )
        if message_id is not None:
            command = command.model_copy(update={"message_id": message_id})
        await self.broker.publish(command.model_dump_json().encode(), Topic.MEDIA_COMMANDS, key=str(media_id).encode())
        return command

    def announced(self) -> list[Any]:
        return [MEDIA_EVENTS.validate_python(c.args[0]) for c in self.events.call_args_list]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    settings = MediaSettings(kafka_bootstrap_servers="127.0.0.1:1", mongo_url="mongodb://127.0.0.1:1/")
    runtime = Runtime("media-unit", settings, mongo_database="unit")
    repo, store, workers = FakeRepo(), FakeStore(), BrokenWorkers()
    handler = ProcessMediaHandler(runtime, Processing(repo, store, workers), group="media")  # type: ignore[arg-type]
    subscribe_media_commands(runtime, handler, settings)

    @runtime.broker.subscriber(Topic.MEDIA_EVENTS, group_id="spy-events")
    async def events(_: Any) -> None: ...

    @runtime.broker.subscriber(Topic.MEDIA_COMMANDS.dlq, group_id="spy-dlq")
    async def dead_letters(_: Any) -> None: ...

    async with TestKafkaBroker(runtime.broker) as broker:
        yield Harness(broker, repo, store, workers, events.mock, dead_letters.mock)


async def test_a_dead_lettered_photo_ends_failed_and_is_announced_as_rejected(harness: Harness) -> None:
    media_id = harness.pending()
    harness.store.blobs[variant_key(media_id, "thumb.webp")] = b"a variant a crashed try left"
    command = await harness.process(media_id)

    assert harness.dead_letters.call_count == 1
    media = harness.repo.docs[media_id]
    assert media.status == "failed"
    assert media.reason == FAILED_REASON
    [event] = harness.announced()
    assert isinstance(event, MediaRejected)
    assert (event.media_id, event.owner_id, event.reason) == (media_id, OWNER, FAILED_REASON)
    assert event.causation_id == str(command.message_id)
    assert variant_key(media_id, "thumb.webp") not in harness.store.blobs  # partial variants removed
    assert original_key(media_id) in harness.store.blobs  # the private original stays for a look


async def test_a_redelivery_announces_the_same_failure_and_processes_nothing(harness: Harness) -> None:
    media_id = harness.pending()
    command = await harness.process(media_id)
    await harness.process(media_id, message_id=command.message_id)  # the same command, redelivered

    first, second = harness.announced()
    assert first == second  # the very same event, message id included
    assert harness.workers.calls == 1
    assert harness.dead_letters.call_count == 1
    assert harness.repo.docs[media_id].status == "failed"


async def test_a_pending_photo_without_its_original_fails_instead_of_staying_pending(harness: Harness) -> None:
    media_id = harness.pending(with_original=False)
    await harness.process(media_id)

    assert harness.dead_letters.call_count == 1
    assert harness.repo.docs[media_id].status == "failed"
    [event] = harness.announced()
    assert isinstance(event, MediaRejected)
    assert harness.workers.calls == 0


async def test_a_deleted_photo_is_not_revived_as_failed(harness: Harness) -> None:
    media_id = harness.pending()
    harness.repo.docs[media_id] = harness.repo.docs[media_id].model_copy(update={"status": "deleted"})
    await harness.process(media_id)

    assert harness.repo.docs[media_id].status == "deleted"
    assert harness.announced() == []
