"""The issues command handler, in memory (FastStream's TestKafkaBroker, a fake repository)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from faststream.kafka import TestKafkaBroker
from uuid_utils.compat import uuid7

from snapfix_issues.cache import CachedIssue
from snapfix_issues.catalogue import Catalogue, seed_categories
from snapfix_issues.config import IssuesSettings
from snapfix_issues.consumers import IssueCommandHandler, register
from snapfix_issues.domain import CommentRecord, HistoryEntry, IssueRecord, RejectedReportRecord, StoredEvent
from snapfix_issues.rules import Change
from snapfix_shared.messages import ISSUE_EVENTS, IssueReported, ReportRejected
from snapfix_shared.messages.base import utcnow
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic
from snapfix_shared.viewer import InternalTokens
from tests.builders import make_report_command, signed

pytestmark = pytest.mark.unit


@dataclass
class FakeReports:
    """The store in memory, with the same idempotency rules as the repository."""

    stored: dict[UUID, IssueRecord] = field(default_factory=dict)
    comments: dict[UUID, CommentRecord] = field(default_factory=dict)
    participation: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    rejections: dict[UUID, RejectedReportRecord] = field(default_factory=dict)
    inserts: int = 0

    async def insert_new(self, reports: Sequence[IssueRecord]) -> set[UUID]:
        self.inserts += 1
        existing = {r.id for r in reports if r.id in self.stored}
        for report in reports:
            self.stored.setdefault(report.id, report)
        return existing

    async def get(self, issue_id: UUID) -> IssueRecord | None:
        return self.stored.get(issue_id)

    async def apply_change(self, issue: IssueRecord, command_id: UUID, change: Change) -> bool:
        current = self.stored[issue.id]
        if current.version != issue.version or command_id in current.applied_commands:
            return False
        updates = {
            **change.fields,
            "version": issue.version + 1,
            "applied_commands": (*current.applied_commands, command_id),
            "events": (*current.events, StoredEvent(command_id=command_id, event=change.event.model_dump(mode="json"))),
        }
        if change.history is not None:
            updates["history"] = (*current.history, HistoryEntry.model_validate(change.history))
        self.stored[issue.id] = current.model_copy(update=updates)
        return True

    async def insert_comment(self, comment: CommentRecord) -> CommentRecord | None:
        if comment.id in self.comments:
            return self.comments[comment.id]
        self.comments[comment.id] = comment
        return None

    async def get_participation(self, kind: str, issue_id: UUID, user_id: str) -> dict[str, Any] | None:
        return self.participation.get((kind, f"{issue_id}:{user_id}"))

    async def put_participation(self, kind: str, doc: dict[str, Any]) -> None:
        self.participation[kind, f"{doc['issue_id']}:{doc['user_id']}"] = dict(doc)

    async def recount(self, kind: str, issue_id: UUID) -> int:
        count = sum(
            1 for (k, _), d in self.participation.items() if k == kind and d["issue_id"] == issue_id and d["active"]
        )
        name = "votes" if kind == "vote" else "followers"
        self.stored[issue_id] = self.stored[issue_id].model_copy(update={name: count})
        return count

    async def move_followers(self, from_issue: UUID, to_issue: UUID, also: str | None, at: Any) -> list[str]:
        raise NotImplementedError("not exercised in memory")

    async def reject(self, rejection: RejectedReportRecord) -> RejectedReportRecord:
        return self.rejections.setdefault(rejection.id, rejection)


@dataclass
class FakeCache:
    """Whole issues as the read model keeps them."""

    cached: dict[UUID, CachedIssue] = field(default_factory=dict)
    invalidated: list[UUID] = field(default_factory=list)

    async def get(self, issue_id: UUID) -> CachedIssue | None:
        return self.cached.get(issue_id)

    async def store(self, entries: Sequence[CachedIssue]) -> None:
        self.cached.update({e.issue.id: e for e in entries})

    async def add_comment(self, comment: CommentRecord) -> None:
        entry = self.cached.get(comment.issue_id)
        if entry is not None and comment.id not in {c.id for c in entry.comments}:
            self.cached[comment.issue_id] = CachedIssue(entry.issue, (*entry.comments, comment))

    async def invalidate(self, ids: Any) -> None:
        for issue_id in ids:
            self.invalidated.append(issue_id)
            self.cached.pop(issue_id, None)


@dataclass
class FakeReadModel:
    """The list read model's rows in memory."""

    rows: dict[UUID, IssueRecord] = field(default_factory=dict)
    followed: dict[tuple[UUID, str], bool] = field(default_factory=dict)
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def index(self, issues: Sequence[IssueRecord], *, fill: bool = False) -> None:  # noqa: ARG002 - the interface's keyword, passed by name
        self.rows.update({i.id: i for i in issues})

    async def follows(
        self,
        changes: Sequence[tuple[UUID, str, bool, int]],
        *,
        keep_since: bool = False,  # noqa: ARG002 - the interface's keyword, passed by name
    ) -> None:
        self.followed.update({(issue, user): active for issue, user, active, _ in changes})


