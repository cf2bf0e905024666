"""An administrator's historical import: a report dated in the past (``reported_at``), who may, how far back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.routes.issue_requests import check_backdating
from snapfix_issues.catalogue import Catalogue, seed_categories
from snapfix_issues.records import new_report
from snapfix_issues.rules import check_report
from snapfix_shared.messages.base import Role, utcnow
from snapfix_shared.messages.issues import BACKDATING_LIMIT
from snapfix_shared.problems import Problem
from tests.builders import ADMIN, citizen, make_report_command, staff_of

pytestmark = pytest.mark.unit

CATALOGUE = Catalogue(seed_categories())


def test_an_admins_backdated_report_starts_then_and_its_sla_too() -> None:
    command = make_report_command(**ADMIN, reported_at=utcnow() - timedelta(days=40))
    assert check_report(command, CATALOGUE) is None
    pothole = CATALOGUE.get("pothole")
    assert pothole is not None
    report = new_report(command, pothole)
    assert command.reported_at is not None
    assert abs(report.created_at - command.reported_at) < timedelta(milliseconds=1)
    assert report.due_at == report.created_at + timedelta(hours=pothole.sla_hours)
    assert report.due_at < command.occurred_at  # open and 40 days old: overdue


def test_without_reported_at_the_report_time_is_the_commands() -> None:
    command = make_report_command(**citizen())
    report = new_report(command, CATALOGUE.get("pothole"))
    assert abs(report.created_at - command.occurred_at) < timedelta(milliseconds=1)


@pytest.mark.parametrize("actor", [citizen(), staff_of("roads"), {}], ids=["citizen", "staff", "nobody"])
def test_only_an_admin_may_backdate_when_applied(actor: dict[str, Any]) -> None:
    command = make_report_command(**actor, reported_at=utcnow() - timedelta(days=1))
    rejection = check_report(command, CATALOGUE)
    assert rejection is not None
    assert rejection.status == 403


@pytest.mark.parametrize(
    ("offset", "field_ok"),
    [
        (timedelta(seconds=1), False),  # in the future of the command
        (-BACKDATING_LIMIT - timedelta(seconds=1), False),  # more than a year back
        (-BACKDATING_LIMIT + timedelta(minutes=1), True),
        (timedelta(0), True),
    ],
)
def test_the_consumer_bounds_reported_at_by_the_commands_time(offset: timedelta, field_ok: bool) -> None:
    command = make_report_command(**ADMIN)
    command = command.model_copy(update={"reported_at": command.occurred_at + offset})
    rejection = check_report(command, CATALOGUE)
    if field_ok:
        assert rejection is None
    else:
        assert rejection is not None
        assert rejection.status == 422
        assert [f for f, _ in rejection.errors] == ["reported_at"]


def _principal(role: Role) -> Principal:
    return Principal(user_id="u-1", role=role, departments=("roads",) if role == "staff" else (), session_id="s")


@pytest.mark.parametrize("role", ["citizen", "staff"])
def test_the_gateway_refuses_reported_at_from_anyone_but_an_admin(role: Role) -> None:
    now = utcnow()
    with pytest.raises(Problem) as refused:
        check_backdating(now - timedelta(days=1), _principal(role), now=now)
    assert refused.value.status == 403


@pytest.mark.parametrize("offset", [timedelta(seconds=1), -BACKDATING_LIMIT - timedelta(seconds=1)])
def test_the_gateway_refuses_a_time_outside_the_past_year(offset: timedelta) -> None:
    now = utcnow()
    with pytest.raises(Problem) as refused:
        check_backdating(now + offset, _principal("admin"), now=now)
    assert refused.value.status == 422
    assert [e["field"] for e in refused.value.extra["errors"]] == ["reported_at"]


def test_the_gateway_takes_an_admins_time_within_the_past_year() -> None:
    now = utcnow()
    check_backdating(now - timedelta(days=90), _principal("admin"), now=now)
    check_backdating(now - BACKDATING_LIMIT, _principal("admin"), now=now)
