"""Keyword-only builders of test data: ``make_report_command(**overrides)``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar
from uuid import uuid4

from uuid_utils.compat import uuid7

from snapfix_shared.messages import Location, ReportIssue
from snapfix_shared.messages.base import Command, utcnow


def make_report_command(**overrides: Any) -> ReportIssue:
    now = utcnow()
    fields: dict[str, Any] = {
        "occurred_at": now,
        "accept_by": now + timedelta(seconds=30),
        "correlation_id": f"test-{uuid4()}",
        "issue_id": uuid7(),
        "title": f"Pothole {uuid4().hex[:8]}",
        "description": "Deep hole next to the bus stop",
        "category": "pothole",
        "location": Location(lat=52.52, lon=13.405),
    }
    fields.update(overrides)
    return ReportIssue(**fields)


def make_report_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"Broken streetlight {uuid4().hex[:8]}",
        "description": "Dark since Monday",
        "category": "streetlight",
        "lat": 48.8566,
        "lon": 2.3522,
    }
    body.update(overrides)
    return body


C = TypeVar("C", bound=Command)


def make_command(kind: type[C], **fields: Any) -> C:
    """Any command with a fresh envelope: ``make_command(ChangeIssueStatus, issue_id=..., to="resolved")``."""
    now = utcnow()
    envelope: dict[str, Any] = {
        "occurred_at": now,
        "accept_by": now + timedelta(seconds=30),
        "correlation_id": f"test-{uuid4()}",
    }
    return kind(**{**envelope, **fields})


def staff_of(*departments: str, user_id: str | None = None) -> dict[str, Any]:
    """The actor fields of a staff member of ``departments``."""
    return {
        "actor_id": user_id or f"staff-{uuid4().hex[:8]}",
        "actor_role": "staff",
        "actor_departments": departments,
    }


def citizen(user_id: str | None = None) -> dict[str, Any]:
    return {"actor_id": user_id or f"citizen-{uuid4().hex[:8]}", "actor_role": "citizen"}


ADMIN: dict[str, Any] = {"actor_id": "admin-1", "actor_role": "admin"}