@dataclass
class Harness:
    broker: Any
    reports: FakeReports
    cache: FakeCache
    readmodel: FakeReadModel
    events: Any
    dead_letters: Any


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    settings = IssuesSettings(kafka_bootstrap_servers="127.0.0.1:1", mongo_url="mongodb://127.0.0.1:1/")
    runtime = Runtime("issues-unit", settings, mongo_database="unit")
    reports, cache, readmodel = FakeReports(), FakeCache(), FakeReadModel()
    catalogue = Catalogue(seed_categories())
    handler = IssueCommandHandler(
        runtime,
        reports,
        cache,  # type: ignore[arg-type]
        readmodel,  # type: ignore[arg-type]
        catalogue,
        group="issues",
    )
    register(runtime, handler, settings)

    @runtime.broker.subscriber(Topic.ISSUES_EVENTS, group_id="spy-events")
    async def events(_: Any) -> None: ...

    @runtime.broker.subscriber(Topic.ISSUES_COMMANDS.dlq, group_id="spy-dlq")
    async def dead_letters(_: Any) -> None: ...

    async with TestKafkaBroker(runtime.broker) as broker:
        yield Harness(broker, reports, cache, readmodel, events.mock, dead_letters.mock)


async def test_a_report_command_stores_the_report_and_announces_it(harness: Harness) -> None:
    command = make_report_command()
    await harness.broker.publish(signed(command).model_dump_json().encode(), Topic.ISSUES_COMMANDS)

    report = harness.reports.stored[command.issue_id]
    assert (report.title, report.category, report.lat) == (command.title, command.category, command.location.lat)
    event = ISSUE_EVENTS.validate_python(harness.events.call_args.args[0])
    assert event.issue_id == command.issue_id
    assert event.causation_id == str(command.message_id)
    assert event.correlation_id == command.correlation_id
    assert harness.cache.cached[command.issue_id].issue.title == command.title
    assert report.department == "roads"  # the pothole category's owner
    assert report.due_at == report.created_at + timedelta(hours=72)


async def test_a_redelivered_command_stores_once_and_re_announces_the_same_event(harness: Harness) -> None:
    command = make_report_command()
    body = signed(command).model_dump_json().encode()
    await harness.broker.publish(body, Topic.ISSUES_COMMANDS)
    await harness.broker.publish(body, Topic.ISSUES_COMMANDS)

    assert list(harness.reports.stored) == [command.issue_id]
    first, second = (ISSUE_EVENTS.validate_python(c.args[0]) for c in harness.events.call_args_list)
    assert first == second  # same message_id, so downstream consumers can drop the copy


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b'{"type": "ReportIssue"}', b'{"type": "Nope", "x": 1}', b""],
    ids=["not-json", "missing-fields", "unknown-type", "empty"],
)
async def test_a_poison_message_goes_to_the_dead_letter_topic(harness: Harness, body: bytes) -> None:
    await harness.broker.publish(body, Topic.ISSUES_COMMANDS)

    harness.dead_letters.assert_called_once()
    assert harness.reports.stored == {}
    harness.events.assert_not_called()


async def test_the_consumer_keeps_consuming_after_a_poison_message(harness: Harness) -> None:
    await harness.broker.publish(b"{broken", Topic.ISSUES_COMMANDS)
    command = make_report_command()
    await harness.broker.publish(signed(command).model_dump_json().encode(), Topic.ISSUES_COMMANDS)

    assert command.issue_id in harness.reports.stored
    harness.events.assert_called_once()


