"""How issues are shown: per viewer (an anonymous reporter stays hidden), computed fields at read time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from snapfix_issues.domain import CommentRecord, IssueRecord
from snapfix_issues.rules import is_overdue
from snapfix_shared.viewer import Viewer


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def reporter_visible(issue: IssueRecord, viewer: Viewer) -> bool:
    return reporter_shown(anonymous=issue.anonymous, reporter_id=issue.reporter_id, viewer=viewer)


def reporter_shown(*, anonymous: bool, reporter_id: str | None, viewer: Viewer) -> bool:
    """An anonymous report hides its reporter from everyone but staff, admins and the reporter."""
    return not anonymous or viewer.is_staff or (viewer.user_id is not None and viewer.user_id == reporter_id)


def summary(issue: IssueRecord, *, now: datetime | None, distance_m: float | None = None) -> dict[str, object]:
    """One issue in a list (never its reporter); ``overdue`` as of ``now`` (left out without one)."""
    view: dict[str, object] = {
        "id": str(issue.id),
        "title": issue.title,
        "category": issue.category,
        "status": issue.status,
        "lat": issue.lat,
        "lon": issue.lon,
        "address": issue.address,
        "department": issue.department,
        "assignee_id": issue.assignee_id,
        "priority": issue.priority,
        "votes": issue.votes,
        "created_at": issue.created_at.isoformat(),
        "due_at": _iso(issue.due_at),
    }
    if now is not None:
        view["overdue"] = is_overdue(issue, now)
    if distance_m is not None:
        view["distance_m"] = round(distance_m, 1)
    return view


def detail(
    issue: IssueRecord, comments: Sequence[CommentRecord], viewer: Viewer, *, now: datetime
) -> dict[str, object]:
    """The full issue as ``viewer`` may see it."""
    hidden = None if reporter_visible(issue, viewer) else issue.reporter_id

    def actor(actor_id: str | None) -> str | None:
        return None if hidden is not None and actor_id == hidden else actor_id

    return {
        "id": str(issue.id),
        "title": issue.title,
        "description": issue.description,
        "category": issue.category,
        "lat": issue.lat,
        "lon": issue.lon,
        "address": issue.address,
        "attributes": issue.attributes,
        "media_ids": [str(m) for m in issue.media_ids],
        "anonymous": issue.anonymous,
        "reporter_id": actor(issue.reporter_id),
        "channel": issue.channel,
        "address_id": issue.address_id,
        "media_url": issue.media_url,
        # Personal data of Open311 submissions: staff only.
        "contact": issue.contact.model_dump() if issue.contact and viewer.is_staff else None,
        "device_id": issue.device_id if viewer.is_staff else None,
        "account_id": issue.account_id if viewer.is_staff else None,
        "status": issue.status,
        "department": issue.department,
        "assignee_id": issue.assignee_id,
        "priority": issue.priority,
        "created_at": issue.created_at.isoformat(),
        "updated_at": _iso(issue.updated_at),
        "due_at": _iso(issue.due_at),
        "resolved_at": _iso(issue.resolved_at),
        "overdue": is_overdue(issue, now),
        "votes": issue.votes,
        "followers": issue.followers,
        "history": [
            {
                "at": h.at.isoformat(),
                "from": h.from_status,
                "to": h.to_status,
                "note": h.note,
                "actor_id": actor(h.actor_id),
                "duplicate_of": str(h.duplicate_of) if h.duplicate_of else None,
                "reason": h.reason,
            }
            for h in issue.history
        ],
        "comments": [
            {
                "id": str(c.id),
                "author_id": actor(c.author_id),
                "body": c.body,
                "internal": c.internal,
                "created_at": c.created_at.isoformat(),
            }
            for c in comments
            if viewer.is_staff or not c.internal
        ],
    }


def public_record(issue: IssueRecord) -> dict[str, object]:
    """An issue for public interfaces (Open311): what was reported and what happened to it.

    Never the reporter, the actors of changes, the contact details or internal comments.
    """
    return {
        "id": str(issue.id),
        "title": issue.title,
        "description": issue.description,
        "category": issue.category,
        "status": issue.status,
        "lat": issue.lat,
        "lon": issue.lon,
        "address": issue.address,
        "address_id": issue.address_id,
        "department": issue.department,
        "media_ids": [str(m) for m in issue.media_ids],
        "media_url": issue.media_url,
        "created_at": issue.created_at.isoformat(),
        "updated_at": _iso(issue.updated_at),
        "due_at": _iso(issue.due_at),
        "resolved_at": _iso(issue.resolved_at),
        "history": [status_change(issue, index) for index in range(len(issue.history))],
    }


def status_change(issue: IssueRecord, index: int) -> dict[str, object]:
    """The ``index``-th status change of an issue, public fields only, with a stable id."""
    h = issue.history[index]
    return {
        "id": str(h.command_id) if h.command_id else f"{issue.id}-{index}",
        "issue_id": str(issue.id),
        "at": h.at.isoformat(),
        "from": h.from_status,
        "to": h.to_status,
        "note": h.note,
        "reason": h.reason,
        "duplicate_of": str(h.duplicate_of) if h.duplicate_of else None,
    }
