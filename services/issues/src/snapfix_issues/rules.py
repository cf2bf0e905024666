"""The issue lifecycle's rules: may this command be applied to this issue now, and what does it change?

Pure and storage-free. The same decisions answer the gateway's synchronous check
(``POST /v1/commands/check``) and guard the consumer when it applies the command, so a
command refused at apply time (the issue changed in between) is refused for the same reason.
Times are the command's ``occurred_at``, so both answers agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from uuid_utils.compat import uuid7

from snapfix_issues.catalogue import Catalogue, attribute_errors
from snapfix_issues.domain import IssueRecord, storage_precision
from snapfix_shared.messages import (
    AssignIssue,
    ChangeIssueStatus,
    CommentOnIssue,
    EditIssue,
    Event,
    FollowIssue,
    IssueAssigned,
    IssueCommand,
    IssueEdited,
    IssueStatusChanged,
    ReportIssue,
    Status,
    VoteOnIssue,
)
from snapfix_shared.messages.base import Command, utcnow
from snapfix_shared.messages.issues import BACKDATING_LIMIT

# Staff (of the issue's department) or an admin move an issue along these edges ...
STAFF_TRANSITIONS: dict[Status, frozenset[Status]] = {
    "open": frozenset({"acknowledged", "in_progress", "resolved", "rejected", "duplicate"}),
    "acknowledged": frozenset({"in_progress", "resolved", "rejected", "duplicate"}),
    "in_progress": frozenset({"resolved", "rejected", "duplicate"}),
    "reopened": frozenset({"acknowledged", "in_progress", "resolved", "rejected", "duplicate"}),
    "resolved": frozenset({"closed"}),
}
# ... and only the reporter along these.
REPORTER_TRANSITIONS: dict[Status, frozenset[Status]] = {
    "resolved": frozenset({"reopened"}),
    "closed": frozenset({"reopened"}),
    "open": frozenset({"withdrawn"}),
    "acknowledged": frozenset({"withdrawn"}),
}
FINAL_STATUSES: frozenset[Status] = frozenset({"duplicate", "rejected", "withdrawn"})
# Nothing is overdue once it is dealt with.
SETTLED_STATUSES: frozenset[Status] = frozenset({"resolved", "closed", "duplicate", "rejected", "withdrawn"})
REOPEN_WINDOW = timedelta(days=30)
EDIT_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Rejection:
    """Why a command cannot take effect, as an HTTP status (403, 404, 409, 422) and details."""

    status: int
    detail: str
    errors: tuple[tuple[str, str], ...] = ()  # (field, message), for 422


@dataclass(frozen=True)
class Change:
    """What a lifecycle command does to its issue: fields to set, a history entry, the event."""

    fields: dict[str, Any]
    event: Event
    history: dict[str, Any] | None = None


def is_overdue(issue: IssueRecord, now: datetime) -> bool:
    return overdue_at(issue.due_at, issue.status, now)


def overdue_at(due_at: datetime | None, status: str, now: datetime) -> bool:
    """Past its due date and not settled."""
    return due_at is not None and due_at < now and status not in SETTLED_STATUSES


def allowed_transition(current: Status, to: Status) -> bool:
    return to in STAFF_TRANSITIONS.get(current, frozenset()) or to in REPORTER_TRANSITIONS.get(current, frozenset())


def is_reporter(issue: IssueRecord, command: Command) -> bool:
    return command.actor_id is not None and command.actor_id == issue.reporter_id


def is_staff_of(command: Command, department: str | None) -> bool:
    return command.actor_role == "admin" or (
        command.actor_role == "staff" and department is not None and department in command.actor_departments
    )


def invalid(field_name: str, message: str) -> Rejection:
    return Rejection(422, message, ((field_name, message),))


# -- reports ------------------------------------------------------------------------------


def check_report(command: ReportIssue, catalogue: Catalogue) -> Rejection | None:
    if command.reported_at is not None and (rejection := check_backdating(command)) is not None:
        return rejection
    spec = catalogue.get(command.category)
    if spec is None:
        return invalid("category", f"unknown category {command.category}")
    errors = attribute_errors(spec, command.attributes)
    if errors:
        return Rejection(422, "; ".join(f"{f}: {m}" for f, m in errors), tuple(errors))
    return None


def check_backdating(command: ReportIssue) -> Rejection | None:
    """A report dated in the past: an administrator's historical import, within BACKDATING_LIMIT of the command."""
    assert command.reported_at is not None
    if command.actor_role != "admin":
        return Rejection(403, "only an administrator may give a report's time (reported_at)")
    if command.reported_at > command.occurred_at:
        return invalid("reported_at", "must not be in the future")
    if command.reported_at < command.occurred_at - BACKDATING_LIMIT:
        return invalid("reported_at", f"must be at most {BACKDATING_LIMIT.days} days in the past")
    return None


