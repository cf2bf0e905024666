"""How issues are shown: per viewer (an anonymous reporter stays hidden), computed fields at read time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from snapfix_issues.domain import CommentRecord, IssueRecord, Viewer
from snapfix_issues.rules import is_overdue


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def reporter_visible(issue: IssueRecord, viewer: Viewer) -> bool:
    """An anonymous report hides its reporter from everyone but staff, admins and the reporter."""
    return (
        not issue.anonymous or viewer.is_staff or (viewer.user_id is not None and viewer.user_id == issue.reporter_id)
    )


def summary(issue: IssueRecord, *, now: datetime, distance_m: float | None = None) -> dict[str, object]:
    """One issue in a list (never its reporter)."""
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
        "overdue": is_overdue(issue, now),
    }
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
