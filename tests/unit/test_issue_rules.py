"""The issue lifecycle's rules: transitions, who may make them, edit windows, attributes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from uuid_utils.compat import uuid7

from snapfix_issues.catalogue import Catalogue, seed_categories
from snapfix_issues.domain import IssueRecord
from snapfix_issues.records import new_report
from snapfix_issues.rules import (
    REPORTER_TRANSITIONS,
    STAFF_TRANSITIONS,
    Change,
    Rejection,
    decide,
    is_overdue,
)
from snapfix_shared.messages import (
    AssignIssue,
    ChangeIssueStatus,
    CommentOnIssue,
    EditIssue,
    IssueStatusChanged,
    Status,
    VoteOnIssue,
)
from snapfix_shared.messages.base import utcnow
from tests.builders import ADMIN, citizen, make_command, make_report_command, staff_of

pytestmark = pytest.mark.unit

CATALOGUE = Catalogue(seed_categories())
REPORTER = "citizen-reporter"


def an_issue(**overrides: Any) -> IssueRecord:
    """A stored pothole (owned by roads), reported by REPORTER."""
    command = make_report_command(actor_id=REPORTER, actor_role="citizen")
    return new_report(command, CATALOGUE.get("pothole")).model_copy(update=overrides)


def change_to(issue: IssueRecord, to: Status, actor: dict[str, Any], **fields: Any) -> ChangeIssueStatus:
    return make_command(ChangeIssueStatus, issue_id=issue.id, to=to, **actor, **fields)


def verdict_of(issue: IssueRecord, command: Any, *, original_exists: bool = True) -> Change | Rejection | None:
    return decide(issue, command, catalogue=CATALOGUE, original_exists=original_exists)


def needs(to: Status) -> dict[str, Any]:
    return {"duplicate": {"duplicate_of": uuid4()}, "rejected": {"reason": "Not ours"}}.get(to, {})


ROADS = staff_of("roads")
ALL_STATUSES: tuple[Status, ...] = (
    "open",
    "acknowledged",
    "in_progress",
    "resolved",
    "closed",
    "reopened",
    "duplicate",
    "rejected",
    "withdrawn",
)


# -- the transition table -----------------------------------------------------------------

STAFF_EDGES = [(a, b) for a, targets in STAFF_TRANSITIONS.items() for b in sorted(targets)]
REPORTER_EDGES = [(a, b) for a, targets in REPORTER_TRANSITIONS.items() for b in sorted(targets)]


def test_the_table_is_the_one_specified() -> None:
    assert set(STAFF_EDGES) | set(REPORTER_EDGES) == {
        *[("open", t) for t in ("acknowledged", "in_progress", "resolved", "rejected", "duplicate", "withdrawn")],
        *[("acknowledged", t) for t in ("in_progress", "resolved", "rejected", "duplicate", "withdrawn")],
        *[("in_progress", t) for t in ("resolved", "rejected", "duplicate")],
        *[("reopened", t) for t in ("acknowledged", "in_progress", "resolved", "rejected", "duplicate")],
        ("resolved", "closed"),
        ("resolved", "reopened"),
        ("closed", "reopened"),
    }


@pytest.mark.parametrize(("current", "to"), STAFF_EDGES)
def test_staff_of_the_department_make_every_staff_transition(current: Status, to: Status) -> None:
    issue = an_issue(status=current, resolved_at=utcnow() if current in {"resolved", "closed"} else None)
    verdict = verdict_of(issue, change_to(issue, to, ROADS, **needs(to)))

    assert isinstance(verdict, Change), verdict
    assert verdict.fields["status"] == to
    assert isinstance(verdict.event, IssueStatusChanged)
    assert (verdict.event.from_status, verdict.event.to_status) == (current, to)
    assert verdict.history is not None
    assert (verdict.history["from_status"], verdict.history["to_status"]) == (current, to)


@pytest.mark.parametrize(("current", "to"), REPORTER_EDGES)
def test_the_reporter_makes_every_reporter_transition(current: Status, to: Status) -> None:
    issue = an_issue(status=current, resolved_at=utcnow() - timedelta(days=1))
    assert isinstance(verdict_of(issue, change_to(issue, to, citizen(REPORTER))), Change)


REFUSED_EDGES = [
    (a, b)
    for a in ALL_STATUSES
    for b in ALL_STATUSES
    if b not in STAFF_TRANSITIONS.get(a, frozenset()) and b not in REPORTER_TRANSITIONS.get(a, frozenset())
]


@pytest.mark.parametrize(("current", "to"), REFUSED_EDGES[::4])  # a sample of every 4th refused pair
def test_any_other_transition_is_a_conflict_even_for_an_admin(current: Status, to: Status) -> None:
    issue = an_issue(status=current)
    verdict = verdict_of(issue, change_to(issue, to, ADMIN, **needs(to)))
    assert isinstance(verdict, Rejection)
    assert verdict.status == 409


@pytest.mark.parametrize("final", ["duplicate", "rejected", "withdrawn"])
def test_final_statuses_go_nowhere(final: Status) -> None:
    issue = an_issue(status=final)
    for to in ALL_STATUSES:
        verdict = verdict_of(issue, change_to(issue, to, ADMIN, **needs(to)))
        assert isinstance(verdict, Rejection)
        assert verdict.status == 409


# -- who may -------------------------------------------------------------------------------


def test_a_citizen_cannot_make_a_staff_transition() -> None:
    issue = an_issue()
    verdict = verdict_of(issue, change_to(issue, "acknowledged", citizen()))
    assert isinstance(verdict, Rejection)
    assert verdict.status == 403


def test_the_reporter_is_no_staff_either() -> None:
    issue = an_issue()
    verdict = verdict_of(issue, change_to(issue, "resolved", citizen(REPORTER)))
    assert isinstance(verdict, Rejection)
    assert verdict.status == 403


def test_staff_of_another_department_cannot_transition() -> None:
    issue = an_issue()
    verdict = verdict_of(issue, change_to(issue, "acknowledged", staff_of("lighting", "parks")))
    assert isinstance(verdict, Rejection)
    assert verdict.status == 403


def test_an_admin_can_transition_any_department() -> None:
    issue = an_issue(department="water")
    assert isinstance(verdict_of(issue, change_to(issue, "in_progress", ADMIN)), Change)


def test_the_reporter_reopens_within_30_days() -> None:
    resolved_at = utcnow() - timedelta(days=29)
    issue = an_issue(status="resolved", resolved_at=resolved_at)
    assert isinstance(verdict_of(issue, change_to(issue, "reopened", citizen(REPORTER))), Change)


def test_the_reporter_cannot_reopen_after_30_days() -> None:
    issue = an_issue(status="closed", resolved_at=utcnow() - timedelta(days=31))
    verdict = verdict_of(issue, change_to(issue, "reopened", citizen(REPORTER)))
    assert isinstance(verdict, Rejection)
    assert verdict.status == 409


@pytest.mark.parametrize("actor", [citizen(), ROADS, ADMIN], ids=["another-citizen", "staff", "admin"])
def test_only_the_reporter_reopens(actor: dict[str, Any]) -> None:
    issue = an_issue(status="resolved", resolved_at=utcnow())
    verdict = verdict_of(issue, change_to(issue, "reopened", actor))
    assert isinstance(verdict, Rejection)
    assert verdict.status == 403


def test_only_the_reporter_withdraws() -> None:
    issue = an_issue(status="acknowledged")
    assert isinstance(verdict_of(issue, change_to(issue, "withdrawn", citizen(REPORTER))), Change)
    refused = verdict_of(issue, change_to(issue, "withdrawn", ROADS))
    assert isinstance(refused, Rejection)
    assert refused.status == 403


def test_an_in_progress_issue_cannot_be_withdrawn() -> None:
    issue = an_issue(status="in_progress")
    verdict = verdict_of(issue, change_to(issue, "withdrawn", citizen(REPORTER)))
    assert isinstance(verdict, Rejection)
    assert verdict.status == 409


# -- what a transition needs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "original_exists"),
    [({}, True), ({"duplicate_of": "self"}, True), ({"duplicate_of": "other"}, False)],
    ids=["missing", "itself", "unknown"],
)
def test_a_duplicate_needs_another_existing_issue(fields: dict[str, Any], original_exists: bool) -> None:
    issue = an_issue()
    if fields.get("duplicate_of") == "self":
        fields = {"duplicate_of": issue.id}
    elif fields.get("duplicate_of") == "other":
        fields = {"duplicate_of": uuid7()}
    verdict = verdict_of(issue, change_to(issue, "duplicate", ROADS, **fields), original_exists=original_exists)
    assert isinstance(verdict, Rejection)
    assert (verdict.status, verdict.errors[0][0]) == (422, "duplicate_of")


def test_a_rejection_needs_a_reason() -> None:
    issue = an_issue()
    verdict = verdict_of(issue, change_to(issue, "rejected", ROADS))
    assert isinstance(verdict, Rejection)
    assert (verdict.status, verdict.errors[0][0]) == (422, "reason")


def test_resolving_records_when() -> None:
    issue = an_issue(status="in_progress")
    command = change_to(issue, "resolved", ROADS, note="Filled")
    verdict = verdict_of(issue, command)
    assert isinstance(verdict, Change)
    assert verdict.fields["resolved_at"] == verdict.history["at"]  # type: ignore[index]
    assert verdict.history["note"] == "Filled"  # type: ignore[index]


def test_a_missing_issue_is_not_found() -> None:
    command = make_command(ChangeIssueStatus, issue_id=uuid7(), to="resolved", **ROADS)
    verdict = decide(None, command, catalogue=CATALOGUE)
    assert isinstance(verdict, Rejection)
    assert verdict.status == 404


# -- edits, comments, votes, assignment ----------------------------------------------------


def test_the_reporter_edits_within_15_minutes_of_reporting() -> None:
    issue = an_issue()
    edit = make_command(
        EditIssue,
        issue_id=issue.id,
        title="Pothole, deeper than I said",
        occurred_at=issue.created_at + timedelta(minutes=14),
        **citizen(REPORTER),
    )
    verdict = verdict_of(issue, edit)
    assert isinstance(verdict, Change)
    assert verdict.fields["title"] == "Pothole, deeper than I said"
    assert verdict.fields["description"] == issue.description


def test_an_edit_after_15_minutes_is_refused() -> None:
    issue = an_issue()
    late = make_command(
        EditIssue,
        issue_id=issue.id,
        title="Too late",
        occurred_at=issue.created_at + timedelta(minutes=16),
        **citizen(REPORTER),
    )
    verdict = verdict_of(issue, late)
    assert isinstance(verdict, Rejection)
    assert verdict.status == 409


def test_only_the_reporter_edits_and_only_while_open() -> None:
    issue = an_issue()
    by_other = verdict_of(issue, make_command(EditIssue, issue_id=issue.id, title="Mine now", **citizen()))
    assert isinstance(by_other, Rejection)
    assert by_other.status == 403
    acknowledged = an_issue(status="acknowledged")
    not_open = verdict_of(
        acknowledged, make_command(EditIssue, issue_id=acknowledged.id, title="Changed", **citizen(REPORTER))
    )
    assert isinstance(not_open, Rejection)
    assert not_open.status == 409


def test_citizens_cannot_write_internal_comments() -> None:
    issue = an_issue()
    internal = {"comment_id": uuid7(), "body": "Crew scheduled", "internal": True}
    by_citizen = verdict_of(issue, make_command(CommentOnIssue, issue_id=issue.id, **internal, **citizen()))
    assert isinstance(by_citizen, Rejection)
    assert by_citizen.status == 403
    assert verdict_of(issue, make_command(CommentOnIssue, issue_id=issue.id, **internal, **staff_of("parks"))) is None
    public = {"comment_id": uuid7(), "body": "Still there", "internal": False}
    assert verdict_of(issue, make_command(CommentOnIssue, issue_id=issue.id, **public, **citizen())) is None


def test_voting_needs_a_signed_in_user() -> None:
    issue = an_issue()
    verdict = verdict_of(issue, make_command(VoteOnIssue, issue_id=issue.id, vote=True))
    assert isinstance(verdict, Rejection)
    assert verdict.status == 403


def test_assigning_moves_ownership_and_needs_staff_of_the_owner() -> None:
    issue = an_issue()
    move = {"issue_id": issue.id, "department": "traffic", "priority": "urgent"}
    verdict = verdict_of(issue, make_command(AssignIssue, **move, **ROADS))
    assert isinstance(verdict, Change)
    assert (verdict.fields["department"], verdict.fields["priority"]) == ("traffic", "urgent")
    refused = verdict_of(issue, make_command(AssignIssue, **move, **staff_of("traffic")))
    assert isinstance(refused, Rejection)
    assert refused.status == 403
    unknown = verdict_of(issue, make_command(AssignIssue, issue_id=issue.id, department="nowhere", **ADMIN))
    assert isinstance(unknown, Rejection)
    assert (unknown.status, unknown.errors[0][0]) == (422, "department")


# -- reports against the catalogue ---------------------------------------------------------


def test_a_report_of_an_unknown_category_names_the_field() -> None:
    verdict = decide(None, make_report_command(category="unicorns"), catalogue=CATALOGUE)
    assert isinstance(verdict, Rejection)
    assert verdict.errors == (("category", "unknown category unicorns"),)


@pytest.mark.parametrize(
    ("category", "attributes", "field"),
    [
        ("pothole", {"colour": "grey"}, "attributes.colour"),  # unknown to the category
        ("pothole", {"depth_cm": "deep"}, "attributes.depth_cm"),  # number expected
        ("pothole", {"lane": "sky"}, "attributes.lane"),  # not one of the list's keys
        ("streetlight", {"flickering": 1}, "attributes.flickering"),  # boolean expected
        ("garbage", {}, "attributes.bin_type"),  # required
    ],
    ids=["unknown", "number", "list", "boolean", "required"],
)
def test_attributes_are_checked_against_the_category(category: str, attributes: dict[str, Any], field: str) -> None:
    verdict = decide(None, make_report_command(category=category, attributes=attributes), catalogue=CATALOGUE)
    assert isinstance(verdict, Rejection)
    assert verdict.status == 422
    assert [f for f, _ in verdict.errors] == [field]


def test_fitting_attributes_pass_and_the_category_sets_owner_and_due_date() -> None:
    command = make_report_command(category="garbage", attributes={"bin_type": "recycling"})
    assert decide(None, command, catalogue=CATALOGUE) is None
    report = new_report(command, CATALOGUE.get("garbage"))
    assert report.department == "sanitation"
    assert report.due_at == report.created_at + timedelta(hours=48)
    assert report.priority == "normal"
    assert len(report.geohash) == 9


def test_overdue_is_past_due_and_unsettled() -> None:
    now = utcnow()
    assert is_overdue(an_issue(due_at=now - timedelta(hours=1)), now)
    assert not is_overdue(an_issue(due_at=now + timedelta(hours=1)), now)
    assert not is_overdue(an_issue(due_at=now - timedelta(hours=1), status="resolved"), now)
