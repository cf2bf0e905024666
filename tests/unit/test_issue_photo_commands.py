"""The issues consumer tells the media service which photos a report shows (``SetIssuePhotos`` on
media.commands.v1), with the events it announces, and the same messages again on a redelivery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from faststream.kafka import TestKafkaBroker
from uuid_utils.compat import uuid7

from snapfix_issues.catalogue import Catalogue, seed_categories
from snapfix_issues.config import IssuesSettings
from snapfix_issues.consumers import IssueCommandHandler, register
from snapfix_issues.records import derived_id
from snapfix_shared.messages import (
    ISSUE_EVENTS,
    MEDIA_COMMANDS,
    ChangeIssueStatus,
    EditIssue,
    IssueEdited,
    IssueReported,
    IssueStatusChanged,
    Message,
    SetIssuePhotos,
)
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic
from tests.builders import citizen, make_command, make_report_command, signed
from tests.unit.test_issue_commands import FakeCache, FakeReadModel, FakeReports

pytestmark = pytest.mark.unit

REPORTER = "citizen-reporter"


@dataclass
class Harness:
    broker: Any
    events: Any
    media_commands: Any

    async def send(self, command: Message) -> None:
        await self.broker.publish(signed(command).model_dump_json().encode(), Topic.ISSUES_COMMANDS)  # type: ignore[type-var]

    def announced(self) -> list[Any]:
        return [ISSUE_EVENTS.validate_python(c.args[0]) for c in self.events.call_args_list]

    def told(self) -> list[SetIssuePhotos]:
        commands = [MEDIA_COMMANDS.validate_python(c.args[0]) for c in self.media_commands.call_args_list]
        assert all(isinstance(c, SetIssuePhotos) for c in commands)
        return commands  # type: ignore[return-value]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    settings = IssuesSettings(kafka_bootstrap_servers="127.0.0.1:1", mongo_url="mongodb://127.0.0.1:1/")
    runtime = Runtime("issues-unit", settings, mongo_database="unit")
    handler = IssueCommandHandler(
        runtime,
        FakeReports(),
        FakeCache(),  # type: ignore[arg-type]
        FakeReadModel(),  # type: ignore[arg-type]
        Catalogue(seed_categories()),
        group="issues",
    )
    register(runtime, handler, settings)

    @runtime.broker.subscriber(Topic.ISSUES_EVENTS, group_id="spy-events")
    async def events(_: Any) -> None: ...

    @runtime.broker.subscriber(Topic.MEDIA_COMMANDS, group_id="spy-media-commands")
    async def media_commands(_: Any) -> None: ...

    async with TestKafkaBroker(runtime.broker) as broker:
        yield Harness(broker, events.mock, media_commands.mock)


def report(*media_ids: UUID) -> Any:
    return make_report_command(media_ids=media_ids, **citizen(REPORTER))


async def test_a_report_naming_photos_tells_the_media_service_and_a_redelivery_tells_it_the_same(
    harness: Harness,
) -> None:
    photos = (uuid7(), uuid7())
    command = report(*photos)
    await harness.send(command)
    await harness.send(command)  # redelivered

    [event, again] = harness.announced()
    assert isinstance(event, IssueReported)
    assert event == again
    first, second = harness.told()
    assert first == second  # message id included: the media service re-announces what it did
    assert (first.issue_id, first.owner_id, first.media_ids, first.reason) == (
        command.issue_id,
        REPORTER,
        photos,
        "reported",
    )
    assert (first.correlation_id, first.causation_id, first.actor_id) == (
        command.correlation_id,
        str(event.message_id),
        REPORTER,
    )
    assert first.message_id == derived_id(event.message_id, b"SetIssuePhotos") != event.message_id
    assert first.message_id.version == 7


async def test_a_report_without_photos_tells_the_media_service_nothing(harness: Harness) -> None:
    command = report()
    await harness.send(command)
    await harness.send(
        make_command(EditIssue, issue_id=command.issue_id, title="A deeper pothole", **citizen(REPORTER))
    )
    await harness.send(make_command(ChangeIssueStatus, issue_id=command.issue_id, to="withdrawn", **citizen(REPORTER)))

    assert [type(e) for e in harness.announced()] == [IssueReported, IssueEdited, IssueStatusChanged]
    harness.media_commands.assert_not_called()


async def test_an_edit_naming_photos_and_a_withdrawal_tell_the_media_service(harness: Harness) -> None:
    kept, dropped, added = uuid7(), uuid7(), uuid7()
    command = report(kept, dropped)
    await harness.send(command)
    title_only = make_command(EditIssue, issue_id=command.issue_id, title="A deeper pothole", **citizen(REPORTER))
    await harness.send(title_only)  # the photos stay as they are: nothing to tell
    edit = make_command(EditIssue, issue_id=command.issue_id, media_ids=(kept, added), **citizen(REPORTER))
    await harness.send(edit)
    withdrawal = make_command(ChangeIssueStatus, issue_id=command.issue_id, to="withdrawn", **citizen(REPORTER))
    await harness.send(withdrawal)
    await harness.send(withdrawal)  # redelivered

    events = harness.announced()
    assert [type(e) for e in events] == [IssueReported, IssueEdited, IssueEdited, *[IssueStatusChanged] * 2]
    told = harness.told()
    assert [(c.reason, c.media_ids) for c in told] == [
        ("reported", (kept, dropped)),
        ("edited", (kept, added)),
        ("withdrawn", ()),
        ("withdrawn", ()),
    ]
    assert told[1].causation_id == str(events[2].message_id)
    assert told[2] == told[3]  # the redelivered withdrawal: the same command, message id included
    assert told[2].causation_id == str(events[3].message_id)
    assert {c.owner_id for c in told} == {REPORTER}
