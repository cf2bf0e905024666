"""Subscribers of the issues service: parse a record, call the service (``service/``), publish
what it returns, then commit. Dead-lettering, publishing and offsets are decided here.

- ``issues.commands.v1`` (group ``SNAPFIX_CONSUMER_GROUP``): every issue command
  (``service.IssueCommands``). Commands arrive in batches. A batch's reports are stored in
  chunks, concurrently, each started as soon as its records are parsed; its other commands
  are then applied one by one in record order (one issue's commands share a partition and a
  report precedes its issue's later commands, so per-issue order holds). A batch is
  committed only after its effects are stored and their events acknowledged. Where a report,
  an edit or a withdrawal concerns photos, the media service is told which photos the report
  now shows with ``SetIssuePhotos`` on ``media.commands.v1`` (its own contract; the media
  service follows none of this service's events), acknowledged before the commit too. A
  redelivered command stores nothing twice and re-publishes the messages it produced first
  (the same ids). A report refused here (the gateway accepted it against its copy of the
  catalogue) is kept as a rejection and announced as ``ReportRejected``; other refused
  commands are dead-lettered, and so are commands that cannot be parsed, arrive past their
  ``accept_by`` or lack the gateway's proof of their actor.
- ``media.events.v1`` (``issues-media``): the ``photos`` projection (``service.IssuePhotos``).
- ``users.events.v1`` (``SNAPFIX_ISSUES_USERS_GROUP``): a deleted account's traces
  (``service.UserErasure``); other user events are skipped.

On the two event topics a record that is not JSON, or an event that does not validate, goes
to the dead-letter topic; a store or read-model failure is retried, then the batch is left
uncommitted; any other failure of one event is dead-lettered (``failed``) and the batch goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord
from opentelemetry import propagate
from opentelemetry.context import Context

from snapfix_issues.cache import IssueCache
from snapfix_issues.catalogue import Catalogue
from snapfix_issues.config import IssuesSettings
from snapfix_issues.readmodel import ReadModel, ReadModelDown
from snapfix_issues.repository import Reports, StoreError
from snapfix_issues.service import CatalogueHooks, IssueCommands, IssuePhotos, Outcome, Refused, UserErasure
from snapfix_shared.consuming import BatchConsumer, record_message, subscribe_batches
from snapfix_shared.kafka import accepted_too_late, header_map, publish_all
from snapfix_shared.messages import (
    ISSUE_COMMANDS,
    MEDIA_EVENTS,
    USER_EVENTS,
    IssueCommand,
    MediaEvent,
    Message,
    ReportIssue,
    SetIssuePhotos,
    UserEvent,
)
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)

Record = ConsumerRecord[Any, Any]
# A batch's reports are stored in chunks of this size, concurrently, each started as soon as
# its records are parsed (bench/run.py consumer: 250 cost the store less CPU per report than 125).
REPORT_CHUNK = 250
# media.events.v1: the photos' projection has a group of its own.
MEDIA_EVENTS_GROUP = "issues-media"
USER_EVENTS_FOLLOWED = frozenset({"UserDeleted"})


@dataclass
class Batch:
    announcements: list[tuple[Message, Context]] = field(default_factory=list)
    media_commands: list[tuple[Message, Context]] = field(default_factory=list)

    def announce(self, messages: Sequence[Message], record: Record) -> None:
        # Each message is published in the trace of the request that caused it.
        context = propagate.extract(header_map(record))
        for message in messages:
            sent = self.media_commands if isinstance(message, SetIssuePhotos) else self.announcements
            sent.append((message, context))


class IssueCommandHandler:
    def __init__(
        self,
        runtime: Runtime,
        repo: Reports,
        cache: IssueCache,
        readmodel: ReadModel,
        catalogue: Catalogue,
        *,
        group: str,
        sync: CatalogueHooks | None = None,
        require_actor_proof: bool = True,
    ) -> None:
        self.runtime, self.group, self.require_actor_proof = runtime, group, require_actor_proof
        self.service = IssueCommands(repo, cache, readmodel, catalogue, sync=sync)

    async def handle(self, records: Sequence[Record]) -> None:
        async with self.service.applying():
            await self._handle(records)

    async def _handle(self, records: Sequence[Record]) -> None:
        """Reports are stored in chunks while the rest of the batch is still parsed; the other
        commands follow, in record order, once every report of the batch is stored and announced."""
        others: list[tuple[IssueCommand, Record]] = []
        refreshed = False
        try:
            async with asyncio.TaskGroup() as group:  # one chunk failing cancels the others: no commit
                chunk: list[tuple[ReportIssue, Record]] = []
                for index, record in enumerate(records):
                    command = await self._parse(record)
                    if command is not None and await self._actor_proven(command, record):
                        if isinstance(command, ReportIssue):
                            chunk.append((command, record))
                        else:
                            others.append((command, record))
                    if chunk and (len(chunk) == REPORT_CHUNK or index == len(records) - 1):
                        if not refreshed:  # once a batch
                            refreshed = await self.service.refresh_for([c for c, _ in chunk])
                        group.create_task(self._apply_reports(chunk))
                        chunk = []
                        # The chunk runs up to its first write (the store, Redis, the broker) while
                        # the next one is parsed: the wait overlaps this CPU work.
                        await asyncio.sleep(0)
        except ExceptionGroup as failed:  # the first failure, as a sequential loop would raise it
            raise failed.exceptions[0] from None
        batch = Batch()
        for command, record in others:
            await self._settle(await self.service.apply(command), record, batch)
        await self._publish(batch)

    async def _apply_reports(self, chunk: list[tuple[ReportIssue, Record]]) -> None:
        """Store a chunk of reports, announce them (and those refused), all acknowledged on return."""
        batch = Batch()
        for index, outcome in await self.service.apply_reports([c for c, _ in chunk]):
            await self._settle(outcome, chunk[index][1], batch)
        await self._publish(batch)

    async def _settle(self, outcome: Outcome, record: Record, batch: Batch) -> None:
        if isinstance(outcome, Refused):
            await self._dead_letter(record, outcome.reason, outcome.error)
        else:
            batch.announce(outcome, record)

    async def _publish(self, batch: Batch) -> None:
        """Every message acknowledged on return (raises otherwise: the batch is not committed)."""
        sent = [(Topic.ISSUES_EVENTS, batch.announcements), (Topic.MEDIA_COMMANDS, batch.media_commands)]
        for topic, messages in sent:
            if messages:
                await publish_all(
                    self.runtime.broker,
                    topic,
                    messages,
                    source=self.runtime.source,
                    timeout_s=self.runtime.publish_timeout_s,
                )

    async def _parse(self, record: Record) -> IssueCommand | None:
        command = await record_message(self.runtime, record, group=self.group, adapter=ISSUE_COMMANDS)
        if command is None:  # poison: dead-lettered
            return None
        if accepted_too_late(command, record):
            await self._dead_letter(
                record, "expired", f"appended after accept_by={command.accept_by}; the sender had reported failure"
            )
            return None
        return command

    async def _actor_proven(self, command: IssueCommand, record: Record) -> bool:
        """Only the gateway vouches for an actor: a command without its valid proof is dead-lettered, never applied.

        The rules trust ``actor_id``, ``actor_role`` and ``actor_departments``; the proof (an HMAC
        over them, the command's type, id and issue) does not expire, as a command may wait in the log.
        """
        if self.runtime.internal_tokens.command_verified(command):
            return True
        if not self.require_actor_proof:  # upgrading: applied as before, and logged
            log.warning("command %s applied without a proven actor (require_actor_proof off)", command.message_id)
            return True
        await self._dead_letter(record, "unverified", f"the actor of {command.message_id} is not proven by the gateway")
        return False

    async def _dead_letter(self, record: Record, reason: str, error: str) -> None:
        await self.runtime.dead_letter(record, group=self.group, reason=reason, error=error)


def register(runtime: Runtime, handler: IssueCommandHandler, settings: IssuesSettings) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.ISSUES_COMMANDS,
        group=settings.consumer_group,
        handle=handler.handle,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        title="issues-commands",
        description="Applies issue commands (reports, lifecycle, comments, votes, follows) and announces their events.",
    )


class PhotoEvents:
    """``media.events.v1`` into the ``photos`` projection: any media event is parsed, one at a time."""

    def __init__(self, runtime: Runtime, photos: IssuePhotos) -> None:
        self.photos = photos
        self.consumer: BatchConsumer[MediaEvent] = BatchConsumer(
            runtime, MEDIA_EVENTS_GROUP, MEDIA_EVENTS, (StoreError,)
        )

    async def handle(self, records: Sequence[Record]) -> None:
        await self.consumer.apply_each(records, self.photos.apply)


def register_photo_events(runtime: Runtime, events: PhotoEvents) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.MEDIA_EVENTS,
        group=MEDIA_EVENTS_GROUP,
        handle=events.handle,
        max_records=200,
        title="issues-media-events",
        description="Follows what became of the photos reports name (processed, rejected, deleted).",
    )


class UserEvents:
    """``users.events.v1``: each ``UserDeleted`` erased here (idempotent)."""

    def __init__(self, runtime: Runtime, erasure: UserErasure, *, group: str) -> None:
        self.erasure = erasure
        self.consumer: BatchConsumer[UserEvent] = BatchConsumer(
            runtime, group, USER_EVENTS, (StoreError, ReadModelDown), USER_EVENTS_FOLLOWED
        )

    async def handle(self, records: Sequence[Record]) -> None:
        await self.consumer.apply_each(records, self.erasure.erase)


def register_user_events(runtime: Runtime, events: UserEvents, settings: IssuesSettings) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.USERS_EVENTS,
        group=settings.issues_users_group,
        handle=events.handle,
        max_records=100,
        title="issues-users",
        description="Anonymises a deleted account's reports and comments; removes its votes and follows.",
    )
