"""The media service's SetIssuePhotos command (media.commands.v1), in memory (TestKafkaBroker, a fake
repository and store); and that the media service follows no issues.events.v1 any more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from faststream.kafka import TestKafkaBroker
from pymongo.errors import AutoReconnect
from uuid_utils.compat import uuid7

from snapfix_media.app import create_app
from snapfix_media.config import MediaSettings
from snapfix_media.consumers import ProcessMediaHandler, subscribe_media_commands
from snapfix_media.models import Media
from snapfix_media.service import IssuePhotos, Processing, blob_keys
from snapfix_shared.messages import MEDIA_EVENTS, MediaDeleted, Message, SetIssuePhotos
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.media import IssuePhotoReason
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

pytestmark = pytest.mark.unit

REPORTER, NEIGHBOUR = "user-reporter", "user-neighbour"


@dataclass
class FakeRepo:
    """The media collection in memory, with the repository's compare-and-set rules."""

    docs: dict[UUID, Media] = field(default_factory=dict)

    async def get(self, media_id: UUID) -> Media | None:
        return self.docs.get(media_id)

    async def of_issue(self, issue_id: UUID) -> list[Media]:
        return [m for m in self.docs.values() if issue_id in m.issue_ids]

    async def attach(self, media_id: UUID, issue_id: UUID, owner_id: str) -> bool:
        m = self.docs.get(media_id)
        if m is None or m.owner_id != owner_id or m.status == "deleted" or issue_id in m.issue_ids:
            return False
        self._set(m, issue_ids=[*m.issue_ids, issue_id])
        return True

    async def relink(self, media: Media, issue_ids: list[UUID]) -> bool:
        m = self.docs[media.id]
        if m.links_version != media.links_version or m.status == "deleted":
            return False
        self._set(m, issue_ids=issue_ids)
        return True

    async def mark_deleted(self, media: Media, event: dict[str, Any], *, reason: str, at: Any) -> bool:
        m = self.docs[media.id]
        if m.links_version != media.links_version or m.status == "deleted":
            return False
        self._set(m, status="deleted", deleted_event=event, deleted_at=at, reason=reason, variants=[])
        return True

    def _set(self, m: Media, **fields: Any) -> None:
        self.docs[m.id] = m.model_copy(update={**fields, "links_version": m.links_version + 1})


@dataclass
class FakeStore:
    blobs: dict[str, bytes] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    failures: int = 0  # deletes that fail (transiently) before one succeeds

    async def delete(self, key: str) -> None:
        if self.failures:
            self.failures -= 1
            raise AutoReconnect("the store went away for a moment")
        if self.blobs.pop(key, None) is not None:
            self.deleted.append(key)


@dataclass
class Harness:
    broker: Any
    repo: FakeRepo
    store: FakeStore
    events: Any
    dead_letters: Any

    def photo(self, owner: str = REPORTER) -> UUID:
        media_id = UUID(str(uuid7()))
        now = utcnow()
        self.repo.docs[media_id] = Media.model_construct(  # no Beanie init in memory
            id=media_id,
            owner_id=owner,
            declared_type="image/jpeg",
            declared_size=10,
            status="processed",
            created_at=now,
            upload_expires_at=now + timedelta(minutes=15),
            variants=[{"name": "thumb.webp", "content_type": "image/webp", "etag": '"x"'}],
        )
        self.store.blobs.update(dict.fromkeys(blob_keys(media_id), b"bytes"))
        return media_id

    def stored(self, media_id: UUID) -> set[str]:
        return {k for k in self.store.blobs if k.startswith(str(media_id))}

    def deletions(self) -> list[MediaDeleted]:
        events = [MEDIA_EVENTS.validate_python(c.args[0]) for c in self.events.call_args_list]
        return [e for e in events if isinstance(e, MediaDeleted)]

    async def send(self, event: Message | bytes) -> None:
        body = event if isinstance(event, bytes) else event.model_dump_json().encode()
        await self.broker.publish(body, Topic.MEDIA_COMMANDS)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    settings = MediaSettings(kafka_bootstrap_servers="127.0.0.1:1", mongo_url="mongodb://127.0.0.1:1/")
    runtime = Runtime("media-unit", settings, mongo_database="unit")
    repo, store = FakeRepo(), FakeStore()
    processing = Processing(repo, store, None)  # type: ignore[arg-type]  # no photo is processed here
    handler = ProcessMediaHandler(runtime, processing, group="media", photos=IssuePhotos(repo, store))  # type: ignore[arg-type]
    subscribe_media_commands(runtime, handler, settings)

    @runtime.broker.subscriber(Topic.MEDIA_EVENTS, group_id="spy-events")
    async def events(_: Any) -> None: ...

    @runtime.broker.subscriber(Topic.MEDIA_COMMANDS.dlq, group_id="spy-dlq")
    async def dead_letters(_: Any) -> None: ...

    async with TestKafkaBroker(runtime.broker) as broker:
        yield Harness(broker, repo, store, events.mock, dead_letters.mock)


def photos(
    issue_id: UUID, reason: IssuePhotoReason, *media_ids: UUID, owner: str = REPORTER, actor: str = REPORTER
) -> SetIssuePhotos:
    return SetIssuePhotos(
        issue_id=issue_id, owner_id=owner, media_ids=media_ids, reason=reason, correlation_id="c", actor_id=actor
    )


def reported(issue_id: UUID, *media_ids: UUID, owner: str = REPORTER) -> SetIssuePhotos:
    return photos(issue_id, "reported", *media_ids, owner=owner, actor=owner)


