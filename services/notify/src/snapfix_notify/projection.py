"""notify's view of each issue (``issue_views``), projected from ``issues.events.v1``: one function for the
service's consumer and for the operator's rebuild (``snapfix readmodels rebuild notify``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from snapfix_notify.repository import Issues
from snapfix_shared.messages import (
    IssueAssigned,
    IssueEdited,
    IssueEvent,
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
)

Erased = Callable[[str | None], Awaitable[bool]]


async def _never(_: str | None) -> bool:
    return False


async def project_issue_event(issues: Issues, event: IssueEvent, *, erased: Erased = _never) -> None:
    """Apply one issue event to the view. ``erased``: whether an account was deleted (a rebuild replays
    events older than the deletion: neither its reporter id nor its follows come back)."""
    match event:
        case IssueReported():
            fields = {
                "title": event.title,
                "category": event.category,
                "department": event.department,
                "reporter_id": None if await erased(event.actor_id) else event.actor_id,
                "anonymous": event.anonymous,
                "due_at": event.due_at,
                "lat": event.location.lat,
                "lon": event.location.lon,
            }
            await issues.reported(event.issue_id, fields)
        case IssueStatusChanged():
            await issues.set(event.issue_id, {"status": event.to_status, "category": event.category})
        case IssueAssigned():
            await issues.set(event.issue_id, {"department": event.department, "assignee_id": event.assignee_id})
        case IssueEdited():
            await issues.set(event.issue_id, {"title": event.title})
        case IssueFollowed() if event.actor_id and not await erased(event.actor_id):
            await issues.follow(event.issue_id, event.actor_id, event.follow)
