"""What integrators receive: the public view of an issue event, and which endpoints want it.

Integrators are outsiders, so a payload carries what the public may see of a report
(as the issues service's public record does): never the reporter or any other actor
(an anonymous reporter must stay hidden, and a reporter's own withdrawal or edit would
reveal them), never contact details, never an internal comment. ``IssueFollowed`` is
never published (who follows what is private).
"""

from __future__ import annotations

from typing import Any

from snapfix_shared.messages import (
    IssueAssigned,
    IssueCommented,
    IssueEdited,
    IssueEvent,
    IssueReported,
    IssueStatusChanged,
    IssueVoted,
)

ALL = "*"
PUBLISHED_TYPES: tuple[str, ...] = (
    "IssueReported",
    "IssueStatusChanged",
    "IssueCommented",
    "IssueAssigned",
    "IssueVoted",
    "IssueEdited",
)


def matches(event_types: list[str], event_type: str) -> bool:
    """An endpoint's filter: ``["*"]`` takes every published type, else the listed ones."""
    return event_type in PUBLISHED_TYPES and (ALL in event_types or event_type in event_types)


def public_data(event: IssueEvent) -> dict[str, Any] | None:  # noqa: PLR0911 - one return per event type
    """The ``data`` of the webhook payload for ``event``; None when nothing of it is public."""
    base: dict[str, Any] = {"issue_id": str(event.issue_id), "event_id": str(event.message_id)}
    match event:
        case IssueReported():
            return base | {
                "title": event.title,
                "description": event.description,
                "category": event.category,
                "status": event.status,
                "location": {"lat": event.location.lat, "lon": event.location.lon},
                "address": event.address,
                "attributes": dict(event.attributes),
                "media_ids": [str(m) for m in event.media_ids],
                "department": event.department,
                "reported_at": event.reported_at.isoformat(),
            }
        case IssueStatusChanged():
            return base | {
                "from_status": event.from_status,
                "to_status": event.to_status,
                "note": event.note,
                "reason": event.reason,
                "duplicate_of": str(event.duplicate_of) if event.duplicate_of else None,
                "category": event.category,
                "changed_at": event.changed_at.isoformat(),
            }
        case IssueCommented() if not event.internal:
            return base | {
                "comment_id": str(event.comment_id),
                "body": event.body,
                "commented_at": event.commented_at.isoformat(),
            }
        case IssueAssigned():
            # The department and priority are public; which staff member got it is not.
            return base | {"department": event.department, "priority": event.priority}
        case IssueVoted():
            return base | {"votes": event.votes}
        case IssueEdited():
            return base | {
                "title": event.title,
                "description": event.description,
                "media_ids": [str(m) for m in event.media_ids],
            }
    return None


def payload(event: IssueEvent) -> dict[str, Any] | None:
    """The Standard Webhooks payload ``{type, timestamp, data}``; None for what is never published."""
    data = public_data(event)
    if data is None:
        return None
    return {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": data}
