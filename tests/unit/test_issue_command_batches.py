"""The issues command handler over whole batches: reports stored in chunks while the batch is parsed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
from aiokafka import ConsumerRecord
from faststream.kafka import TestKafkaBroker

from snapfix_issues import consumers
from snapfix_issues.catalogue import Catalogue, seed_categories
from snapfix_issues.config import IssuesSettings
from snapfix_issues.consumers import REPORT_CHUNK, IssueCommandHandler
from snapfix_issues.domain import IssueRecord
from snapfix_shared.messages import ISSUE_EVENTS, ChangeIssueStatus, IssueCommand, IssueReported, IssueStatusChanged
from snapfix_shared.messages.base import Command
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic
from tests.builders import make_command, make_report_command, signed, staff_of
from tests.unit.test_issue_commands import FakeCache, FakeReadModel, FakeReports

pytestmark = pytest.mark.unit


@dataclass
class LoggedReports(FakeReports):
    """The fake store, noting when each insert starts among the handler's steps; optionally failing."""

    log: list[str] = field(default_factory=list)
    fail_on_insert: int | None = None

    async def insert_new(self, reports: Sequence[IssueRecord]) -> set[UUID]:
        self.log.append("insert")
        if self.fail_on_insert is not None and self.inserts + 1 == self.fail_on_insert:
            self.inserts += 1
            raise RuntimeError("the store broke")
        return await super().insert_new(reports)


@dataclass
class CountingSync:
    catalogue: Catalogue
    refreshes: int = 0

    async def loaded(self) -> None: ...

    async def refresh(self) -> None:
        self.refreshes += 1


@dataclass
class Batches:
    handler: IssueCommandHandler
    reports: LoggedReports
    sync: CountingSync
    events: Any
    parsed: list[str]

    def announced(self) -> list[Any]:
        return [ISSUE_EVENTS.validate_python(c.args[0]) for c in self.events.call_args_list]


def record(command: Command, offset: int) -> ConsumerRecord[Any, Any]:
    value = signed(command).model_dump_json().encode()
    return ConsumerRecord(
        Topic.ISSUES_COMMANDS.value, 0, offset, 0, 0, command.partition_key().encode(), value, None, 0, 0, []
    )


@pytest.fixture
async def batches() -> AsyncIterator[Batches]:
    settings = IssuesSettings(kafka_bootstrap_servers="127.0.0.1:1", mongo_url="mongodb://127.0.0.1:1/")
    runtime = Runtime("issues-unit", settings, mongo_database="unit")
    reports, catalogue = LoggedReports(), Catalogue(seed_categories())
    sync = CountingSync(catalogue)
    handler = IssueCommandHandler(
        runtime,
        reports,
        FakeCache(),  # type: ignore[arg-type]
        FakeReadModel(),  # type: ignore[arg-type]
        catalogue,
        group="issues",
        sync=sync,
    )
    parsed: list[str] = []
    parse = handler._parse

    async def noted_parse(rec: ConsumerRecord[Any, Any]) -> IssueCommand | None:
        parsed.append(f"parse {rec.offset}")
        reports.log.append(f"parse {rec.offset}")
        return await parse(rec)

    handler._parse = noted_parse  # type: ignore[method-assign,assignment]

    @runtime.broker.subscriber(Topic.ISSUES_EVENTS, group_id="spy-events")
    async def events(_: Any) -> None: ...

    async with TestKafkaBroker(runtime.broker):
        yield Batches(handler, reports, sync, events.mock, parsed)


async def test_a_batch_of_several_chunks_stores_every_report_and_its_later_commands_follow(batches: Batches) -> None:
    commands = [make_report_command() for _ in range(2 * REPORT_CHUNK + 7)]  # three chunks, the last short
    first, last = commands[0], commands[-1]
    staff = staff_of("roads")
    changes = [
        make_command(ChangeIssueStatus, issue_id=first.issue_id, to="acknowledged", **staff),
        make_command(ChangeIssueStatus, issue_id=last.issue_id, to="acknowledged", **staff),
    ]
    # A change in the middle of the batch, the other at its end: each names a report of the batch.
    ordered: list[IssueCommand] = [*commands[:10], changes[0], *commands[10:], changes[1]]

    await batches.handler.handle([record(c, i) for i, c in enumerate(ordered)])

    assert set(batches.reports.stored) == {c.issue_id for c in commands}
    assert batches.reports.inserts == 3
    announced = batches.announced()
    reported = [e for e in announced if isinstance(e, IssueReported)]
    assert {e.issue_id for e in reported} == {c.issue_id for c in commands}
    # Both changes were applied (their reports were stored first) and announced after every report.
    changed = [e for e in announced if isinstance(e, IssueStatusChanged)]
    assert [e.issue_id for e in changed] == [first.issue_id, last.issue_id]
    assert announced.index(changed[0]) > max(announced.index(e) for e in reported)
    assert batches.reports.stored[last.issue_id].status == "acknowledged"


async def test_the_first_chunk_is_written_while_the_rest_of_the_batch_is_parsed(batches: Batches) -> None:
    commands = [make_report_command() for _ in range(3 * REPORT_CHUNK)]

    await batches.handler.handle([record(c, i) for i, c in enumerate(commands)])

    log = batches.reports.log
    assert log.count("insert") == 3
    # The first chunk's insert begins right after its last record is parsed, before the next record.
    assert log.index("insert") == log.index(f"parse {REPORT_CHUNK - 1}") + 1
    assert log.index("insert") < log.index(f"parse {len(commands) - 1}")


async def test_a_failing_chunk_fails_the_batch_and_no_later_command_is_applied(batches: Batches) -> None:
    commands = [make_report_command() for _ in range(2 * REPORT_CHUNK)]
    change = make_command(ChangeIssueStatus, issue_id=commands[0].issue_id, to="acknowledged", **staff_of("roads"))
    batches.reports.fail_on_insert = 2

    with pytest.raises(RuntimeError, match="the store broke"):  # not committed: the batch comes back whole
        await batches.handler.handle([record(c, i) for i, c in enumerate([*commands, change])])

    assert batches.reports.stored[commands[0].issue_id].status == "open"  # the change never applied
    assert not any(isinstance(e, IssueStatusChanged) for e in batches.announced())
    assert not any(c.issue_id in batches.reports.stored for c in commands[REPORT_CHUNK:])

    # Redelivered whole, the batch stores the rest once and announces every report.
    batches.reports.fail_on_insert = None
    batches.events.reset_mock()
    await batches.handler.handle([record(c, i) for i, c in enumerate([*commands, change])])
    assert set(batches.reports.stored) == {c.issue_id for c in commands}
    reported = [e for e in batches.announced() if isinstance(e, IssueReported)]
    assert sorted(str(e.issue_id) for e in reported) == sorted(str(c.issue_id) for c in commands)
    assert batches.reports.stored[commands[0].issue_id].status == "acknowledged"


async def test_unknown_categories_refresh_the_catalogue_once_a_batch(batches: Batches) -> None:
    commands = [make_report_command(category="unicorns") for _ in range(2 * REPORT_CHUNK + 1)]

    await batches.handler.handle([record(c, i) for i, c in enumerate(commands)])

    assert batches.sync.refreshes == 1
    assert set(batches.reports.rejections) == {c.issue_id for c in commands}


def test_chunks_are_smaller_than_a_batch() -> None:
    # A batch of the default size spreads over several concurrent chunks.
    default = IssuesSettings.model_fields["batch_max_records"].default
    assert 1 < default // consumers.REPORT_CHUNK <= 8