def withdrawn(issue_id: UUID) -> SetIssuePhotos:
    return photos(issue_id, "withdrawn")


async def test_a_withdrawn_report_loses_its_photos_once_and_a_redelivery_re_announces_the_same(
    harness: Harness,
) -> None:
    issue = uuid7()
    photo = harness.photo()
    await harness.send(reported(issue, photo, uuid7()))  # an unknown id is ignored
    assert harness.repo.docs[photo].issue_ids == [issue]
    harness.events.assert_not_called()

    event = withdrawn(issue)
    await harness.send(event)
    media = harness.repo.docs[photo]
    assert (media.status, media.variants) == ("deleted", [])
    assert harness.stored(photo) == set()
    [deleted] = harness.deletions()
    assert (deleted.media_id, deleted.owner_id, deleted.reason, deleted.issue_id) == (
        photo,
        REPORTER,
        "issue_withdrawn",
        issue,
    )
    assert deleted.causation_id == str(event.message_id)  # caused by the command
    assert (deleted.correlation_id, deleted.actor_id) == ("c", REPORTER)

    removed = len(harness.store.deleted)
    await harness.send(event)
    assert len(harness.store.deleted) == removed  # nothing deleted twice
    assert harness.deletions() == [deleted, deleted]  # message id included
    harness.dead_letters.assert_not_called()


async def test_someone_elses_photo_is_never_attached_nor_deleted(harness: Harness) -> None:
    issue, theirs = uuid7(), harness.photo(NEIGHBOUR)
    await harness.send(reported(issue, theirs))  # a forged or buggy sender: the owner is not the photo's
    assert harness.repo.docs[theirs].issue_ids == []
    await harness.send(withdrawn(issue))

    assert harness.repo.docs[theirs].status == "processed"
    assert len(harness.stored(theirs)) == len(blob_keys(theirs))
    harness.events.assert_not_called()


async def test_a_photo_stays_while_another_of_its_owners_reports_names_it(harness: Harness) -> None:
    first, second, photo = uuid7(), uuid7(), harness.photo()
    await harness.send(reported(first, photo))
    await harness.send(reported(second, photo))
    await harness.send(withdrawn(first))
    assert harness.repo.docs[photo].status == "processed"
    assert harness.repo.docs[photo].issue_ids == [second]

    await harness.send(withdrawn(second))
    assert harness.repo.docs[photo].status == "deleted"
    assert [d.issue_id for d in harness.deletions()] == [second]


async def test_an_edit_that_drops_a_photo_deletes_it(harness: Harness) -> None:
    issue, kept, dropped, added = uuid7(), harness.photo(), harness.photo(), harness.photo()
    await harness.send(reported(issue, kept, dropped))
    edit = photos(issue, "edited", kept, added)
    await harness.send(edit)

    assert harness.repo.docs[dropped].status == "deleted"
    assert harness.repo.docs[kept].status == harness.repo.docs[added].status == "processed"
    assert harness.repo.docs[added].issue_ids == [issue]
    assert [(d.media_id, d.reason) for d in harness.deletions()] == [(dropped, "removed_from_issue")]

    # A later edit naming the same list announces nothing again; a withdrawal takes the rest.
    await harness.send(edit.model_copy(update={"message_id": uuid7()}))
    assert len(harness.deletions()) == 1
    await harness.send(withdrawn(issue))
    assert {d.media_id for d in harness.deletions()} == {dropped, kept, added}


async def test_a_store_failure_between_the_mark_and_the_deletes_is_finished_by_the_retry(harness: Harness) -> None:
    issue, photo = uuid7(), harness.photo()
    await harness.send(reported(issue, photo))
    harness.store.failures = 1
    await harness.send(withdrawn(issue))

    assert harness.stored(photo) == set()
    assert len(harness.deletions()) == 1


async def test_an_edit_lets_go_only_of_the_owners_photos(harness: Harness) -> None:
    issue, mine = uuid7(), harness.photo()
    await harness.send(reported(issue, mine))
    # Another owner's edit of the report (a forged sender) drops nothing of the reporter's.
    await harness.send(photos(issue, "edited", owner=NEIGHBOUR, actor=NEIGHBOUR))
    assert harness.repo.docs[mine].status == "processed"
    await harness.send(photos(issue, "edited"))  # the reporter's edit that takes every photo out
    assert harness.repo.docs[mine].status == "deleted"
    assert [(d.media_id, d.reason) for d in harness.deletions()] == [(mine, "removed_from_issue")]


async def test_poison_commands_are_dead_lettered(harness: Harness) -> None:
    poison = (
        b"not json",
        b"[1, 2]",
        b'{"type": "SetIssuePhotos", "issue_id": "nope"}',
        b'{"type": "IssueReported", "x": 1}',  # an issues event is no media command
    )
    for body in poison:
        await harness.send(body)
    assert harness.dead_letters.call_count == len(poison)
    harness.events.assert_not_called()


def test_the_media_service_follows_no_issues_events() -> None:
    """Photos flow one way: the media service takes commands on its own topic and reads no issues topic."""
    app = create_app(MediaSettings(cdn_purge_url="http://cache/purge{path}"))
    subscribed = {(sub.group_id, topic.name) for sub in app.state.runtime.broker.subscribers for topic in sub.topics}
    assert subscribed == {
        ("media", Topic.MEDIA_COMMANDS.value),
        ("media-users", Topic.USERS_EVENTS.value),
        ("media-cdn-purge", Topic.MEDIA_EVENTS.value),
    }
    assert not any(topic.startswith("issues.") for _, topic in subscribed)