# -- status -------------------------------------------------------------------------------


def decide_status(issue: IssueRecord, command: ChangeIssueStatus, *, original_exists: bool) -> Change | Rejection:
    rejection = _transition_refused(issue, command) or _status_details_invalid(
        issue, command, original_exists=original_exists
    )
    if rejection is not None:
        return rejection
    current, to = issue.status, command.to

    at = storage_precision(command.occurred_at)
    fields: dict[str, Any] = {"status": to, "updated_at": at}
    if to == "resolved":
        fields["resolved_at"] = at
    history = {
        "at": at,
        "from_status": current,
        "to_status": to,
        "note": command.note,
        "actor_id": command.actor_id,
        "duplicate_of": command.duplicate_of,
        "reason": command.reason,
        "command_id": command.message_id,
    }
    event = IssueStatusChanged(
        **_event_envelope(command),
        from_status=current,
        to_status=to,
        note=command.note,
        duplicate_of=command.duplicate_of,
        reason=command.reason,
        category=issue.category,
        changed_at=at,
    )
    return Change(fields, event, history)


def _transition_refused(issue: IssueRecord, command: ChangeIssueStatus) -> Rejection | None:
    """Whether the issue may go from its status to the one asked, and by this actor: the reporter for
    their own transitions (reopening within REOPEN_WINDOW of the resolution), staff of its department
    for the others."""
    current, to = issue.status, command.to
    if not allowed_transition(current, to):
        return Rejection(409, f"an issue that is {current} cannot become {to}")
    if to not in REPORTER_TRANSITIONS.get(current, frozenset()):
        if not is_staff_of(command, issue.department):
            return Rejection(403, f"only staff of the {issue.department} department may make this issue {to}")
        return None
    if not is_reporter(issue, command):
        return Rejection(403, f"only the reporter may make an issue {to}")
    if to == "reopened" and (issue.resolved_at is None or command.occurred_at - issue.resolved_at > REOPEN_WINDOW):
        return Rejection(409, f"an issue can be reopened only within {REOPEN_WINDOW.days} days of its resolution")
    return None


def _status_details_invalid(
    issue: IssueRecord, command: ChangeIssueStatus, *, original_exists: bool
) -> Rejection | None:
    """A duplicate names an existing other issue; a rejection gives its reason."""
    if command.to == "duplicate":
        if command.duplicate_of is None:
            return invalid("duplicate_of", "a duplicate needs the id of the original issue")
        if command.duplicate_of == issue.id:
            return invalid("duplicate_of", "an issue cannot duplicate itself")
        if not original_exists:
            return invalid("duplicate_of", f"no issue {command.duplicate_of}")
    if command.to == "rejected" and not (command.reason or "").strip():
        return invalid("reason", "a rejection needs a reason")
    return None


# -- assignment and edits -----------------------------------------------------------------


