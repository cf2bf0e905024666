"""The issues service's HTTP response bodies (the routes of ``api/``).

The routes serve their answers as JSON bytes written by orjson (views built by ``views.py``
and ``lists.py``, or kept rendered: ``rendered.py``), so FastAPI does not validate them on the
way out: these models document the bodies in the service's OpenAPI document, and the tests
check bodies against them (``extra="forbid"``: an undocumented field fails).
Requests are the commands of ``snapfix_shared.messages`` and the catalogue's ``CategoryBody``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from snapfix_shared.messages import Priority, Status
from snapfix_shared.messages.catalogue import CategorySpec
from snapfix_shared.messages.issues import AttributeValue

NEXT_CURSOR = "Pass as `cursor` for the next page; null on the last"
NO_CURSOR = "Always null: this list pages by offset, or is one page"


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
    created_at: datetime
    due_at: datetime | None
    overdue: bool
    distance_m: float | None = Field(
        default=None, description="Nearby searches and the map: metres from the point (or the viewport's centre)"
    )
    anonymous: bool | None = Field(default=None, description="A user's own reports only: reported anonymously")


class IssuePage(_Body):
    items: list[IssueSummary]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class Followed(_Body):
    issue_id: UUID
    since: datetime


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


class HistoryView(_Body):
    at: datetime
    from_: Status = Field(alias="from")
    to: Status
    note: str
    actor_id: str | None = Field(description="null when it would reveal an anonymous reporter")
    duplicate_of: UUID | None = Field(description="The original, when closed as its duplicate")
    reason: str | None


class CommentView(_Body):
    id: UUID
    author_id: str | None = Field(description="null when it would reveal an anonymous reporter")
    body: str
    internal: bool = Field(description="Only staff see internal comments")
    created_at: datetime


class PhotoView(_Body):
    id: UUID = Field(description="The media id")
    status: str = Field(description="pending, processed, rejected or deleted")
    urls: dict[str, str] | None = Field(default=None, description="Processed photos: variant name -> public path")
    reason: str | None = Field(default=None, description="Rejected photos: why")


class IssueDetail(_Body):
    """One issue as the viewer may see it (an anonymous reporter stays hidden from others)."""

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
    channel: str | None = Field(description="Where the report came from: app or open311")
    address_id: str | None
    media_url: str | None = Field(description="A photo URL given by an Open311 client")
    contact: dict[str, str | None] | None = Field(description="Open311 contact details: staff only")
    device_id: str | None = Field(description="Staff only")
    account_id: str | None = Field(description="Staff only")
    status: Status
    department: str | None
    assignee_id: str | None
    priority: Priority
    created_at: datetime
    updated_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    overdue: bool
    votes: int
    followers: int
    history: list[HistoryView]
    comments: list[CommentView]
    photos: list[PhotoView] = Field(description="The report's photos, in order")


class ViewerState(_Body):
    """What the signed-in viewer has done about one issue."""

    voted: bool
    following: bool
    is_reporter: bool = Field(description="Anonymous reports included")


class Audience(_Body):
    user_ids: list[str] = Field(description="The reporter and the followers")


class UserExport(_Body):
    """What this service holds about a user, as stored (at most ``EXPORT_LIMIT`` of each kind)."""

    reports: list[dict[str, Any]]
    rejected_reports: list[dict[str, Any]]
    comments: list[dict[str, Any]] = Field(description="Public comments only")
    votes: list[dict[str, Any]]
    follows: list[dict[str, Any]]


# -- public listings (the gateway's Open311) ----------------------------------------------------


class StatusChange(_Body):
    """One status change, public fields only (no actor)."""

    id: str = Field(description="Stable: the command's id, else `<issue id>-<index>`")
    issue_id: UUID
    at: datetime
    from_: Status = Field(alias="from")
    to: Status
    note: str
    reason: str | None
    duplicate_of: UUID | None


class PublicRecord(_Body):
    """An issue for public interfaces: never the reporter, actors, contact or internal comments."""

    id: UUID
    title: str
    description: str
    category: str
    status: Status
    lat: float
    lon: float
    address: str | None
    address_id: str | None
    department: str | None
    media_ids: list[UUID]
    media_url: str | None
    created_at: datetime
    updated_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    history: list[StatusChange]


class PublicRecordPage(_Body):
    items: list[PublicRecord]
    next_cursor: None = Field(description=NO_CURSOR)


class StatusChangePage(_Body):
    items: list[StatusChange]
    next_cursor: None = Field(description=NO_CURSOR)


# -- the catalogue ------------------------------------------------------------------------------


class CategoryPage(_Body):
    items: list[CategorySpec] = Field(description="`canned_responses` for staff and admins only")
    next_cursor: None = Field(description=NO_CURSOR)
