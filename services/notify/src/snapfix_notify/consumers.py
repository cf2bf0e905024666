"""Subscribers of ``users.events.v1`` (group notify-users) and ``issues.events.v1`` (group
notify-issues): parse the records, hand each event to ``service.py``, then commit.

Records that are not JSON, or relevant events that do not validate, go to the dead-letter
topic; types notify does not follow are skipped. Store failures are retried with backoff;
past the deadline the batch is not committed. An issue batch's deliveries are recorded
before it is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial, update_wrapper
from typing import Any

from aiokafka import ConsumerRecord
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from snapfix_notify.channels.push.devices import DeviceRepository
from snapfix_notify.config import NotifySettings
from snapfix_notify.dispatch import Dispatcher
from snapfix_notify.repository import (
    Contacts,
    DigestItems,
    Issues,
    PersonalData,
    Preferences,
    StoreUnreachable,
    Watches,
)
from snapfix_notify.service import Batch, IssueEvents, UserEvents
from snapfix_shared.consuming import BatchConsumer, subscribe_batches
from snapfix_shared.messages import ISSUE_EVENTS, USER_EVENTS, IssueEvent, UserEvent
from snapfix_shared.redis_client import RedisBusy
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

Record = ConsumerRecord[Any, Any]
TRANSIENT = (StoreUnreachable, RedisConnectionError, RedisTimeoutError, RedisBusy)
ISSUE_TYPES = frozenset(
    {"IssueReported", "IssueStatusChanged", "IssueCommented", "IssueFollowed", "IssueAssigned", "IssueEdited"}
)
USER_TYPES = frozenset(
    {
        "UserRegistered",
        "EmailVerificationRequested",
        "UserEmailVerified",
        "PasswordResetRequested",
        "RegistrationAttempted",
        "UserUpdated",
        "UserDeleted",
    }
)


class UserEventsHandler:
    """Contacts and account emails (``service.UserEvents``), one event at a time."""

    def __init__(
        self,
        runtime: Runtime,
        dispatcher: Dispatcher,
        contacts: Contacts,
        *,
        group: str,
        personal: PersonalData | None = None,
        devices: DeviceRepository | None = None,
    ) -> None:
        self.consumer = BatchConsumer(runtime, group, USER_EVENTS, TRANSIENT, USER_TYPES)
        self.service = UserEvents(dispatcher, contacts, personal=personal, devices=devices)

    async def handle(self, records: Sequence[Record]) -> None:
        await self.consumer.apply_each(records, self._apply)

    async def _apply(self, event: UserEvent) -> None:  # the retry counter's operation label
        await self.service.apply(event)


class IssueEventsHandler:
    """Who hears what (``service.IssueEvents``); the batch's deliveries recorded before the commit."""

    def __init__(
        self,
        runtime: Runtime,
        dispatcher: Dispatcher,
        *,
        contacts: Contacts,
        issues: Issues,
        preferences: Preferences,
        watches: Watches,
        digests: DigestItems,
        base_url: str,
        group: str,
        web_base_url: str | None = None,
    ) -> None:
        self.consumer = BatchConsumer(runtime, group, ISSUE_EVENTS, TRANSIENT, ISSUE_TYPES)
        self.service = IssueEvents(
            dispatcher,
            contacts=contacts,
            issues=issues,
            preferences=preferences,
            watches=watches,
            digests=digests,
            base_url=base_url,
            web_base_url=web_base_url,
        )

    async def handle(self, records: Sequence[Record]) -> None:
        batch = Batch()
        # Named as _apply itself: the retry counter keeps its operation label.
        apply = update_wrapper(partial(self._apply, batch=batch), self._apply)
        await self.consumer.apply_each(records, apply)
        await self.consumer.retry(self._flush, batch)  # before the commit

    async def _apply(self, event: IssueEvent, batch: Batch) -> None:
        await self.service.apply(event, batch)

    async def _flush(self, batch: Batch) -> None:
        await self.service.flush(batch)


def register(runtime: Runtime, users: UserEventsHandler, issues: IssueEventsHandler, settings: NotifySettings) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.USERS_EVENTS,
        group=settings.notify_users_group,
        handle=users.handle,
        max_records=settings.events_batch,
        title="notify-users",
        description="Keeps notify's contacts; sends the verification emails accounts ask for.",
    )

    subscribe_batches(
        runtime.broker,
        Topic.ISSUES_EVENTS,
        group=settings.notify_issues_group,
        handle=issues.handle,
        max_records=settings.events_batch,
        title="notify-issues",
        description="Keeps notify's view of reports; records who is told what, on which channel.",
    )