def decide_assign(issue: IssueRecord, command: AssignIssue, *, departments: set[str]) -> Change | Rejection:
    if command.department is None and command.assignee_id is None and command.priority is None:
        return invalid("department", "name a department, an assignee or a priority")
    if issue.status in FINAL_STATUSES or issue.status == "closed":
        return Rejection(409, f"an issue that is {issue.status} cannot be assigned")
    if not is_staff_of(command, issue.department):
        return Rejection(403, f"only staff of the {issue.department} department may assign this issue")
    if command.department is not None and command.department not in departments:
        return invalid("department", f"unknown department {command.department}")
    department = command.department or issue.department
    assignee = command.assignee_id if command.assignee_id is not None else issue.assignee_id
    if command.department is not None and command.department != issue.department and command.assignee_id is None:
        assignee = None  # a new department picks its own assignee
    priority = command.priority or issue.priority
    fields = {
        "department": department,
        "assignee_id": assignee,
        "priority": priority,
        "updated_at": storage_precision(command.occurred_at),
    }
    event = IssueAssigned(**_event_envelope(command), department=department, assignee_id=assignee, priority=priority)
    return Change(fields, event)


def decide_edit(issue: IssueRecord, command: EditIssue) -> Change | Rejection:
    if command.title is None and command.description is None and command.media_ids is None:
        return invalid("title", "change the title, the description or the photos")
    if not is_reporter(issue, command):
        return Rejection(403, "only the reporter may edit a report")
    if issue.status != "open":
        return Rejection(409, f"a report that is {issue.status} can no longer be edited")
    if command.occurred_at - issue.created_at > EDIT_WINDOW:
        return Rejection(409, f"a report can be edited only within {EDIT_WINDOW.seconds // 60} minutes")
    title = command.title if command.title is not None else issue.title
    description = command.description if command.description is not None else issue.description
    media_ids = command.media_ids if command.media_ids is not None else issue.media_ids
    fields = {
        "title": title,
        "description": description,
        "media_ids": list(media_ids),
        "updated_at": storage_precision(command.occurred_at),
    }
    event = IssueEdited(**_event_envelope(command), title=title, description=description, media_ids=media_ids)
    return Change(fields, event)


# -- participation ------------------------------------------------------------------------


def check_participation(command: CommentOnIssue | VoteOnIssue | FollowIssue) -> Rejection | None:
    """Comments, votes and follows: any signed-in user; internal comments only from staff."""
    if command.actor_id is None:
        return Rejection(403, "sign in first")
    if isinstance(command, CommentOnIssue) and command.internal and command.actor_role not in {"staff", "admin"}:
        return Rejection(403, "only staff may write internal comments")
    return None


# -- all commands -------------------------------------------------------------------------


def decide(
    issue: IssueRecord | None,
    command: IssueCommand,
    *,
    catalogue: Catalogue,
    original_exists: bool = False,
) -> Change | Rejection | None:
    """The verdict on ``command``: a Rejection, a Change to apply to the issue, or None (accepted,
    and its effect lies outside the issue document: a report, a comment, a vote, a follow)."""
    if isinstance(command, ReportIssue):
        return check_report(command, catalogue)
    if issue is None:
        return Rejection(404, f"no issue {command.issue_id}")
    match command:
        case ChangeIssueStatus():
            return decide_status(issue, command, original_exists=original_exists)
        case AssignIssue():
            return decide_assign(issue, command, departments=catalogue.departments())
        case EditIssue():
            return decide_edit(issue, command)
        case CommentOnIssue() | VoteOnIssue() | FollowIssue():
            return check_participation(command)
    raise AssertionError(f"unhandled command {type(command).__name__}")


def _event_envelope(command: ChangeIssueStatus | AssignIssue | EditIssue) -> dict[str, Any]:
    return {
        "message_id": uuid7(),
        "occurred_at": utcnow(),
        "correlation_id": command.correlation_id,
        "causation_id": str(command.message_id),
        "actor_id": command.actor_id,
        "issue_id": command.issue_id,
    }
