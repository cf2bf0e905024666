"""Query parameters and their checks, shared by the query API's routes: area, period, measure.

Pure: parses what a dashboard asks for and folds stored windows into answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias, get_args

import pygeohash

from snapfix_analytics import sketches
from snapfix_analytics.windows import WINDOW_SECONDS, WINDOWS, window_end, window_start
from snapfix_shared.messages.analytics import Distribution, WindowSize
from snapfix_shared.problems import Problem
from snapfix_shared.schemas import analytics as answers

# What a time series or heatmap may show: declared once, with the answers that name it.
Measure: TypeAlias = answers.Measure
# The counted measures (the rest are duration percentiles, ``tta_``/``ttr_``), in Measure's order.
COUNT_MEASURES: tuple[Measure, ...] = tuple(m for m in get_args(Measure) if not m.startswith(("tta_", "ttr_")))
GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz"
MAX_SPAN = timedelta(days=400)
MAX_POINTS = 20_000


def invalid(field_name: str, message: str) -> Problem:
    return Problem(
        422,
        "Unprocessable Content",
        "The request is not valid.",
        extra={"errors": [{"field": field_name, "location": ["query", field_name], "message": message}]},
    )


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @classmethod
    def parse(cls, text: str) -> BBox:
        try:
            min_lon, min_lat, max_lon, max_lat = (float(part) for part in text.split(","))
        except ValueError as exc:
            raise invalid("bbox", "expected min_lon,min_lat,max_lon,max_lat (four numbers)") from exc
        if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
            raise invalid("bbox", "longitudes in [-180, 180], latitudes in [-90, 90], minimum below maximum")
        return cls(min_lon, min_lat, max_lon, max_lat)

    def contains_cell(self, geohash: str) -> bool:
        if not geohash or geohash == "-":
            return False
        lat, lon = pygeohash.decode(geohash)
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon

    def prefix(self) -> str:
        """The longest geohash prefix every point of the box shares (narrows the stored range)."""
        corners = [
            pygeohash.encode(lat, lon, 5)
            for lat in (self.min_lat, self.max_lat)
            for lon in (self.min_lon, self.max_lon)
        ]
        common = ""
        for chars in zip(*corners, strict=True):
            if len(set(chars)) != 1:
                break
            common += chars[0]
        return common


def check_area(area: str | None) -> str | None:
    if area is None:
        return None
    if not 1 <= len(area) <= 5 or any(c not in GEOHASH for c in area):
        raise invalid("area", "a geohash prefix of 1 to 5 characters (windows are kept per geohash of precision 5)")
    return area


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: datetime | None, end: datetime | None, *, now: datetime, align: WindowSize = "1m") -> Period:
        """The period asked for; a bound left out is the end of the ``align`` window holding now
        (``to``) and a day before ``to`` (``from``), so that the defaults fit the windows read."""
        for name, value in (("from", start), ("to", end)):
            if value is not None and value.tzinfo is None:
                raise invalid(name, "a date-time with a time zone (for example 2026-11-25T10:00:00Z)")
            if value is not None and (value.second or value.microsecond):
                raise invalid(name, "whole minutes only (windows are at least a minute long)")
        end = end.astimezone(UTC) if end else window_end(now, align)
        start = start.astimezone(UTC) if start else end - timedelta(days=1)
        if start >= end:
            raise invalid("from", "must be before 'to'")
        if end - start > MAX_SPAN:
            raise invalid("from", f"a period of at most {MAX_SPAN.days} days")
        return cls(start, end)

    def resolution(self) -> WindowSize:
        """The coarsest window size both ends are aligned to (fewest windows to read)."""
        for size in reversed(WINDOWS):
            if all(window_start(t, size) == t for t in (self.start, self.end)):
                return size
        return "1m"


@dataclass
class Totals:
    """Counts and duration sketches folded from many windows."""

    windows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    tta: dict[str, float] = field(default_factory=dict)
    ttr: dict[str, float] = field(default_factory=dict)

    def add(self, doc: Mapping[str, Any]) -> None:
        self.windows += 1
        for name, value in (doc.get("counts") or {}).items():
            self.counts[name] = self.counts.get(name, 0) + int(value)
        for mine, stored in ((self.tta, doc.get("tta")), (self.ttr, doc.get("ttr"))):
            for name, value in (stored or {}).items():
                mine[name] = mine.get(name, 0) + value

    def distributions(self) -> tuple[Distribution, Distribution]:
        return (
            sketches.distribution(sketches.from_counters(self.tta)),
            sketches.distribution(sketches.from_counters(self.ttr)),
        )

    def value(self, measure: str) -> float | None:
        if measure in COUNT_MEASURES:
            return self.counts.get(measure, 0)
        family, _, quantile = measure.partition("_p")
        sketch = sketches.from_counters(self.tta if family == "tta" else self.ttr)
        value = sketch.get_quantile_value(int(quantile) / 100)
        return None if value is None else round(float(value), 3)


def bucket_count(period: Period, size: WindowSize) -> int:
    return int((period.end - period.start).total_seconds() // WINDOW_SECONDS[size])


def in_box(docs: Iterable[Mapping[str, Any]], box: BBox | None) -> Iterable[Mapping[str, Any]]:
    return docs if box is None else (d for d in docs if box.contains_cell(d["geohash5"]))
