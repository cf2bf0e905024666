"""The issues service's HTTP response bodies (the routes of ``api/``).

The routes serve their answers as JSON bytes written by orjson (views built by ``views.py``
and ``lists.py``, or kept rendered: ``rendered.py``), so FastAPI does not validate them on the
way out: these models document the bodies in the service's OpenAPI document, and the tests
check bodies against them (``extra="forbid"``: an undocumented field fails).
The bodies the gateway relays (one issue, its lists, the map, the viewer's state, a user's data
for their export) are declared once in ``snapfix_shared.schemas.issues``, for this service's
document and the gateway's alike; the rest are this service's own.
Requests are the commands of ``snapfix_shared.messages`` and the catalogue's ``CategoryBody``.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from snapfix_shared.messages import Status
from snapfix_shared.messages.catalogue import CategorySpec
from snapfix_shared.schemas.issues import FollowedPage, IssueDetail, MapCells, ViewerState
from snapfix_shared.schemas.issues import IssuesPart as UserExport  # the gateway's export names it `IssuesPart`
from snapfix_shared.schemas.issues import Page as IssuePage  # the gateway's document names it `Page`

__all__ = [
    "Audience",
    "CategoryPage",
    "FollowedPage",
    "IssueDetail",
    "IssuePage",
    "MapCells",
    "PublicRecord",
    "PublicRecordPage",
    "StatusChange",
    "StatusChangePage",
    "UserExport",
    "ViewerState",
]

NO_CURSOR = "Always null: this list pages by offset, or is one page"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- an issue's audience -----------------------------------------------------------------------


class Audience(_Body):
    user_ids: list[str] = Field(description="The reporter and the followers")


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
