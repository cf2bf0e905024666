"""The issues service's public listings (what the gateway's Open311 endpoint reads), on the real stack."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from snapfix_shared.messages import ChangeIssueStatus
from snapfix_shared.messages.issues import ReporterContact
from tests.builders import citizen, make_command, make_report_command, staff_of
from tests.integration.issues_app import Issues, events_of, running_issues, wait_for_issue
from tests.stack import Stack, produce_command

pytestmark = pytest.mark.integration

CONTACT = ReporterContact(email="secret.person@example.org", first_name="Secret", last_name="Person", phone="+4912345")


@pytest.fixture(scope="module")
async def issues(stack: Stack) -> AsyncIterator[Issues]:
    async with running_issues(stack) as running:
        yield running


def a_past_hour() -> datetime:
    """A moment in the past no other test reports at (whole ms, as BSON keeps them)."""
    return datetime(2001, 1, 1, tzinfo=UTC) + timedelta(minutes=random.randrange(10_000_000))


async def listing(issues: Issues, path: str = "/v1/reports", **params: Any) -> list[dict[str, Any]]:
    response = await issues.http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def test_reports_in_a_window_newest_first_filtered_and_paged(stack: Stack, issues: Issues) -> None:
    t0 = a_past_hour()
    commands = [
        make_report_command(occurred_at=t0, category="pothole", contact=CONTACT, channel="open311", **citizen()),
        make_report_command(occurred_at=t0 + timedelta(minutes=1), category="streetlight", **citizen()),
        make_report_command(occurred_at=t0 + timedelta(minutes=2), category="pothole", **citizen()),
    ]
    for command in commands:
        await produce_command(stack, command)
    for command in commands:
        await wait_for_issue(issues.http, command.issue_id)
    a, b, c = (str(command.issue_id) for command in commands)
    window = {"start": t0.isoformat(), "end": (t0 + timedelta(minutes=3)).isoformat()}

    everything = await listing(issues, **window)
    assert [r["id"] for r in everything] == [c, b, a]
    assert [r["id"] for r in await listing(issues, **window, category="pothole")] == [c, a]
    assert [r["id"] for r in await listing(issues, **window, category="pothole,streetlight")] == [c, b, a]
    assert [r["id"] for r in await listing(issues, **window, status="open,acknowledged")] == [c, b, a]
    assert await listing(issues, **window, status="resolved") == []
    assert [r["id"] for r in await listing(issues, **window, offset=1, limit=1)] == [b]
    # The end is excluded, the start included.
    assert [r["id"] for r in await listing(issues, start=t0.isoformat(), end=commands[1].occurred_at.isoformat())] == [
        a
    ]

    # Nothing that names or reaches the reporter, ever.
    first = everything[-1]
    assert set(first) >= {"id", "category", "status", "lat", "lon", "department", "created_at", "history"}
    text = str(everything)
    for secret in ("reporter_id", "contact", "secret.person", "Secret", "+4912345", commands[0].actor_id or "?"):
        assert secret not in text


async def test_explicit_ids_override_the_filters_in_their_order(stack: Stack, issues: Issues) -> None:
    commands = [make_report_command(**citizen()) for _ in range(2)]
    for command in commands:
        await produce_command(stack, command)
    for command in commands:
        await wait_for_issue(issues.http, command.issue_id)
    a, b = (str(command.issue_id) for command in commands)
    found = await listing(issues, ids=f"{b},not-an-id,{a},{b}", category="streetlight", status="resolved")
    assert [r["id"] for r in found] == [b, a]
    assert await listing(issues, ids="0190c0de-0000-7000-8000-000000000000") == []


async def test_a_window_needs_timezones(issues: Issues) -> None:
    response = await issues.http.get("/v1/reports", params={"start": "2025-01-01T00:00:00", "end": "2025-01-02T00:00Z"})
    assert response.status_code == 422
    response = await issues.http.get("/v1/reports")
    assert response.status_code == 422


async def test_status_changes_in_a_window_without_their_actors(stack: Stack, issues: Issues) -> None:
    report = make_report_command(**citizen())
    await produce_command(stack, report)
    await wait_for_issue(issues.http, report.issue_id)
    roads = staff_of("roads")
    change = make_command(ChangeIssueStatus, issue_id=report.issue_id, to="acknowledged", note="On it", **roads)
    await produce_command(stack, change)
    await events_of(stack, report.issue_id, "IssueStatusChanged")
    await asyncio.sleep(0.2)  # the cache is invalidated right after the event is published
    window = {
        "start": (change.occurred_at - timedelta(seconds=5)).isoformat(),
        "end": (change.occurred_at + timedelta(seconds=5)).isoformat(),
    }
    ours = [
        c
        for c in await listing(issues, "/v1/reports/status-changes", **window)
        if c["issue_id"] == str(report.issue_id)
    ]
    assert len(ours) == 1
    [update] = ours
    assert update["id"] == str(change.message_id)
    assert (update["from"], update["to"], update["note"]) == ("open", "acknowledged", "On it")
    assert roads["actor_id"] not in str(update)
    later = {"start": (change.occurred_at + timedelta(seconds=1)).isoformat(), "end": window["end"]}
    assert all(
        c["issue_id"] != str(report.issue_id) for c in await listing(issues, "/v1/reports/status-changes", **later)
    )
