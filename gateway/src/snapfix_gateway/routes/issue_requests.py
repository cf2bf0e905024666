"""The bodies of ``/v1/issues``'s commands as the gateway validates them, and their ``202`` answer.

Each is checked here, before its command is published (422 names each field); a report's
``reported_at`` also against who sends it (``check_backdating``). A report is then checked against
the gateway's copy of the catalogue, the other commands by the issues service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.report_check import field_errors
from snapfix_shared.messages import Priority, Status
from snapfix_shared.messages.issues import (
    BACKDATING_LIMIT,
    Address,
    Attributes,
    CategoryCode,
    CommentBody,
    DepartmentCode,
    Description,
    MediaIds,
    Note,
    Title,
)
from snapfix_shared.messages.text import PlainText
from snapfix_shared.problems import Problem


class ReportIssueRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Pothole on Main St",
                    "description": "Deep, near the bus stop",
                    "category": "pothole",
                    "lat": 52.52,
                    "lon": 13.405,
                    "address": "Main St 12",
                    "attributes": {},
                    "media_ids": [],
                    "anonymous": False,
                }
            ]
        },
    )

    title: Annotated[Title, PlainText]
    description: Annotated[Description, PlainText] = ""
    category: CategoryCode
    # Strict: a JSON string or a 0 is not a number or a boolean (the schema says so).
    lat: float = Field(ge=-90, le=90, strict=True)
    lon: float = Field(ge=-180, le=180, strict=True)
    address: Annotated[Address, PlainText] | None = None
    attributes: Attributes = Field(default_factory=dict, description="Values of the category's attributes")
    media_ids: MediaIds = Field(default=(), description="Up to 5 photos uploaded before (media ids)")
    anonymous: StrictBool = Field(default=False, description="Hide your identity from everyone but the city's staff")
    reported_at: AwareDatetime | None = Field(
        default=None,
        description="Administrators only (a historical import, e.g. from the city's previous system): when the "
        "problem was reported, in the past and at most 365 days back; the SLA's due date counts from it. "
        "Anyone else gets 403.",
    )


class TransitionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"to": "acknowledged", "note": "A crew is scheduled."}]}
    )

    to: Status
    note: Annotated[Note, PlainText] = ""
    duplicate_of: UUID | None = Field(default=None, description="Required when to='duplicate'")
    reason: Annotated[Note, PlainText] | None = Field(default=None, description="Required when to='rejected'")


class CommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"body": "Still there this morning."}]})

    body: Annotated[CommentBody, PlainText]
    internal: StrictBool = Field(default=False, description="Staff only: visible to staff alone")


class AssignRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"department": "roads", "priority": "high"}]}
    )

    department: DepartmentCode | None = None
    assignee_id: str | None = Field(default=None, max_length=128)
    priority: Priority | None = None


class EditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"title": "Deep pothole on Main St"}]})

    title: Annotated[Title, PlainText] | None = None
    description: Annotated[Description, PlainText] | None = None
    media_ids: MediaIds | None = None


class Accepted(BaseModel):
    id: UUID = Field(description="The issue (or, for a comment, the comment) this request is about")
    status: Literal["accepted"] = "accepted"


def check_backdating(reported_at: datetime, principal: Principal, *, now: datetime) -> None:
    """A report time other than now: an administrator's historical import, within the past year (403, 422)."""
    if principal.role != "admin":
        raise Problem(403, "Forbidden", "Only an administrator may give a report's time (reported_at).")
    if reported_at > now:
        raise field_errors("reported_at: must not be in the future", [("reported_at", "must not be in the future")])
    if reported_at < now - BACKDATING_LIMIT:
        message = f"must be at most {BACKDATING_LIMIT.days} days in the past"
        raise field_errors(f"reported_at: {message}", [("reported_at", message)])
