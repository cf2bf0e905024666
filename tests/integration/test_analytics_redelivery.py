"""The per-batch flush on the real stack: a batch consumed again after a crash between its
flush and its offset commit (the same records, partitions and offsets, in a process that
remembers nothing) is counted once, and the records that follow it in the same batch are
counted; the same event published again at a later offset changes nothing; a write whose
answer is lost while the batch's other writes run beside it is retried whole, counted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import ConsumerRecord
from pymongo.errors import AutoReconnect

from snapfix_analytics.consumers import IssueEventsHandler
from snapfix_analytics.effects import CellDelta
from snapfix_analytics.repository import AnalyticsRepository, Doc
from snapfix_shared.messages import IssueEvent
from snapfix_shared.topics import Topic
from tests.analytics_history import expected, make_history
from tests.integration.analytics_app import Analytics, analytics_settings, running_analytics
from tests.stack import Stack

pytestmark = pytest.mark.integration
FIRST = 10**9  # offsets of partition 0 no real record of this test's database reaches


def _records(events: list[IssueEvent]) -> list[ConsumerRecord[Any, Any]]:
    return [
        ConsumerRecord(
            topic=Topic.ISSUES_EVENTS,
            partition=0,
            offset=FIRST + i,
            timestamp=0,
            timestamp_type=0,
            key=e.partition_key().encode(),
            value=e.model_dump_json().encode(),
            checksum=None,
            serialized_key_size=-1,
            serialized_value_size=-1,
            headers=[],
        )
        for i, e in enumerate(events)
    ]


def _handler(analytics: Analytics) -> IssueEventsHandler:
    """A handler as a restarted process has it: nothing in memory (not even which cells are
    stored: its first flush tries to insert cells that are there, and must add to them)."""
    state = analytics.app.state
    repo = AnalyticsRepository(state.repo.db, topic=state.repo.topic)
    return IssueEventsHandler(state.runtime, repo, state.cache, analytics.settings)


async def _counts(analytics: Analytics, category: str, day: datetime) -> dict[str, Any]:
    params = {"category": category, "from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}
    response = await analytics.http.get("/v1/analytics/summary", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_batch_consumed_again_after_its_flush_is_counted_once(stack: Stack) -> None:
    category = f"rd{uuid4().hex[:8]}"
    day = (datetime.now(UTC) - timedelta(days=4)).replace(hour=0, minute=0, second=0, microsecond=0)
    history = make_history(4242, issues=40, categories=[category], day=day)
    records = _records(history.events)
    half = len(records) // 2
    truth = expected(history.events)
    want = truth.total(category)

    settings = analytics_settings(stack, lateness_s=10 * 365 * 86400)
    async with running_analytics(settings) as analytics:
        await _handler(analytics).handle(records[:half])  # flushed; then the process "dies" before the commit
        first = await _counts(analytics, category, day)
        # The restarted process gets the same records again, and the rest of the log behind them.
        again = _handler(analytics)
        await again.handle(records)
        body = await _counts(analytics, category, day)
        # The same event published again later in the partition: settled, counted nowhere.
        repeat = _records([*history.events, history.events[3]])[-1:]
        await again.handle(repeat)
        after_repeat = await _counts(analytics, category, day)

    assert 0 < first["counts"]["reported"] < want["reported"]
    for measure in ("reported", "acknowledged", "resolved", "reopened", "rejected", "sla_breached"):
        assert body["counts"][measure] == want[measure], (measure, body["counts"], want)
    assert body["time_to_resolve"]["count"] == len(truth.durations("ttr", category))
    assert body["open_backlog"] == sum(n for (_gh, cat), n in truth.backlog.items() if cat == category)
    assert after_repeat["counts"] == body["counts"]


class _AnswerLost(AnalyticsRepository):
    """A store that applies the batch's first flush of hour windows and then loses its answer
    (the connection drops after the write): the handler sees a transient failure, while the
    minute, day and backlog cells, the projections and the clocks were written side by side."""

    lost = 0

    async def flush(self, collection: str, updates: list[tuple[CellDelta, dict[int, int]]]) -> dict[str, Doc | None]:
        out = await super().flush(collection, updates)
        if collection == "windows_1h" and not self.lost:
            self.lost += 1
            raise AutoReconnect("connection closed before the answer")
        return out


async def test_a_write_whose_answer_is_lost_is_retried_and_counted_once(stack: Stack) -> None:
    category = f"rl{uuid4().hex[:8]}"
    day = (datetime.now(UTC) - timedelta(days=4)).replace(hour=0, minute=0, second=0, microsecond=0)
    history = make_history(4343, issues=40, categories=[category], day=day)
    truth = expected(history.events)
    want = truth.total(category)

    settings = analytics_settings(stack, lateness_s=10 * 365 * 86400)
    async with running_analytics(settings) as analytics:
        state = analytics.app.state
        repo = _AnswerLost(state.repo.db, topic=state.repo.topic)
        handler = IssueEventsHandler(state.runtime, repo, state.cache, analytics.settings)
        await handler.handle(_records(history.events))  # retried whole after the lost answer
        body = await _counts(analytics, category, day)

    assert repo.lost == 1
    for measure in ("reported", "acknowledged", "resolved", "reopened", "rejected", "sla_breached"):
        assert body["counts"][measure] == want[measure], (measure, body["counts"], want)
    assert body["time_to_acknowledge"]["count"] == len(truth.durations("tta", category))
    assert body["time_to_resolve"]["count"] == len(truth.durations("ttr", category))
    assert body["open_backlog"] == sum(n for (_gh, cat), n in truth.backlog.items() if cat == category)