async def test_a_command_appended_after_its_sender_gave_up_takes_no_effect(harness: Harness) -> None:
    now = utcnow()
    command = make_report_command(occurred_at=now - timedelta(seconds=20), accept_by=now - timedelta(seconds=10))
    await harness.broker.publish(signed(command).model_dump_json().encode(), Topic.ISSUES_COMMANDS)

    assert harness.reports.stored == {}
    harness.dead_letters.assert_called_once()
    harness.events.assert_not_called()


async def test_a_report_refused_when_applied_is_kept_and_announced_as_report_rejected(harness: Harness) -> None:
    command = make_report_command(category="unicorns", actor_id="citizen-1")
    await harness.broker.publish(signed(command).model_dump_json().encode(), Topic.ISSUES_COMMANDS)

    assert harness.reports.stored == {}
    harness.dead_letters.assert_not_called()
    event = ISSUE_EVENTS.validate_python(harness.events.call_args.args[0])
    assert isinstance(event, ReportRejected)
    assert (event.issue_id, event.actor_id, event.causation_id) == (
        command.issue_id,
        "citizen-1",
        str(command.message_id),
    )
    assert [(e.field, e.message) for e in event.errors] == [("category", "unknown category unicorns")]
    kept = harness.reports.rejections[command.issue_id]
    assert (kept.reporter_id, kept.reason) == ("citizen-1", "unknown category unicorns")


async def test_a_redelivered_refused_report_re_announces_the_same_rejection(harness: Harness) -> None:
    body = signed(make_report_command(category="streetlight", attributes={"colour": "red"})).model_dump_json().encode()
    await harness.broker.publish(body, Topic.ISSUES_COMMANDS)
    await harness.broker.publish(body, Topic.ISSUES_COMMANDS)

    first, second = (ISSUE_EVENTS.validate_python(c.args[0]) for c in harness.events.call_args_list)
    assert isinstance(first, ReportRejected)
    assert first == second  # the same message_id: consumers drop the copy
    assert [e.field for e in first.errors] == ["attributes.colour"]


async def test_a_refused_report_among_accepted_ones_leaves_them_be(harness: Harness) -> None:
    good, bad = make_report_command(), make_report_command(category="unicorns")
    for command in (good, bad):
        await harness.broker.publish(signed(command).model_dump_json().encode(), Topic.ISSUES_COMMANDS)

    announced = {type(ISSUE_EVENTS.validate_python(c.args[0])) for c in harness.events.call_args_list}
    assert announced == {IssueReported, ReportRejected}
    assert list(harness.reports.stored) == [good.issue_id]
    assert list(harness.reports.rejections) == [bad.issue_id]


# -- the actor's proof: only the gateway vouches for who acts ---------------------------------


async def test_a_command_without_the_gateways_proof_is_dead_lettered_never_applied(harness: Harness) -> None:
    forged = make_report_command(actor_id="victim", actor_role="admin")
    await harness.broker.publish(forged.model_dump_json().encode(), Topic.ISSUES_COMMANDS)

    assert harness.reports.stored == {}
    assert harness.reports.rejections == {}
    harness.dead_letters.assert_called_once()
    harness.events.assert_not_called()


@pytest.mark.parametrize(
    "change",
    [
        {"actor_role": "admin"},
        {"actor_id": "someone-else"},
        {"actor_departments": ("roads", "parks")},
        {"issue_id": uuid7()},  # a proof lifted onto another issue
        {"actor_proof": "v1.not-a-proof"},
    ],
    ids=["role", "actor", "departments", "issue", "garbage"],
)
async def test_a_command_whose_actor_was_changed_after_signing_is_dead_lettered(
    harness: Harness, change: dict[str, Any]
) -> None:
    honest = signed(make_report_command(actor_id="citizen-9", actor_role="citizen", actor_departments=("roads",)))
    await harness.broker.publish(honest.model_copy(update=change).model_dump_json().encode(), Topic.ISSUES_COMMANDS)

    assert harness.reports.stored == {}
    harness.dead_letters.assert_called_once()
    harness.events.assert_not_called()


async def test_a_proof_signed_with_the_previous_secret_still_passes() -> None:
    # Commands may wait in the log across a rotation of SNAPFIX_INTERNAL_TOKEN_SECRET.
    old, new = "o" * 40, "n" * 40
    command = InternalTokens(old, issuer="gateway").sign_command(make_report_command(actor_id="c-1"))
    assert InternalTokens(new, issuer="issues", previous_secrets=[old]).command_verified(command)
    assert not InternalTokens(new, issuer="issues").command_verified(command)
