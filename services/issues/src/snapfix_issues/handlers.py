"""Subscribers of the issues service: parse, decide, store, announce, then commit.

Commands arrive in batches: one bulk write and one offset commit per batch. A batch is
committed only after its reports are stored and their events acknowledged by the broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from opentelemetry import propagate
from pydantic import ValidationError
from pymongo.errors import PyMongoError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from snapfix_issues.cache import IssueCache
from snapfix_issues.config import IssuesSettings
from snapfix_issues.domain import IssueRecord
from snapfix_issues.repository import Reports
from snapfix_issues.service import new_report, public_view, reported_event
from snapfix_shared.kafka import accepted_too_late, dead_letter, header_map, publish_all
from snapfix_shared.messages import ISSUE_COMMANDS, ReportIssue
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)


async def raw_bodies(msg: StreamMessage[Any]) -> Any:
    """Leave decoding to the handler, so a body that is not JSON is a dead letter, not a crash."""
    return msg.body


class IssueCommandHandler:
    def __init__(self, runtime: Runtime, repo: Reports, cache: IssueCache, group: str) -> None:
        self.runtime, self.repo, self.cache, self.group = runtime, repo, cache, group

    async def handle(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        commands: list[tuple[ReportIssue, ConsumerRecord[Any, Any]]] = []
        for record in records:
            command = await self._parse(record)
            if command is not None:
                commands.append((command, record))
        if not commands:
            return

        reports = [new_report(command) for command, _ in commands]
        existing = await self._store(reports)
        # A redelivered command re-announces what was stored the first time, unchanged.
        # (Read back one by one on _id: FerretDB answers $in with a full scan.)
        stored = {r.id: r for r in reports if r.id not in existing}
        found = await asyncio.gather(*map(self.repo.get, existing))
        stored.update({r.id: r for r in found if r is not None})

        announcements = []
        for command, record in commands:
            if command.issue_id in stored:
                # Each event is published in the trace of the request that caused it.
                announcements.append((reported_event(stored[command.issue_id]), propagate.extract(header_map(record))))
            else:  # its command id already created another issue: a conflict, not worth a retry
                await self._dead_letter(record, "conflict", f"command {command.message_id} created another issue")
        await publish_all(
            self.runtime.broker,
            Topic.ISSUES_EVENTS,
            announcements,
            source=self.runtime.source,
            timeout_s=self.runtime.publish_timeout_s,
        )
        # New reports are cached as they are; anything older is re-read on its next GET.
        created = {r.id: public_view(r) for r in reports if r.id not in existing}
        await self.cache.put_many(created)
        await self.cache.invalidate(existing)

    async def _parse(self, record: ConsumerRecord[Any, Any]) -> ReportIssue | None:
        try:
            command = ISSUE_COMMANDS.validate_json(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, "invalid", str(exc))
            return None
        if accepted_too_late(command, record):
            await self._dead_letter(
                record, "expired", f"appended after accept_by={command.accept_by}; the sender had reported failure"
            )
            return None
        return command

    async def _dead_letter(self, record: ConsumerRecord[Any, Any], reason: str, error: str) -> None:
        await dead_letter(
            self.runtime.broker,
            record,
            group=self.group,
            reason=reason,
            error=error,
            timeout_s=self.runtime.publish_timeout_s,
        )

    async def _store(self, reports: list[IssueRecord]) -> set[UUID]:
        # Transient store failures are retried here with backoff and jitter; past the
        # deadline the batch is rewound (not committed) and comes back later.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(PyMongoError),
            wait=wait_exponential_jitter(multiplier=0.2, max=5),
            stop=stop_after_delay(30),
            reraise=True,
        ):
            with attempt:
                return await self.repo.insert_new(reports)
        raise AssertionError("unreachable: the retry loop returns or raises")


def register(runtime: Runtime, handler: IssueCommandHandler, settings: IssuesSettings) -> None:
    @runtime.broker.subscriber(
        Topic.ISSUES_COMMANDS,
        group_id=settings.consumer_group,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        auto_offset_reset="earliest",
        decoder=raw_bodies,
        title="issues-commands",
        description="Applies ReportIssue commands and announces IssueReported.",
    )
    async def on_issue_commands(_bodies: list[bytes], message: KafkaMessage) -> None:
        raw = message.raw_message
        records = raw if isinstance(raw, (tuple, list)) else (raw,)
        await handler.handle(records)
