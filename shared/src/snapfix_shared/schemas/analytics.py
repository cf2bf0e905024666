"""The analytics service's answers that the gateway relays unread: a summary, a time series, a heatmap
and the late counters of the staff dashboard.

The analytics service documents its routes with these (``snapfix_analytics.schemas``) and its tests
check its answers against them (``extra="forbid"``: an undocumented field fails); the gateway's
OpenAPI document names the same models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from snapfix_shared.messages.analytics import Distribution, WindowSize

# What a time series or heatmap may show (the analytics service's queries name this one).
Measure = Literal[
    "reported",
    "acknowledged",
    "in_progress",
    "resolved",
    "closed",
    "reopened",
    "rejected",
    "duplicate",
    "withdrawn",
    "sla_breached",
    "tta_p50",
    "tta_p90",
    "tta_p99",
    "ttr_p50",
    "ttr_p90",
    "ttr_p99",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Summary(_Body):
    area: str | None = Field(description="The geohash prefix asked for")
    bbox: str | None = Field(description="The box asked for, as given")
    category: str | None
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    resolution: WindowSize = Field(description="The size of the windows read for the period")
    counts: dict[str, int] = Field(description="Events of each count measure in the period")
    time_to_acknowledge: Distribution
    time_to_resolve: Distribution
    open_backlog: int = Field(description="Issues open now")
    overdue_open: int | None = Field(description="Open issues past their due time now (null for a bbox query)")
    late: dict[WindowSize, dict[str, int]] = Field(description="Late events per window size and measure")


class Point(_Body):
    start: AwareDatetime
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
