"""How notify batches its store writes without weakening what it promises: group commit,
the issues consumer's recording order, and a webhook delivery's state read from its steps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from uuid_utils.compat import uuid7

from snapfix_notify.channels.webhook.models import DeliveryStep, WebhookDelivery
from snapfix_notify.channels.webhook.repository import fold
from snapfix_notify.consumers import IssueEventsHandler
from snapfix_notify.group_commit import GroupCommit
from snapfix_notify.models import IssueView
from snapfix_shared.messages import IssueCommented, IssueReported, IssueStatusChanged, Location
from snapfix_shared.messages.base import utcnow
from tests.builders import DeadLetters, consumed

TOPIC = "issues.events.v1"

# -- group commit -------------------------------------------------------------------------


async def test_writers_arriving_during_a_write_share_the_next_one_and_return_only_once_written() -> None:
    writes: list[list[int]] = []
    first_started, release = asyncio.Event(), asyncio.Event()

    async def write(items: list[int]) -> None:
        writes.append(items)
        if len(writes) == 1:
            first_started.set()
            await release.wait()

    group: GroupCommit[int] = GroupCommit(write)
    first = asyncio.create_task(group.put(1))
    await first_started.wait()
    later = [asyncio.create_task(group.put(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)  # let them queue behind the write in flight
    assert not any(t.done() for t in [first, *later])
    release.set()
    await asyncio.gather(first, *later)
    assert writes == [[1], [2, 3, 4]]


async def test_a_failed_write_fails_every_writer_of_its_group_and_not_the_next_group() -> None:
    writes: list[list[int]] = []
    first_started, release = asyncio.Event(), asyncio.Event()

    async def write(items: list[int]) -> None:
        writes.append(items)
        if len(writes) == 1:
            first_started.set()
            await release.wait()
        elif 0 in items:
            raise ConnectionError("store away")

    group: GroupCommit[int] = GroupCommit(write)
    first = asyncio.create_task(group.put(9))
    await first_started.wait()
    failing = asyncio.gather(group.put(0), group.put(1), return_exceptions=True)
    release.set()
    results = await failing
    await first
    assert writes == [[9], [0, 1]]
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    await group.put(2)  # a new group: written
    assert writes[-1] == [2]


# -- the issues consumer ------------------------------------------------------------------


class Log:
    """What the consumer did, in order, through fakes of its collaborators."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.views: dict[UUID, IssueView] = {}

    async def get(self, issue_id: UUID) -> IssueView | None:
        self.calls.append(("read view", issue_id))
        return self.views.get(issue_id)

    async def reported(self, issue_id: UUID, fields: dict[str, Any]) -> None:
        self.calls.append(("project", "IssueReported"))
        self.views[issue_id] = IssueView.model_construct(
            id=issue_id, status="open", followers=[], **{k: fields[k] for k in ("title", "category", "reporter_id")}
        )

    async def set(self, _issue_id: UUID, fields: dict[str, Any]) -> None:
        self.calls.append(("project", fields))

    async def record(self, deliveries: list[Any]) -> None:
        if deliveries:
            self.calls.append(("record", sorted(d.moment for d in deliveries)))


def consumer(log: Log, dead: DeadLetters | None = None) -> IssueEventsHandler:
    async def no_prefs(_user: str) -> None:
        return None

    async def no_watches(_cells: Any) -> list[Any]:
        return []

    dispatcher: Any = SimpleNamespace(record=log.record, channels={"email": object()})
    handler = IssueEventsHandler(
        dead if dead is not None else DeadLetters(),  # type: ignore[arg-type]
        dispatcher,
        contacts=SimpleNamespace(),  # type: ignore[arg-type]
        issues=log,  # type: ignore[arg-type]
        preferences=SimpleNamespace(get=no_prefs),  # type: ignore[arg-type]
        watches=SimpleNamespace(covering=no_watches),  # type: ignore[arg-type]
        digests=SimpleNamespace(),  # type: ignore[arg-type]
        base_url="https://snapfix.test",
        group="notify-issues-unit",
    )
    return handler


