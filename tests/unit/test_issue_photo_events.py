"""The issues service's ``photos`` projection consumer (``PhotoEvents``), with a fake collection.

Each followed media event is one upsert that never revives a deleted photo; a failure that is not
the store's is dead-lettered (``failed``) and the batch goes on; the store's own failures are retried.
The same consumer against Kafka and a real store: tests/integration/test_kafka_poison.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo.errors import AutoReconnect
from uuid_utils.compat import uuid7

from snapfix_issues.consumers import PhotoEvents
from snapfix_issues.models import Photo
from snapfix_issues.repository import PhotoRepository
from snapfix_issues.service import IssuePhotos
from snapfix_shared.messages import MediaDeleted, MediaRejected
from tests.builders import DeadLetters, consumed

pytestmark = pytest.mark.unit

TOPIC = "media.events.v1"

OWNER = str(uuid7())


@dataclass
class FakeCollection:
    """Photos' collection as the consumer writes it: failing on the ids it is told to."""

    upserts: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    broken: set[Any] = field(default_factory=set)
    unreachable_times: int = 0

    async def update_one(self, filter: dict[str, Any], update: dict[str, Any], *, upsert: bool) -> None:
        if self.unreachable_times:
            self.unreachable_times -= 1
            raise AutoReconnect("store away for a moment")
        if filter["_id"] in self.broken:
            raise ValueError("a document this code cannot write")
        assert upsert
        assert filter["status"] == {"$ne": "deleted"}  # a deleted photo stays deleted
        self.upserts.append((filter["_id"], update["$set"]))


@pytest.fixture
def collection(monkeypatch: pytest.MonkeyPatch) -> FakeCollection:
    fake = FakeCollection()
    monkeypatch.setattr(Photo, "get_pymongo_collection", classmethod(lambda _cls: fake))
    return fake


def rejected() -> MediaRejected:
    return MediaRejected(correlation_id="unit", media_id=uuid7(), owner_id=OWNER, reason="not a photo")


async def test_a_failure_not_the_stores_is_dead_lettered_and_the_batch_goes_on(collection: FakeCollection) -> None:
    runtime = DeadLetters()
    broken, fine = rejected(), rejected()
    gone = MediaDeleted(correlation_id="unit", media_id=uuid7(), owner_id=OWNER, reason="owner_deleted")
    collection.broken.add(broken.media_id)
    await PhotoEvents(runtime, IssuePhotos(PhotoRepository())).handle(consumed(TOPIC, broken, fine, gone, fine))  # type: ignore[arg-type]
    assert [(offset, reason) for offset, _, reason, _ in runtime.dead] == [(0, "failed")]
    assert "a document this code cannot write" in runtime.dead[0][3]
    assert collection.upserts == [  # the repeat of a message id within the batch: once
        (
            fine.media_id,
            {"owner_id": OWNER, "event_id": fine.message_id, "status": "rejected", "reason": "not a photo"},
        ),
        (gone.media_id, {"owner_id": OWNER, "event_id": gone.message_id, "status": "deleted", "variants": []}),
    ]


async def test_the_stores_failure_is_retried_not_dead_lettered(collection: FakeCollection) -> None:
    runtime, event = DeadLetters(), rejected()
    collection.unreachable_times = 2
    await PhotoEvents(runtime, IssuePhotos(PhotoRepository())).handle(consumed(TOPIC, event))  # type: ignore[arg-type]
    assert runtime.dead == []
    assert [media_id for media_id, _ in collection.upserts] == [event.media_id]
