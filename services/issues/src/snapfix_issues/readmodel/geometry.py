"""Geometry of the read model's searches, pure: the map's grid cells (Redis's own geo grid), merged
sorted streams, and the Redis geo searches that cover a circle or a box (across the antimeridian too)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from snapfix_issues.readmodel.layout import GEO_BITS, GEO_LAT_SPAN, GEO_MAX_LAT, slack_m
from snapfix_shared import geo

# -- the cells of the map's low zoom levels: Redis's own geo grid -----------------------------


def _spread(v: int) -> int:
    """The bits of ``v`` moved to the even positions (bit i to bit 2i)."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & 0x5555555555555555


def cell_score(level: int, x: int, y: int) -> int:
    """The lowest geo score in column ``x`` (longitude), row ``y`` (latitude) of the grid at ``level``."""
    # Redis interleaves latitude bits at even and longitude bits at odd positions.
    prefix = _spread(y) | (_spread(x) << 1)
    return prefix << (2 * (GEO_BITS - level))


def cell_bounds(level: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a grid cell."""
    n = 2**level
    return (
        -180 + 360 * x / n,
        -GEO_MAX_LAT + GEO_LAT_SPAN * y / n,
        -180 + 360 * (x + 1) / n,
        -GEO_MAX_LAT + GEO_LAT_SPAN * (y + 1) / n,
    )


def cell_index(level: int, lat: float, lon: float) -> tuple[int, int]:
    n = 2**level
    x = min(n - 1, max(0, math.floor((lon + 180) / 360 * n)))
    y = min(n - 1, max(0, math.floor((lat + GEO_MAX_LAT) / GEO_LAT_SPAN * n)))
    return x, y


def cells_in_box(level: int, west: float, south: float, east: float, north: float) -> list[tuple[int, int]]:
    """Every grid cell at ``level`` that meets the box (``west > east`` crosses the antimeridian)."""
    south, north = max(south, -GEO_MAX_LAT), min(north, GEO_MAX_LAT)
    if south > north:
        return []
    x0, y0 = cell_index(level, south, west)
    x1, y1 = cell_index(level, north, east)
    n = 2**level
    columns = list(range(x0, x1 + 1)) if west <= east else [*range(x0, n), *range(0, x1 + 1)]
    return [(x, y) for x in dict.fromkeys(columns) for y in range(y0, y1 + 1)]


# -- merged sorted streams ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """One sorted set read in score order within ``[low, high]``; merged by ``score - shift``.

    ``shift`` lets sets whose scores are offset (a priority's band of the queue) merge on a
    common key (the due date alone).
    """

    key: str
    low: float = -math.inf
    high: float = math.inf
    shift: float = 0.0


Row = tuple[float, str]


def _after(row: Row, mark: Row | None, descending: bool) -> bool:
    if mark is None:
        return True
    return row < mark if descending else row > mark


def _reach(
    row: dict[str, Any],
    centre: tuple[float, float],
    radius_m: float | None,
    box: tuple[float, float, float, float] | None,
    accept: Callable[[dict[str, Any]], bool] | None,
) -> float | None:
    """The row's distance from the centre if it is in the circle (or box) and accepted; else None."""
    distance = geo.distance_m(centre[0], centre[1], row["lat"], row["lon"])
    if radius_m is not None and distance > radius_m:
        return None
    if box is not None and not _in_box(row["lat"], row["lon"], box):
        return None
    if accept is not None and not accept(row):
        return None
    return distance


def _score(value: float) -> str:
    if value == math.inf:
        return "+inf"
    if value == -math.inf:
        return "-inf"
    return repr(value)


def _in_box(lat: float, lon: float, box: tuple[float, float, float, float]) -> bool:
    west, south, east, north = box
    if not south <= lat <= north:
        return False
    return west <= lon <= east if west <= east else (lon >= west or lon <= east)


@dataclass(frozen=True)
class Search:
    """One Redis geo search: a circle or a box (metres) around a point that is ``offset_m`` from ours."""

    lat: float
    lon: float
    radius: float | None = None
    width: float | None = None
    height: float | None = None
    offset_m: float = 0.0

    def args(self) -> dict[str, Any]:
        shape = {"radius": self.radius} if self.radius is not None else {"width": self.width, "height": self.height}
        return {"longitude": self.lon, "latitude": self.lat, **shape}


def _circle_searches(lat: float, lon: float, radius_m: float) -> list[Search]:
    """The circle, and, when it crosses the antimeridian (which Redis's search does not), its other side."""
    reach = radius_m + slack_m(radius_m)
    searches = [Search(lat, lon, radius=reach)]
    edge = 180.0 if lon >= 0 else -180.0
    to_edge = geo.distance_m(lat, lon, lat, edge)
    if to_edge <= reach:
        searches.append(Search(lat, -edge, radius=reach - to_edge + slack_m(reach), offset_m=to_edge))
    return searches


def _box_searches(west: float, south: float, east: float, north: float) -> tuple[tuple[float, float], list[Search]]:
    """The box's centre (rows are ranked by distance from it) and Redis boxes that hold it all.

    A box across the antimeridian is searched as its two sides.
    """
    span = (east - west) % 360 or (360.0 if east != west else 0.0)
    centre = ((south + north) / 2, (west + span / 2 + 180) % 360 - 180)
    parts = [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]
    searches = []
    for part_west, part_east in parts:
        part_span = part_east - part_west
        part_lon = part_west + part_span / 2
        # Redis measures a row's east-west offset along its own latitude: take the widest one.
        widest = 0.0 if south <= 0 <= north else min(abs(south), abs(north))
        half_width = geo.distance_m(widest, part_lon, widest, part_lon + min(part_span / 2, 179.999))
        height = geo.distance_m(south, part_lon, north, part_lon)
        searches.append(
            Search(
                centre[0],
                part_lon,
                width=2 * (half_width + slack_m(half_width)),
                height=height + 2 * slack_m(height),
                offset_m=geo.distance_m(centre[0], centre[1], centre[0], part_lon),
            )
        )
    return centre, searches
