"""Contracts of the issues domain: ``issues.commands.v1`` and ``issues.events.v1``.

Every command is keyed by its issue id, so one issue's commands are applied in order.
The acting user travels on each command (``actor_id``, ``actor_role``,
``actor_departments``): the gateway authenticates, the issues service decides.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from snapfix_shared.messages.base import Command, Event

Title = Annotated[str, Field(min_length=3, max_length=200)]
Description = Annotated[str, Field(max_length=5000)]
CategoryCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
DepartmentCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
Note = Annotated[str, Field(max_length=2000)]
CommentBody = Annotated[str, Field(min_length=1, max_length=2000)]
Address = Annotated[str, Field(max_length=300)]
MediaIds = Annotated[tuple[UUID, ...], Field(max_length=5)]
AttributeValue = str | int | float | bool
Attributes = Annotated[dict[Annotated[str, Field(max_length=64)], AttributeValue], Field(max_length=30)]

Status = Literal[
    "open", "acknowledged", "in_progress", "resolved", "closed", "reopened", "duplicate", "rejected", "withdrawn"
]
Priority = Literal["low", "normal", "high", "urgent"]
# How far back an administrator's historical import may date a report (ReportIssue.reported_at).
BACKDATING_LIMIT = timedelta(days=365)


class Location(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class ReporterContact(BaseModel):
    """How the city may reach a reporter (Open311 contact fields). Personal data: staff only,
    never in public answers, never on event streams."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=50)


class IssueCommandBase(Command):
    issue_id: UUID

    def partition_key(self) -> str:
        return str(self.issue_id)


class IssueEventBase(Event):
    issue_id: UUID

    def partition_key(self) -> str:
        return str(self.issue_id)


# -- commands ---------------------------------------------------------------------------


class ReportIssue(IssueCommandBase):
    type: Literal["ReportIssue"] = "ReportIssue"
    title: Title
    description: Description = ""
    category: CategoryCode
    location: Location
    address: Address | None = None
    attributes: Attributes = Field(default_factory=dict)
    media_ids: MediaIds = ()
    anonymous: bool = Field(default=False, description="Hide the reporter from everyone but staff")
    # Added for Open311 GeoReport v2 (all optional; absent from mobile reports).
    channel: Literal["app", "open311"] | None = Field(default=None, description="Where the report came from")
    address_id: str | None = Field(default=None, max_length=200, description="Id in the city's address system")
    media_url: str | None = Field(default=None, max_length=2000, description="A photo elsewhere (Open311)")
    contact: ReporterContact | None = Field(default=None, description="Personal data: shown to staff only")
    device_id: str | None = Field(default=None, max_length=200, description="The submitting device (Open311)")
    account_id: str | None = Field(default=None, max_length=200, description="The integrator's user (Open311)")
    # Added for historical imports: an administrator's report dated in the past (else the report's
    # time is occurred_at). Checked again when applied: from an admin, not after occurred_at, and
    # at most BACKDATING_LIMIT before it.
    reported_at: AwareDatetime | None = Field(
        default=None, description="When the problem was reported, if not now (administrators' imports only)"
    )


class ChangeIssueStatus(IssueCommandBase):
    """A staff transition, or the reporter reopening or withdrawing their report."""

    type: Literal["ChangeIssueStatus"] = "ChangeIssueStatus"
    to: Status
    note: Note = Field(default="", description="Public note shown with the change")
    duplicate_of: UUID | None = Field(default=None, description="The original, when to='duplicate'")
    reason: Note | None = Field(default=None, description="Why, when to='rejected'")


class CommentOnIssue(IssueCommandBase):
    type: Literal["CommentOnIssue"] = "CommentOnIssue"
    comment_id: UUID
    body: CommentBody
    internal: bool = Field(default=False, description="Staff only: never shown to citizens")


class VoteOnIssue(IssueCommandBase):
    type: Literal["VoteOnIssue"] = "VoteOnIssue"
    vote: bool = Field(description="True casts the user's vote, False withdraws it")


class FollowIssue(IssueCommandBase):
    type: Literal["FollowIssue"] = "FollowIssue"
    follow: bool = Field(description="True follows, False unfollows")


