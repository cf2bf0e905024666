"""``UserDeleted``: its contract, and how notify and media take it in (in memory: fakes of their stores).

The whole path, on the real stack and every store, is tests/e2e/test_privacy.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from faststream.kafka import TestKafkaBroker
from uuid_utils.compat import uuid7

from snapfix_media.config import MediaSettings
from snapfix_media.consumers import subscribe_user_events, user_events_handler
from snapfix_media.models import Media
from snapfix_media.service import OWNER_DELETED, OwnerErasure, blob_keys
from snapfix_notify.consumers import UserEventsHandler
from snapfix_shared.messages import MEDIA_EVENTS, USER_EVENTS, MediaDeleted, UserDeleted, UserRegistered
from snapfix_shared.messages.base import utcnow
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic
from tests.builders import consumed
from tests.unit.test_media_issue_photos import FakeRepo, FakeStore

pytestmark = pytest.mark.unit

TOPIC = "users.events.v1"

USER = UUID(str(uuid7()))
OWNER = str(USER)


def deleted(user: UUID = USER) -> UserDeleted:
    return UserDeleted(correlation_id="unit", actor_id=str(user), user_id=user, deleted_at=utcnow())


def test_the_event_carries_no_personal_data_and_travels_on_the_users_topic() -> None:
    event = deleted()
    assert set(UserDeleted.model_fields) & {"email", "display_name", "contact", "name"} == set()
    assert USER_EVENTS.validate_json(event.model_dump_json()) == event
    assert event.partition_key() == OWNER  # after the account's earlier events, on their partition


# -- notify ---------------------------------------------------------------------------------


@dataclass
class Contacts:
    gone: set[str] = field(default_factory=set)
    states: list[str] = field(default_factory=list)

    async def forget(self, user_id: str) -> None:
        self.gone.add(user_id)

    async def deleted(self, user_id: str) -> bool:
        return user_id in self.gone

    async def set_state(self, user_id: str, *_: Any, **__: Any) -> bool:
        self.states.append(user_id)
        return True


@dataclass
class Erased:
    users: list[str] = field(default_factory=list)

    async def erase(self, user_id: str) -> dict[str, int]:
        self.users.append(user_id)
        return {}

    async def forget_user(self, user_id: str) -> int:
        self.users.append(f"devices:{user_id}")
        return 0


def notify_consumer(contacts: Contacts, erased: Erased, known: list[str]) -> UserEventsHandler:
    async def contact_known(user_id: str) -> None:
        known.append(user_id)

    handler = UserEventsHandler(
        SimpleNamespace(),  # type: ignore[arg-type]
        SimpleNamespace(contact_known=contact_known),  # type: ignore[arg-type]
        contacts,  # type: ignore[arg-type]
        group="notify-users-unit",
        personal=erased,  # type: ignore[arg-type]
        devices=erased,  # type: ignore[arg-type]
    )
    return handler


async def test_notify_erases_the_user_and_a_replayed_registration_brings_nothing_back() -> None:
    contacts, erased, known = Contacts(), Erased(), list[str]()
    handler = notify_consumer(contacts, erased, known)
    registered = UserRegistered(
        correlation_id="unit", user_id=USER, email="gone@example.org", display_name="Gone", role="citizen"
    )
    await handler.handle(consumed(TOPIC, deleted()))
    assert contacts.gone == {OWNER}
    assert erased.users == [OWNER, f"devices:{OWNER}"]
    # A replay of the account's older events (a consumer reset, a dead letter replayed): skipped.
    await handler.handle(consumed(TOPIC, registered))
    assert contacts.states == []
    assert known == []
    # Twice: the same erasure again, nothing else.
    await handler.handle(consumed(TOPIC, deleted()))
    assert erased.users == [OWNER, f"devices:{OWNER}"] * 2


# -- media ----------------------------------------------------------------------------------


@dataclass
class Repo(FakeRepo):
    slots_freed: list[UUID] = field(default_factory=list)

    async def owned_by(self, owner_id: str) -> list[Media]:
        return [m for m in self.docs.values() if m.owner_id == owner_id]

    async def release_slot(self, media_id: UUID, _owner_id: str | None = None) -> None:
        self.slots_freed.append(media_id)

    async def expire(self, media_id: UUID, *, reason: str, at: Any) -> bool:
        m = self.docs[media_id]
        if m.status != "awaiting_upload":
            return False
        self._set(m, status="expired", reason=reason, expired_at=at)
        return True

    async def settle_unattached(self, media_id: UUID) -> None:
        self._set(self.docs[media_id], unattached_since=None)


@dataclass
class Media_:
    broker: Any
    repo: Repo
    store: FakeStore
    events: Any

    def photo(self, *, owner: str = OWNER, status: str = "processed", issues: tuple[UUID, ...] = ()) -> UUID:
        media_id = UUID(str(uuid7()))
        now = utcnow()
        self.repo.docs[media_id] = Media.model_construct(
            id=media_id,
            owner_id=owner,
            declared_type="image/jpeg",
            declared_size=10,
            status=status,
            created_at=now,
            upload_expires_at=now + timedelta(minutes=15),
            variants=[],
            issue_ids=list(issues),
            links_version=0,
            deleted_event=None,
        )
        self.store.blobs.update(dict.fromkeys(blob_keys(media_id), b"bytes"))
        return media_id

    def deletions(self) -> list[MediaDeleted]:
        events = [MEDIA_EVENTS.validate_python(c.args[0]) for c in self.events.call_args_list]
        return [e for e in events if isinstance(e, MediaDeleted)]


@pytest.fixture
async def media() -> AsyncIterator[Media_]:
    settings = MediaSettings(kafka_bootstrap_servers="127.0.0.1:1", mongo_url="mongodb://127.0.0.1:1/")
    runtime = Runtime("media-unit", settings, mongo_database="unit")
    repo, store = Repo(), FakeStore()
    erasure = OwnerErasure(repo, store)  # type: ignore[arg-type]
    subscribe_user_events(runtime, user_events_handler(runtime, erasure, group="media-users"), settings)

    @runtime.broker.subscriber(Topic.MEDIA_EVENTS, group_id="spy-events")
    async def events(_: Any) -> None: ...

    async with TestKafkaBroker(runtime.broker) as broker:
        yield Media_(broker, repo, store, events.mock)


async def test_media_deletes_the_photos_no_report_names_and_keeps_those_of_public_reports(media: Media_) -> None:
    report = UUID(str(uuid7()))
    loose, rejected, shown = media.photo(), media.photo(status="rejected"), media.photo(issues=(report,))
    waiting = media.photo(status="awaiting_upload")
    someone_elses = media.photo(owner="another-user")
    event = deleted()

    await media.broker.publish(event.model_dump_json().encode(), Topic.USERS_EVENTS)

    gone = {m.media_id for m in media.deletions()}
    assert gone == {loose, rejected}
    assert all(m.reason == OWNER_DELETED and m.causation_id == str(event.message_id) for m in media.deletions())
    for media_id in (loose, rejected):
        assert media.repo.docs[media_id].status == "deleted"
        assert not any(k.startswith(str(media_id)) for k in media.store.blobs)
    assert media.repo.docs[waiting].status == "expired"
    assert media.repo.docs[shown].status == "processed"
    assert any(k.startswith(str(shown)) for k in media.store.blobs)
    assert media.repo.docs[someone_elses].status == "processed"

    # Redelivered: nothing deleted twice, the very same announcements again (deduplicable by id).
    first = [m.message_id for m in media.deletions()]
    await media.broker.publish(event.model_dump_json().encode(), Topic.USERS_EVENTS)
    assert sorted(str(i) for i in [m.message_id for m in media.deletions()]) == sorted(str(i) for i in first * 2)