async def test_comments_are_recorded_together_and_a_projecting_event_has_them_recorded_before_it() -> None:
    reporter, commenter = str(uuid7()), str(uuid7())
    report = IssueReported(
        correlation_id="unit",
        actor_id=reporter,
        issue_id=uuid7(),
        title="Pothole",
        category="pothole",
        location=Location(lat=52.5, lon=13.4),
        reported_at=utcnow(),
    )
    comments = [
        IssueCommented(
            correlation_id="unit",
            actor_id=commenter,
            issue_id=report.issue_id,
            comment_id=uuid7(),
            body=f"comment {n}",
            commented_at=utcnow(),
        )
        for n in range(4)
    ]
    resolved = IssueStatusChanged(
        correlation_id="unit",
        actor_id=commenter,
        issue_id=report.issue_id,
        from_status="open",
        to_status="resolved",
        category="pothole",
        changed_at=utcnow(),
    )
    log = Log()
    await consumer(log).handle(consumed(TOPIC, report, *comments[:3], resolved, comments[3]))
    assert log.calls == [
        ("read view", report.issue_id),
        ("record", ["report_received"]),
        ("project", "IssueReported"),
        ("read view", report.issue_id),  # once for the three comments and the status change
        ("record", ["comment_added"] * 3 + ["resolved"]),  # before the status change is projected
        ("project", {"status": "resolved", "category": "pothole"}),
        ("read view", report.issue_id),  # the projection changed: read again
        ("record", ["comment_added"]),  # the batch's rest, before the commit
    ]


async def test_an_event_failing_permanently_is_dead_lettered_and_a_repeat_within_the_batch_is_planned_once() -> None:
    broken_issue = uuid7()

    class Broken(Log):
        async def get(self, issue_id: UUID) -> IssueView | None:
            if issue_id == broken_issue:
                raise ValueError("a view this code cannot read")
            return await super().get(issue_id)

    report = IssueReported(
        correlation_id="unit",
        actor_id=str(uuid7()),
        issue_id=uuid7(),
        title="Pothole",
        category="pothole",
        location=Location(lat=52.5, lon=13.4),
        reported_at=utcnow(),
    )
    broken = IssueCommented(
        correlation_id="unit",
        actor_id=str(uuid7()),
        issue_id=broken_issue,
        comment_id=uuid7(),
        body="on a broken view",
        commented_at=utcnow(),
    )
    log, dead = Broken(), DeadLetters()
    await consumer(log, dead).handle(consumed(TOPIC, broken, report, report))
    assert [(offset, reason) for offset, _, reason, _ in dead.dead] == [(0, "failed")]
    assert "a view this code cannot read" in dead.dead[0][3]
    assert log.calls == [
        ("read view", report.issue_id),
        ("record", ["report_received"]),  # once: the repeat of its message id is dropped
        ("project", "IssueReported"),
    ]


# -- webhook delivery state ---------------------------------------------------------------


def test_a_deliverys_state_is_that_of_its_last_step_with_every_attempt_in_order() -> None:
    endpoint_id, event_id = uuid4(), uuid4()
    created = datetime(2026, 1, 1, tzinfo=UTC)
    delivery = WebhookDelivery.model_construct(
        id=f"msg_{event_id.hex}_{endpoint_id.hex}",
        endpoint_id=endpoint_id,
        event_id=event_id,
        event_type="IssueReported",
        body="{}",
        created_at=created,
        next_attempt_at=created,
    )
    assert fold(delivery, []) is delivery  # never tried: pending, as recorded

    def step(n: int, status: str, code: int | None, **fields: Any) -> DeliveryStep:
        at = created + timedelta(seconds=n)
        step: DeliveryStep = DeliveryStep.model_construct(
            id=f"{delivery.id}.{n}",
            delivery_id=delivery.id,
            endpoint_id=endpoint_id,
            at=at,
            attempt=None if code is None else {"at": at, "status_code": code},
            status=status,
            **fields,
        )
        return step

    retry_at = created + timedelta(seconds=30)
    retried = fold(delivery, [step(1, "pending", 503, next_attempt_at=retry_at)])
    assert (retried.status, retried.attempt_count, retried.next_attempt_at) == ("pending", 1, retry_at)
    done = fold(
        delivery,
        [
            step(1, "pending", 503, next_attempt_at=retry_at),
            step(2, "delivered", 200, delivered_at=created + timedelta(seconds=31)),
        ],
    )
    assert done.status == "delivered"
    assert [a["status_code"] for a in done.attempts] == [503, 200]
    assert done.attempt_count == 2
    assert done.next_attempt_at is None
    cancelled = fold(delivery, [step(1, "pending", 500), step(2, "cancelled", None, reason="endpoint disabled")])
    assert (cancelled.status, cancelled.attempt_count, cancelled.reason) == ("cancelled", 1, "endpoint disabled")