class AssignIssue(IssueCommandBase):
    """Staff assign a department and/or a staff member, and/or set the priority."""

    type: Literal["AssignIssue"] = "AssignIssue"
    department: DepartmentCode | None = None
    assignee_id: str | None = Field(default=None, max_length=128)
    priority: Priority | None = None


class EditIssue(IssueCommandBase):
    """The reporter's edit, allowed for a short while after reporting."""

    type: Literal["EditIssue"] = "EditIssue"
    title: Title | None = None
    description: Description | None = None
    media_ids: MediaIds | None = None


# -- events -----------------------------------------------------------------------------


class IssueReported(IssueEventBase):
    type: Literal["IssueReported"] = "IssueReported"
    title: Title
    description: Description = ""
    category: CategoryCode
    location: Location
    status: Literal["open"] = "open"
    reported_at: AwareDatetime
    address: Address | None = None
    attributes: Attributes = Field(default_factory=dict)
    media_ids: MediaIds = ()
    anonymous: bool = False
    department: DepartmentCode | None = None
    due_at: AwareDatetime | None = None


class IssueStatusChanged(IssueEventBase):
    type: Literal["IssueStatusChanged"] = "IssueStatusChanged"
    from_status: Status
    to_status: Status
    note: Note = ""
    duplicate_of: UUID | None = None
    reason: Note | None = None
    category: CategoryCode
    changed_at: AwareDatetime


class IssueCommented(IssueEventBase):
    type: Literal["IssueCommented"] = "IssueCommented"
    comment_id: UUID
    body: CommentBody
    internal: bool = False
    commented_at: AwareDatetime


class IssueVoted(IssueEventBase):
    type: Literal["IssueVoted"] = "IssueVoted"
    vote: bool
    votes: int = Field(ge=0, description="The issue's vote count after this change")


class IssueFollowed(IssueEventBase):
    type: Literal["IssueFollowed"] = "IssueFollowed"
    follow: bool


class IssueAssigned(IssueEventBase):
    type: Literal["IssueAssigned"] = "IssueAssigned"
    department: DepartmentCode | None = None
    assignee_id: str | None = None
    priority: Priority


class IssueEdited(IssueEventBase):
    type: Literal["IssueEdited"] = "IssueEdited"
    title: Title
    description: Description
    media_ids: MediaIds = ()


class FieldError(BaseModel):
    """One field a refused command got wrong, as the HTTP problem's ``errors`` name it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str = Field(max_length=200, description="Dotted path, e.g. category or attributes.colour")
    message: str = Field(max_length=1000)


class ReportRejected(IssueEventBase):
    """A report the issues service refused when it came to apply it, after the gateway had accepted it
    (202): its category is unknown, or its attributes do not fit the category as it stands then.

    Nothing was created: no consumer has seen an ``IssueReported`` for this id, and none follows.
    The reporter (``actor_id``) reads the reason at the report's address (``GET /v1/issues/{id}``
    answers 410 with these ``errors``). Not to be confused with ``IssueStatusChanged`` to
    ``rejected``: staff declining an issue that exists.
    """

    type: Literal["ReportRejected"] = "ReportRejected"
    reason: str = Field(max_length=2000, description="Why, in a sentence")
    errors: tuple[FieldError, ...] = Field(default=(), max_length=50, description="The fields at fault")


# One union per topic, discriminated on ``type``; new members are added with ``|``.
IssueCommand = Annotated[
    ReportIssue | ChangeIssueStatus | CommentOnIssue | VoteOnIssue | FollowIssue | AssignIssue | EditIssue,
    Field(discriminator="type"),
]
IssueEvent = Annotated[
    IssueReported
    | IssueStatusChanged
    | IssueCommented
    | IssueVoted
    | IssueFollowed
    | IssueAssigned
    | IssueEdited
    | ReportRejected,
    Field(discriminator="type"),
]

ISSUE_COMMANDS: TypeAdapter[IssueCommand] = TypeAdapter(IssueCommand)
ISSUE_EVENTS: TypeAdapter[IssueEvent] = TypeAdapter(IssueEvent)
