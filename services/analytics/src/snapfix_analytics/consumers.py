"""Subscriber of ``issues.events.v1`` (group ``analytics-issues``): parse, hand the batch to ``service.py``.

Records that are not JSON, or known events that do not validate, go to the dead-letter
topic; a type newer than this service is skipped (it stays in the log); a repeat of one
message id within the batch is dropped. The batch is then counted (``service.IssueEvents``)
under retry: store unreachable and publish not acknowledged are retried with backoff, past the
deadline the batch is not committed and comes back. The service publishes and dead-letters
through the callables given here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from aiokafka import ConsumerRecord
from opentelemetry import context as otel_context
from opentelemetry import propagate

from snapfix_analytics.cache import QueryCache
from snapfix_analytics.config import AnalyticsSettings
from snapfix_analytics.repository import AnalyticsRepository, StoreUnavailable
from snapfix_analytics.service import IssueEvents
from snapfix_shared.consuming import BatchConsumer, subscribe_batches
from snapfix_shared.kafka import PublishFailed, header_map, publish_all
from snapfix_shared.messages import ISSUE_EVENTS, IssueEvent, Message
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

Record = ConsumerRecord[Any, Any]
TRANSIENT = (StoreUnavailable, PublishFailed)
KNOWN_TYPES = frozenset(m.__name__ for m in get_args(get_args(IssueEvent)[0]))


class IssueEventsHandler:
    """The batch's events, once each in record order, counted by ``service.IssueEvents``."""

    def __init__(
        self, runtime: Runtime, repo: AnalyticsRepository, cache: QueryCache, settings: AnalyticsSettings
    ) -> None:
        self.runtime, self.group = runtime, settings.consumer_group
        # A type newer than this service is not counted, and not lost: it stays in the log.
        self.consumer = BatchConsumer(runtime, settings.consumer_group, ISSUE_EVENTS, TRANSIENT, KNOWN_TYPES)
        self.service = IssueEvents(
            repo, cache, settings, publish=self._publish, dead_letter=self._dead_letter, transient=TRANSIENT
        )

    async def handle(self, records: Sequence[Record]) -> None:
        events = await self.consumer.messages(records)
        if events:
            await self.consumer.retry(self._process, events)

    async def _process(self, events: list[tuple[IssueEvent, Record]]) -> None:  # the retry counter's label
        await self.service.process(events)

    async def _publish(self, topic: Topic, messages: list[tuple[Message, Record | None]]) -> None:
        current = otel_context.get_current()
        traced = [(m, propagate.extract(header_map(r)) if r is not None else current) for m, r in messages]
        run = self.runtime
        await publish_all(run.broker, topic, traced, source=run.source, timeout_s=run.publish_timeout_s)

    async def _dead_letter(self, record: Record, error: str) -> None:
        await self.runtime.dead_letter(record, group=self.group, reason="failed", error=error)


def register(runtime: Runtime, handler: IssueEventsHandler, settings: AnalyticsSettings) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.ISSUES_EVENTS,
        group=settings.consumer_group,
        handle=handler.handle,
        max_records=settings.batch_records,
        batch_timeout_ms=50,
        title="analytics-issue-events",
        description="Counts issue events into tumbling windows, the backlog gauge and the analyst streams.",
    )
