"""The issue and user events notify's delivery tests publish, and how they look for what reached
whom: the SMTP mailbox's matchers and the in-app feed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import uuid4

import pytest
from uuid_utils.compat import uuid7

from snapfix_shared.messages import IssueCommented, IssueFollowed, IssueStatusChanged
from snapfix_shared.messages.base import utcnow
from snapfix_shared.topics import Topic
from tests.integration.notify_app import (
    Notify,
    envelope,
    new_user_id,
    publish,
    registered,
)
from tests.stack import Stack


async def users(stack: Stack, *events: Any) -> None:
    await publish(stack.kafka, Topic.USERS_EVENTS, events)


async def issue_events(stack: Stack, *events: Any) -> None:
    await publish(stack.kafka, Topic.ISSUES_EVENTS, events)


async def feed(notify: Notify, user: str, *, count: int, timeout_s: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await notify.http.get("/v1/me/notifications", headers=notify.as_user(user))
        assert response.status_code == 200, response.text
        body = response.json()
        if len(body["items"]) >= count:
            return body
        await asyncio.sleep(0.1)
    pytest.fail(f"{user} has {len(body.get('items', []))} of {count} notifications: {body}")


def to(address: str) -> Any:
    return lambda m: address.lower() in str(m["To"]).lower()


def about(address: str, words: str) -> Any:
    return lambda m: address.lower() in str(m["To"]).lower() and words in str(m["Subject"])


def status_changed(issue_id: Any, actor: str, frm: str, to_status: str, **fields: Any) -> IssueStatusChanged:
    return IssueStatusChanged(
        **envelope(actor_id=actor),
        issue_id=issue_id,
        from_status=frm,  # type: ignore[arg-type]
        to_status=to_status,  # type: ignore[arg-type]
        category="pothole",
        changed_at=utcnow(),
        **fields,
    )


def commented(issue_id: Any, actor: str, body: str, *, internal: bool = False) -> IssueCommented:
    return IssueCommented(
        **envelope(actor_id=actor),
        issue_id=issue_id,
        comment_id=uuid7(),
        body=body,
        internal=internal,
        commented_at=utcnow(),
    )


def followed(issue_id: Any, user: str, follow: bool = True) -> IssueFollowed:
    return IssueFollowed(**envelope(actor_id=user), issue_id=issue_id, follow=follow)


async def people(stack: Stack, *roles: str, department: str = "roads") -> list[tuple[str, str]]:
    """Registered users (id, email), citizens or staff of ``department``."""
    found = []
    for role in roles:
        user = new_user_id()
        email = f"{role}-{uuid4().hex[:8]}@example.org"
        found.append((user, email))
        departments = (department,) if role == "staff" else ()
        await users(stack, registered(user, email=email, role=role, departments=departments))
    return found
