"""The analytics query API's response bodies (``api.py``).

The routes serve these as JSON bytes computed once and kept in Redis (``cache``), so FastAPI
never validates them on the way out: the models document the bodies, and the API's tests
check the bodies served against them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from snapfix_analytics.queries import Measure
from snapfix_shared.messages.analytics import Distribution, WindowSize


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Summary(_Body):
    area: str | None = Field(description="The geohash prefix asked for")
    bbox: str | None = Field(description="The box asked for, as given")
    category: str | None
    from_: datetime = Field(alias="from")
    to: datetime
    resolution: WindowSize = Field(description="The size of the windows read for the period")
    counts: dict[str, int] = Field(description="Events of each count measure in the period")
    time_to_acknowledge: Distribution
    time_to_resolve: Distribution
    open_backlog: int = Field(description="Issues open now")
    overdue_open: int | None = Field(description="Open issues past their due time now (null for a bbox query)")
    late: dict[WindowSize, dict[str, int]] = Field(description="Late events per window size and measure")


class Point(_Body):
    start: datetime
    value: float | None = Field(description="A count, or a percentile in seconds (null without data)")


class TimeSeries(_Body):
    window: WindowSize
    measure: Measure
    points: list[Point] = Field(description="Windows with events, oldest first")


class HeatCell(_Body):
    geohash: str
    lat: float
    lon: float
    value: float | None


class Heatmap(_Body):
    measure: Measure
    precision: int
    cells: list[HeatCell] = Field(description="Cells with events, by geohash")


class LateCounts(_Body):
    window: WindowSize
    geohash5: str
    category: str
    counts: dict[str, int] = Field(description="Late events per measure")
