"""The media service's subscriptions: parse a record, call the service (service.py), publish
what it returns. Dead-lettering, retries and offsets are decided here; what a message does to
the photos is decided in the service.

- ``media.commands.v1`` (group ``SNAPFIX_CONSUMER_GROUP``), one record at a time, dispatched by
  type. ``ProcessMedia``: a command that cannot be parsed, arrives past its ``accept_by``, or
  names a photo that was never uploaded, goes to the dead-letter topic; transient store
  failures are retried, then the record is left uncommitted and comes back. Anything else that
  fails is dead-lettered and the photo given up (``failed``, announced as ``MediaRejected``).
  ``SetIssuePhotos`` (from the issues service): the photos' links to reports
  (service.IssuePhotos); the deletions are announced, then the record is committed; a failure
  other than a transient one dead-letters it.
- ``users.events.v1`` (``media-users``): a deleted account's photos (service.OwnerErasure).
- ``media.events.v1`` (``media-cdn-purge``, only with ``SNAPFIX_CDN_PURGE_URL``): purge.py.

The media service follows no issues topic: it is told which photos a report shows by the
command above (its own contract, snapfix_shared.messages.media).

A record (or a batch) is committed only after its effects are stored and its events
acknowledged. A record that is not JSON, or a followed event that does not validate, goes to
the dead-letter topic; event types a subscriber does not follow are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Generic, ParamSpec, TypeVar

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.context import Context

from snapfix_media.config import MediaSettings
from snapfix_media.purge import GROUP as PURGE_GROUP
from snapfix_media.purge import PURGED, CachePurger
from snapfix_media.repository import RecordsUnavailable
from snapfix_media.service import IssuePhotos, OwnerErasure, Processing
from snapfix_media.storage import STORE_UNAVAILABLE
from snapfix_shared.consuming import (
    BatchConsumer,
    ShuttingDown,
    followed_event,
    raw_body,
    record_message,
    retry_transient,
    subscribe_batches,
)
from snapfix_shared.kafka import PublishFailed, accepted_too_late, header_map, publish, publish_all
from snapfix_shared.messages import (
    MEDIA_COMMANDS,
    MEDIA_EVENTS,
    USER_EVENTS,
    MediaDeleted,
    MediaEvent,
    Message,
    ProcessMedia,
    SetIssuePhotos,
    UserEvent,
)
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)
Record = ConsumerRecord[Any, Any]
P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=Message)
# Failures worth waiting out: the store or the broker is unreachable for a while.
TRANSIENT = (RecordsUnavailable, PublishFailed, *STORE_UNAVAILABLE)
USER_EVENTS_FOLLOWED = frozenset({"UserDeleted"})


class ProcessMediaHandler:
    """``media.commands.v1``: ``ProcessMedia`` (``processing``) and ``SetIssuePhotos`` (``photos``).

    Without ``photos`` (a test of the processing alone) a ``SetIssuePhotos`` is dead-lettered.
    """

    def __init__(
        self, runtime: Runtime, processing: Processing, *, group: str, photos: IssuePhotos | None = None
    ) -> None:
        self.runtime, self.processing, self.group, self.photos = runtime, processing, group, photos

    async def handle(self, record: Record) -> None:
        command = await record_message(self.runtime, record, group=self.group, adapter=MEDIA_COMMANDS)
        if command is None:  # poison: dead-lettered
            return
        if accepted_too_late(command, record):
            await self._dead_letter(record, "expired", f"appended after accept_by={command.accept_by}")
            return
        if isinstance(command, SetIssuePhotos):
            await self._set_photos(command, record)
        else:
            await self._process(command, record)

    async def _set_photos(self, command: SetIssuePhotos, record: Record) -> None:
        """Link and let go of a report's photos; announce the deletions before the record is committed."""
        if self.photos is None:
            await self._dead_letter(record, "unsupported", "this consumer does not apply SetIssuePhotos")
            return
        try:
            deleted = await self._retry(self.photos.apply, command)
        except (*TRANSIENT, ShuttingDown):
            raise  # not committed: the record comes back after the rebalance or restart
        except Exception as exc:  # fails the same way every time: poison
            log.exception("media command %s failed permanently", command.message_id)
            await self._dead_letter(record, "failed", f"{type(exc).__name__}: {exc}")
            return
        if deleted:  # not acknowledged: raised, not committed, and the redelivery announces the same
            context = propagate.extract(header_map(record))
            await publish_all(
                self.runtime.broker,
                Topic.MEDIA_EVENTS,
                [(d, context) for d in deleted],
                source=self.runtime.source,
                timeout_s=self.runtime.publish_timeout_s,
            )

    async def _process(self, command: ProcessMedia, record: Record) -> None:
        try:
            event = await self._retry(self.processing.apply, command, partial(self._dead_letter, record))
        except (*TRANSIENT, ShuttingDown):
            raise  # not committed: the record comes back after the rebalance or restart
        except Exception as exc:  # anything else fails the same way every time: poison
            log.exception("media command %s failed permanently", command.message_id)
            await self._dead_letter(record, "failed", f"{type(exc).__name__}: {exc}")
            event = await self._give_up_safely(command)
        if event is None:
            return
        token = otel_context.attach(propagate.extract(header_map(record)))
        try:
            await publish(
                self.runtime.broker,
                Topic.MEDIA_EVENTS,
                event,
                source=self.runtime.source,
                timeout_s=self.runtime.publish_timeout_s,
            )
        finally:
            otel_context.detach(token)

    async def _give_up_safely(self, command: ProcessMedia) -> MediaEvent | None:
        try:
            return await self._retry(self.processing.give_up, command)
        except (*TRANSIENT, ShuttingDown):
            raise  # not committed: the redelivery fails again, is dead-lettered again and gives up then
        except Exception:  # dead-lettered already; the photo stays pending for an operator
            log.exception("could not mark media %s failed", command.media_id)
            return None

    async def _retry(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        # Past the deadline the record is not committed and comes back later.
        return await retry_transient(TRANSIENT, fn, *args, **kwargs)

    async def _dead_letter(self, record: Record, reason: str, error: str) -> None:
        await self.runtime.dead_letter(record, group=self.group, reason=reason, error=error)


class DeletionsHandler(Generic[M]):
    """A batch of events whose effect is deleting photos: apply each, then announce the deletions."""

    def __init__(
        self, runtime: Runtime, consumer: BatchConsumer[M], apply: Callable[[M], Awaitable[list[MediaDeleted]]]
    ) -> None:
        self.runtime, self.consumer, self.apply = runtime, consumer, apply

    async def handle(self, records: Sequence[Record]) -> None:
        announcements: list[tuple[Message, Context]] = []
        for deleted, record in await self.consumer.apply_each(records, self.apply):
            context = propagate.extract(header_map(record))  # each in the trace that caused it
            announcements.extend((d, context) for d in deleted)
        if announcements:  # past the deadline the batch is not committed and comes back later
            await self.consumer.retry(
                publish_all,
                self.runtime.broker,
                Topic.MEDIA_EVENTS,
                announcements,
                source=self.runtime.source,
                timeout_s=self.runtime.publish_timeout_s,
            )


def user_events_handler(runtime: Runtime, erasure: OwnerErasure, *, group: str) -> DeletionsHandler[UserEvent]:
    consumer = BatchConsumer(runtime, group, USER_EVENTS, TRANSIENT, USER_EVENTS_FOLLOWED)
    return DeletionsHandler(runtime, consumer, erasure.erase)


def subscribe_media_commands(runtime: Runtime, handler: ProcessMediaHandler, settings: MediaSettings) -> None:
    @runtime.broker.subscriber(
        Topic.MEDIA_COMMANDS,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        decoder=raw_body,
        title="media-commands",
        description=(
            "Processes stored originals into clean public variants and announces the outcome; links photos to "
            "the reports that show them (SetIssuePhotos) and deletes those no report shows any more."
        ),
    )
    async def on_media_command(_body: bytes, message: KafkaMessage) -> None:
        await handler.handle(message.raw_message)  # type: ignore[arg-type]


def subscribe_user_events(runtime: Runtime, handler: DeletionsHandler[Any], settings: MediaSettings) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.USERS_EVENTS,
        group=settings.media_users_group,
        handle=handler.handle,
        max_records=100,
        title="media-users",
        description="Deletes a deleted account's photos that no report names.",
    )


def subscribe_cdn_purge(runtime: Runtime, settings: MediaSettings) -> CachePurger | None:
    """Subscribe the purger when a purge URL is configured; nothing otherwise."""
    if not settings.cdn_purge_url:
        return None
    purger = CachePurger(
        settings.cdn_purge_url, method=settings.cdn_purge_method, timeout_s=settings.cdn_purge_timeout_s
    )
    runtime.after_stop.append(purger.close)

    @runtime.broker.subscriber(
        Topic.MEDIA_EVENTS,
        group_id=PURGE_GROUP,
        # A new group purges past deletions once too: harmless (idempotent), and none is missed.
        auto_offset_reset="earliest",
        decoder=raw_body,
        title="media-cdn-purge",
        description="Purges the cached variants of deleted photos from the CDN or nginx cache.",
    )
    async def on_media_event(_body: bytes, message: KafkaMessage) -> None:
        record: Record = message.raw_message  # type: ignore[assignment]
        event = await followed_event(runtime, record, group=PURGE_GROUP, adapter=MEDIA_EVENTS, followed=PURGED)
        if isinstance(event, MediaDeleted):
            await purger.forget(event)

    return purger
