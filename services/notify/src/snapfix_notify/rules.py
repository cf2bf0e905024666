"""Who hears what: an event and what notify knows about its issue in, the audience out.

Free of Kafka and Mongo. The audience names users, or a department whose staff the
handler looks up. Rules that hold everywhere:

- the actor is never told about their own action (except the receipt of their own report);
- internal comments reach no one here (citizens never; staff read them in the queue);
- a reporter is told as the reporter, never a second time as a follower.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from snapfix_shared.messages import (
    IssueAssigned,
    IssueCommented,
    IssueEvent,
    IssueReported,
    IssueStatusChanged,
)

SETTLED = frozenset({"resolved", "closed", "duplicate", "rejected", "withdrawn"})
STATUS_MOMENTS = {"acknowledged": "acknowledged", "resolved": "resolved", "duplicate": "duplicate"}


@dataclass(frozen=True)
class IssueFacts:
    """What notify knows about an issue before the event is applied."""

    issue_id: str
    title: str = ""
    category: str = ""
    department: str | None = None
    assignee_id: str | None = None
    reporter_id: str | None = None
    status: str = "open"
    followers: Sequence[str] = ()


@dataclass(frozen=True)
class User:
    user_id: str
    moment: str


@dataclass(frozen=True)
class Department:
    """Every staff member of ``department`` (the handler expands it)."""

    department: str
    moment: str


Target = User | Department


@dataclass(frozen=True)
class Plan:
    targets: list[Target]
    context: dict[str, Any] = field(default_factory=dict)
    exclude: str | None = None
    """A user never to tell (the actor), whichever way they would be reached."""


NOTHING = Plan([])


def issue_url(base_url: str, issue_id: object, *, web_base_url: str | None = None) -> str:
    """The issue's page in the web app when there is one (``web_base_url``), else its API resource."""
    if web_base_url:
        return f"{web_base_url.rstrip('/')}/issues/{issue_id}"
    return f"{base_url.rstrip('/')}/v1/issues/{issue_id}"


def reopen_url(web_base_url: str, issue_id: object) -> str:
    """The web app's issue page, asked to offer its Reopen button (to the signed-in reporter)."""
    return f"{web_base_url.rstrip('/')}/issues/{issue_id}?action=reopen"


# The actor id the gateway gives an Open311 integrator's API key (``apikey:<key id>``): no account, no contact.
INTEGRATOR = "apikey:"


def plan(event: IssueEvent, facts: IssueFacts | None, *, base_url: str, web_base_url: str | None = None) -> Plan:
    """The audience of ``event`` (and what the message needs to say).

    Links open the web app when ``web_base_url`` is set, else the API (``base_url``)."""
    links = _Links(base_url, web_base_url)
    match event:
        case IssueReported():
            if event.actor_id is None or event.actor_id.startswith(INTEGRATOR):  # no account to tell
                return NOTHING
            context = {
                "issue_id": str(event.issue_id),
                "title": event.title,
                "category": event.category,
                "address": event.address or "",
                "issue_url": links.issue(event.issue_id),
            }
            # The receipt is the one message about a user's own action.
            return Plan([User(event.actor_id, "report_received")], context)
        case IssueStatusChanged():
            return _status_changed(event, facts, links) if facts else NOTHING
        case IssueCommented():
            return _commented(event, facts, links) if facts else NOTHING
        case IssueAssigned():
            return _assigned(event, facts, links) if facts else NOTHING
    return NOTHING


def overdue(facts: IssueFacts, *, base_url: str, due_at: str, web_base_url: str | None = None) -> Plan:
    """The staff who must act on an issue past its due date: its assignee, else its department."""
    context = _issue_context(facts, _Links(base_url, web_base_url)) | {"due_at": due_at}
    if facts.assignee_id:
        return Plan([User(facts.assignee_id, "overdue")], context)
    if facts.department:
        return Plan([Department(facts.department, "overdue")], context)
    return NOTHING


@dataclass(frozen=True)
class _Links:
    base_url: str
    web_base_url: str | None

    def issue(self, issue_id: object) -> str:
        return issue_url(self.base_url, issue_id, web_base_url=self.web_base_url)

    def api_issue(self, issue_id: object) -> str:
        return issue_url(self.base_url, issue_id)


def _issue_context(facts: IssueFacts, links: _Links) -> dict[str, Any]:
    return {
        "issue_id": facts.issue_id,
        "title": facts.title,
        "category": facts.category,
        "issue_url": links.issue(facts.issue_id),
    }


def _reporter_and_followers(facts: IssueFacts, own: str, followed: str) -> list[Target]:
    targets: list[Target] = []
    if facts.reporter_id:
        targets.append(User(facts.reporter_id, own))
    targets += [User(f, followed) for f in dict.fromkeys(facts.followers) if f != facts.reporter_id]
    return targets


def _status_changed(event: IssueStatusChanged, facts: IssueFacts, links: _Links) -> Plan:
    context = _issue_context(facts, links) | {
        "from_status": event.from_status,
        "to_status": event.to_status,
        "note": event.note,
        "reason": event.reason or "",
        # The API's command, for clients of the API; a message shows reopen_url when the web app is there.
        "transitions_url": f"{links.api_issue(event.issue_id)}/transitions",
    }
    if links.web_base_url:
        context["reopen_url"] = reopen_url(links.web_base_url, event.issue_id)
    if event.duplicate_of is not None:
        context |= {"duplicate_of": str(event.duplicate_of), "original_url": links.issue(event.duplicate_of)}
    moment = STATUS_MOMENTS.get(event.to_status, "status_changed")
    targets = _reporter_and_followers(facts, moment, "followed_status_changed")
    return Plan(targets, context, exclude=event.actor_id)


def _commented(event: IssueCommented, facts: IssueFacts, links: _Links) -> Plan:
    if event.internal:  # never to citizens
        return NOTHING
    context = _issue_context(facts, links) | {"comment": event.body, "comment_id": str(event.comment_id)}
    targets = _reporter_and_followers(facts, "comment_added", "followed_comment_added")
    return Plan(targets, context, exclude=event.actor_id)


def _assigned(event: IssueAssigned, facts: IssueFacts, links: _Links) -> Plan:
    context = _issue_context(facts, links) | {
        "department": event.department or "",
        "priority": event.priority,
    }
    if event.assignee_id and event.assignee_id != facts.assignee_id:
        return Plan([User(event.assignee_id, "assigned")], context, exclude=event.actor_id)
    if not event.assignee_id and event.department and event.department != facts.department:
        # Moved to another department with nobody assigned yet: its staff pick it up.
        return Plan([Department(event.department, "assigned")], context, exclude=event.actor_id)
    return NOTHING  # a priority change, or the same assignment again


def recipients(plan: Plan, department_staff: dict[str, list[str]]) -> list[User]:
    """The plan's users, departments expanded, the excluded actor left out, each user once."""
    seen: set[str] = set()
    out: list[User] = []
    for target in plan.targets:
        users = (
            [target]
            if isinstance(target, User)
            else [User(u, target.moment) for u in department_staff.get(target.department, [])]
        )
        for user in users:
            if user.user_id == plan.exclude or user.user_id in seen:
                continue
            seen.add(user.user_id)
            out.append(user)
    return out
