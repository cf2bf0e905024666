"""The issues service's answers that the gateway relays unread: one issue, its lists, the map, the viewer's state,
and a user's data for their export.

The issues service documents its routes with these (``snapfix_issues.schemas``) and its tests check
every answer against them (``extra="forbid"``: an undocumented field fails); the gateway's OpenAPI
document names the same models, under the names its clients know (``Page``, ``HistoryEntry``,
``IssuesPart``).
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from snapfix_shared.messages.issues import AttributeValue, Priority, Status

NEXT_CURSOR = "Pass as `cursor` for the next page; null on the last"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- lists --------------------------------------------------------------------------------------


class IssueSummary(_Body):
    """One issue in a list; never names its reporter."""

    id: UUID
    title: str
    category: str
    status: Status
    lat: float
    lon: float
    address: str | None
    department: str | None
    assignee_id: str | None
    priority: Priority
    votes: int
    created_at: AwareDatetime
    due_at: AwareDatetime | None
    overdue: bool
    distance_m: float | None = Field(
        default=None, description="Nearby searches and the map: metres from the point (or the viewport's centre)"
    )
    anonymous: bool | None = Field(default=None, description="A user's own reports only: reported anonymously")


class Page(_Body):
    items: list[IssueSummary]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class Followed(_Body):
    issue_id: UUID
    since: AwareDatetime


class FollowedPage(_Body):
    items: list[Followed]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class MapCell(_Body):
    cell: str = Field(description="`level/column/row` on the grid of 2^level columns and rows")
    count: int
    bbox: tuple[float, float, float, float] = Field(description="west, south, east, north")
    lat: float
    lon: float


class MapCells(_Body):
    level: int
    cells: list[MapCell] = Field(description="Only cells with reports")


# -- one issue ----------------------------------------------------------------------------------


class HistoryEntry(_Body):
    at: AwareDatetime
    from_: Status = Field(alias="from")
    to: Status
    note: str
    actor_id: str | None = Field(description="Hidden (null) when it would reveal an anonymous reporter")
    duplicate_of: UUID | None = Field(description="The original, when closed as its duplicate")
    reason: str | None


class CommentView(_Body):
    id: UUID
    author_id: str | None = Field(description="Hidden (null) when it would reveal an anonymous reporter")
    body: str
    internal: bool = Field(description="Only staff ever see internal comments")
    created_at: AwareDatetime


class PhotoView(_Body):
    id: UUID = Field(description="The media id")
    status: Literal["pending", "processed", "rejected", "deleted"]
    urls: dict[str, str] | None = Field(default=None, description="Once processed: variant name -> public path")
    reason: str | None = Field(default=None, description="Why it was rejected")


class IssueDetail(_Body):
    """One issue as the viewer may see it."""

    id: UUID
    title: str
    description: str
    category: str
    lat: float
    lon: float
    address: str | None
    attributes: dict[str, AttributeValue]
    media_ids: list[UUID]
    anonymous: bool
    reporter_id: str | None = Field(description="null for an anonymous report, except for staff and the reporter")
    channel: Literal["app", "open311"] | None = Field(description="Where the report came from")
    address_id: str | None
    media_url: str | None = Field(description="A photo URL given by an Open311 client")
    contact: dict[str, str | None] | None = Field(description="Open311 contact details: staff only")
    device_id: str | None = Field(description="Staff only")
    account_id: str | None = Field(description="Staff only")
    status: Status
    department: str | None
    assignee_id: str | None
    priority: Priority
    created_at: AwareDatetime
    updated_at: AwareDatetime | None
    due_at: AwareDatetime | None = Field(description="From the category's SLA")
    resolved_at: AwareDatetime | None
    overdue: bool
    votes: int
    followers: int
    history: list[HistoryEntry]
    comments: list[CommentView]
    photos: list[PhotoView] = Field(description="The report's photos, in order")


class ViewerState(_Body):
    """What the signed-in caller has done about one issue."""

    voted: bool = Field(description="You have voted for it")
    following: bool = Field(description="You follow it")
    is_reporter: bool = Field(description="You reported it (anonymous reports included)")


# -- a user's data, for their export ------------------------------------------------------------


class IssuesPart(_Body):
    """What the issues service holds about you, as stored (at most 10,000 of each kind)."""

    reports: list[dict[str, Any]] = Field(description="Your reports as stored, with your own contact")
    rejected_reports: list[dict[str, Any]] = Field(description="Reports of yours the service refused")
    comments: list[dict[str, Any]] = Field(description="Your public comments (internal ones are the city's)")
    votes: list[dict[str, Any]]
    follows: list[dict[str, Any]]
