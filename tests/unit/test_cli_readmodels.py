"""``snapfix readmodels``: its arguments, and what a replay takes from a record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import ConsumerRecord
from typer.testing import CliRunner

from snapfix_cli import readmodels
from snapfix_cli.app import app
from snapfix_shared.messages import (
    ISSUE_EVENTS,
    IssueEdited,
    IssueFollowed,
    IssueReported,
    Location,
    UserDeleted,
    UserRegistered,
)

pytestmark = pytest.mark.unit
runner = CliRunner()


def record(value: bytes | None) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic="issues.events.v1",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value or b""),
        headers=(),
    )


def test_an_unknown_service_is_refused() -> None:
    result = runner.invoke(app, ["readmodels", "rebuild", "gateway"])
    assert result.exit_code == 2
    assert "gateway" in result.output


def test_allow_partial_is_for_analytics_only() -> None:
    result = runner.invoke(app, ["readmodels", "rebuild", "issues", "--allow-partial"])
    assert result.exit_code == 2
    assert "analytics only" in result.output


def test_help_says_to_stop_the_service_and_has_an_example() -> None:
    result = runner.invoke(app, ["readmodels", "rebuild", "--help"])
    assert result.exit_code == 0
    assert "Stop that service first" in result.output
    assert "Example: snapfix readmodels rebuild issues" in result.output


def test_a_replay_takes_the_events_and_skips_what_is_not_one() -> None:
    event = IssueEdited(issue_id=uuid4(), title="New title", description="", correlation_id="req-1")
    parsed = readmodels._parsed(ISSUE_EVENTS, record(event.model_dump_json().encode()))
    assert parsed == event
    assert readmodels._parsed(ISSUE_EVENTS, record(b"not json")) is None
    assert readmodels._parsed(ISSUE_EVENTS, record(b'{"type": "SomethingNewer"}')) is None
    assert readmodels._parsed(ISSUE_EVENTS, record(None)) is None


class FakeContacts:
    """The calls NotifyProjection makes on notify's Contacts, kept in a dict."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def deleted(self, user_id: str) -> bool:
        return bool(self.rows.get(user_id, {}).get("deleted"))

    async def forget(self, user_id: str) -> None:
        self.rows[user_id] = {"email": None, "deleted": True}

    async def set_state(
        self, user_id: str, stamp: str, state: dict[str, Any], always: dict[str, Any] | None = None
    ) -> bool:
        self.rows.setdefault(user_id, {}).update({**state, **(always or {}), "stamp": stamp})
        return True

    async def fill(self, user_id: str, fields: dict[str, Any]) -> None:
        self.rows.setdefault(user_id, dict(fields))

    async def upsert(self, user_id: str, fields: dict[str, Any]) -> None:
        self.rows.setdefault(user_id, {}).update(fields)


class FakeIssues:
    def __init__(self) -> None:
        self.views: dict[UUID, dict[str, Any]] = {}

    async def reported(self, issue_id: UUID, fields: dict[str, Any]) -> None:
        self.views.setdefault(issue_id, {"followers": []}).update(fields)

    async def set(self, issue_id: UUID, fields: dict[str, Any]) -> None:
        self.views.setdefault(issue_id, {"followers": []}).update(fields)

    async def follow(self, issue_id: UUID, user_id: str, follow: bool) -> None:
        followers = self.views.setdefault(issue_id, {"followers": []})["followers"]
        if follow:
            followers.append(user_id)


def registered(user: UUID) -> UserRegistered:
    return UserRegistered(
        user_id=user, email="ana@example.org", display_name="Ana", role="citizen", correlation_id="req"
    )


def reported(user: UUID, issue: UUID) -> IssueReported:
    now = datetime.now(UTC)
    return IssueReported(
        issue_id=issue,
        title="Pothole",
        category="pothole",
        location=Location(lat=12.97, lon=77.59),
        reported_at=now,
        actor_id=str(user),
        correlation_id="req",
    )


async def test_the_notify_replay_keeps_contacts_and_views_and_brings_no_deleted_account_back() -> None:
    kept, gone, issue = uuid4(), uuid4(), uuid4()
    contacts, issues = FakeContacts(), FakeIssues()
    projection = readmodels.NotifyProjection(contacts, issues)
    deleted = UserDeleted(user_id=gone, deleted_at=datetime.now(UTC), correlation_id="req")
    for event in (registered(kept), registered(gone), deleted, registered(gone)):  # an older event replayed after
        await projection.user_event(record(event.model_dump_json().encode()))
    for event in (
        reported(gone, issue),
        IssueFollowed(issue_id=issue, follow=True, actor_id=str(gone), correlation_id="req"),
        IssueFollowed(issue_id=issue, follow=True, actor_id=str(kept), correlation_id="req"),
    ):
        await projection.issue_event(record(event.model_dump_json().encode()))

    assert contacts.rows[str(kept)]["email"] == "ana@example.org"
    assert contacts.rows[str(gone)] == {"email": None, "deleted": True}
    assert issues.views[issue]["reporter_id"] is None
    assert issues.views[issue]["title"] == "Pothole"
    assert issues.views[issue]["followers"] == [str(kept)]
