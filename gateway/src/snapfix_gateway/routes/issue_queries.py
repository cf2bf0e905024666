"""The queries of ``/v1/issues``'s reads as the gateway validates them, and as it relays them.

Each list route takes one of these as its query (``Annotated[Model, Query()]``): a bad value is refused
here (422 names the field) before the issues service is asked, and what is relayed is what was validated
(``upstream_query``), so the declaration is the contract. A parameter the client did not give is not
relayed either: the issues service's defaults are the same as those declared here.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from pydantic import AwareDatetime, BaseModel, Field

from snapfix_shared.messages import Priority, Status
from snapfix_shared.messages.issues import CategoryCode, DepartmentCode

# Searches around a point are answered from Redis's geo index, which spans latitudes up to
# ±85.05112878° (Web Mercator): a centre beyond is refused here (422), not failed there (503).
SearchLatitude = Annotated[
    float, Field(ge=-85.05112878, le=85.05112878, description="Degrees; the search index spans ±85.05112878")
]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Cursor = Annotated[str | None, Field(max_length=500)]
BBox = Annotated[
    str,
    Field(
        max_length=200,
        pattern=r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$",
        description="west,south,east,north in degrees (west > east crosses the antimeridian)",
        examples=["77.55,12.95,77.65,13.0"],
    ),
]


class RelayedQuery(BaseModel):
    """A read's query parameters; ``upstream_query`` is the query string relayed to the issues service."""

    def upstream_query(self) -> str:
        """The parameters the client gave, as validated (booleans as ``true``/``false``, times in ISO 8601)."""
        given = self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
        return urlencode({name: _text(value) for name, value in given.items()})


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class NearbyQuery(RelayedQuery):
    lat: SearchLatitude
    lon: Longitude
    radius_m: int = Field(1000, ge=1, le=50_000)
    status: Status | None = None
    category: CategoryCode | None = None
    since: AwareDatetime | None = None
    sort: Literal["distance", "recent"] = "distance"
    cursor: Cursor = None
    limit: int = Field(20, ge=1, le=100)


class SuggestionsQuery(RelayedQuery):
    lat: SearchLatitude
    lon: Longitude
    category: CategoryCode
    radius_m: int = Field(150, ge=1, le=1000)
    limit: int = Field(5, ge=1, le=20)


class MapIssuesQuery(RelayedQuery):
    bbox: BBox
    status: Status | None = None
    category: CategoryCode | None = None
    cursor: Cursor = None
    limit: int = Field(200, ge=1, le=500)


class MapCellsQuery(RelayedQuery):
    bbox: BBox
    level: int = Field(ge=1, le=20, description="2^level columns and rows over the world")
    status: Status | None = None
    category: CategoryCode | None = None


class MyIssuesQuery(RelayedQuery):
    cursor: Cursor = None
    limit: int = Field(20, ge=1, le=100)


class FollowingQuery(RelayedQuery):
    cursor: Cursor = None
    limit: int = Field(20, ge=1, le=100)


class StaffQueueQuery(RelayedQuery):
    department: DepartmentCode | None = None
    status: Status | None = None
    priority: Priority | None = None
    overdue: bool | None = None
    cursor: Cursor = None
    limit: int = Field(20, ge=1, le=100)
    sort: Literal["priority", "due", "newest", "oldest"] = Field(
        "priority",
        description="`priority`: urgent first, then by due date; `due`: earliest due date first "
        "(overdue first); `newest` / `oldest`: by report time. Issues without a due date come last. "
        "Ties by id; a cursor pages on in the sort it was made by.",
    )
