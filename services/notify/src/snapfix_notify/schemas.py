"""The notify service's HTTP request and response bodies (``api.py`` serves them).

The bodies the gateway relays (the feed, preferences, area watches, a user's data for their
export) are declared once in ``snapfix_shared.schemas.notify``, for this service's document
and the gateway's alike (``extra="forbid"``: its tests check the answers against them); the
request bodies are this service's own (the gateway checks its own, stricter ones first).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from snapfix_shared import geo
from snapfix_shared.schemas.notify import FeedPage, MarkedRead, NotificationItem, WatchList, WatchView
from snapfix_shared.schemas.notify import NotifyPart as UserExport  # the gateway's export names it `NotifyPart`
from snapfix_shared.schemas.notify import Preferences as PreferencesOut  # vs PreferencesBody, the request

__all__ = [
    "FeedPage",
    "MarkedRead",
    "NotificationItem",
    "PreferencesBody",
    "PreferencesOut",
    "UserExport",
    "WatchBody",
    "WatchList",
    "WatchView",
]


class PreferencesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    moments: dict[str, dict[str, bool]] = Field(
        description="moment -> channel -> on; a partial update (what is left out keeps its value)",
        examples=[{"followed_comment_added": {"email": True}, "area_report": {"push": True}}],
    )


class WatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_m: float | None = Field(default=None, gt=0, le=50_000)
    cells: list[str] | None = Field(default=None, min_length=1, max_length=50, description="Geohash cells")
    categories: list[str] = Field(default_factory=list, max_length=30, description="Only these; empty: all")
    digest: bool = Field(default=False, description="One email per hour instead of a message per report")

    @model_validator(mode="after")
    def _one_area(self) -> WatchBody:
        circle = (self.lat, self.lon, self.radius_m)
        if self.cells is None and any(v is None for v in circle):
            raise ValueError("give lat, lon and radius_m, or cells")
        if self.cells is not None and any(v is not None for v in circle):
            raise ValueError("give either a circle (lat, lon, radius_m) or cells, not both")
        for cell in self.cells or []:
            if not geo.is_cell(cell):
                raise ValueError(f"{cell!r} is not a geohash cell (1 to 9 characters)")
        return self
