"""The analytics query API (reached through the gateway; staff and admins only).

Summary of an area and period, time series, heatmap cells in a bounding box, a streamed
CSV export of windows, and the late counters. Answers are cached in Redis (``cache``) and
served as those bytes: their bodies are documented by the models of ``schemas.py``, which
FastAPI does not run on the way out. Bad parameters are 422 problem+json naming the field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import orjson
import pygeohash
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import StreamingResponse

from snapfix_analytics.cache import QueryCache
from snapfix_analytics.queries import (
    COUNT_MEASURES,
    MAX_POINTS,
    BBox,
    Measure,
    Period,
    Totals,
    bucket_count,
    check_area,
    in_box,
    invalid,
)
from snapfix_analytics.repository import AnalyticsRepository
from snapfix_analytics.schemas import Heatmap, LateCounts, Summary, TimeSeries
from snapfix_analytics.windows import WINDOWS
from snapfix_shared.messages.analytics import WindowSize
from snapfix_shared.messages.base import utcnow
from snapfix_shared.viewer import StaffDep

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


async def staff_only(_staff: StaffDep) -> None:
    """Analytics are for the city's staff and administrators (the gateway's internal token)."""


async def get_repo(request: Request) -> AnalyticsRepository:
    return request.app.state.repo  # type: ignore[no-any-return]


async def get_cache(request: Request) -> QueryCache:
    return request.app.state.cache  # type: ignore[no-any-return]


RepoDep = Annotated[AnalyticsRepository, Depends(get_repo)]
CacheDep = Annotated[QueryCache, Depends(get_cache)]
AreaQ = Annotated[str | None, Query(description="Geohash prefix (1-5 characters)", examples=["u33db"])]
BBoxQ = Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat", examples=["13.3,52.4,13.5,52.6"])]
CategoryQ = Annotated[str | None, Query(max_length=64)]
FromQ = Annotated[datetime | None, Query(alias="from", description="Start, whole minutes (default: `to` - 1 day)")]
ToQ = Annotated[
    datetime | None,
    Query(
        alias="to",
        description="End, exclusive (default: the next minute; for a time series, the end of the current window)",
    ),
]


def _json(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def _answer(body: bytes, cached: bool) -> Response:
    headers = {"cache-control": "private, max-age=5", "x-cache": "hit" if cached else "miss"}
    return Response(body, media_type="application/json", headers=headers)


async def _totals(
    repo: AnalyticsRepository,
    *,
    size: WindowSize,
    period: Period,
    area: str | None,
    box: BBox | None,
    category: str | None,
    limit: int,
) -> Totals:
    totals = Totals()
    cursor = repo.windows(
        size=size, start=period.start, end=period.end, area=area or (box.prefix() if box else None), category=category
    )
    read = 0
    async for doc in cursor:
        read += 1
        if read > limit:
            raise invalid("from", f"the query reads more than {limit} windows: narrow the period or the area")
        if box is None or box.contains_cell(doc["geohash5"]):
            totals.add(doc)
    return totals


@router.get("/summary", dependencies=[Depends(staff_only)], responses={200: {"model": Summary}})
async def summary(  # noqa: PLR0917 - FastAPI injects by parameter
    request: Request,
    repo: RepoDep,
    cache: CacheDep,
    area: AreaQ = None,
    bbox: BBoxQ = None,
    category: CategoryQ = None,
    start: FromQ = None,
    end: ToQ = None,
) -> Response:
    """Counts, time-to-acknowledge/resolve percentiles and SLA breaches of an area and period;
    the open backlog and overdue open issues now; the late counters of the area."""
    area = check_area(area)
    box = BBox.parse(bbox) if bbox else None
    period = Period.parse(start, end, now=utcnow())
    limit = request.app.state.settings.max_query_windows

    async def compute() -> bytes:
        size = period.resolution()
        totals = await _totals(repo, size=size, period=period, area=area, box=box, category=category, limit=limit)
        tta, ttr = totals.distributions()
        prefix = area or (box.prefix() if box else None)
        backlog = sum(d["open"] for d in in_box(await repo.gauges("backlog", area=prefix, category=category), box))
        late: dict[str, dict[str, int]] = {size: {} for size in WINDOWS}
        for doc in in_box(await repo.gauges("late", area=prefix, category=category), box):
            for name, value in (doc.get("counts") or {}).items():
                late[doc["size"]][name] = late[doc["size"]].get(name, 0) + int(value)
        body = {
            "area": area,
            "bbox": bbox,
            "category": category,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "resolution": size,
            "counts": {m: totals.counts.get(m, 0) for m in COUNT_MEASURES},
            "time_to_acknowledge": tta.model_dump(),
            "time_to_resolve": ttr.model_dump(),
            "open_backlog": backlog,
            "overdue_open": await repo.overdue_open(now=utcnow(), area=prefix, category=category)
            if box is None
            else None,
            "late": late,
        }
        return _json(body)

    return _answer(*await cache.get_or_compute(str(request.url.path) + "?" + str(request.query_params), compute))


@router.get("/timeseries", dependencies=[Depends(staff_only)], responses={200: {"model": TimeSeries}})
async def timeseries(  # noqa: PLR0917 - FastAPI injects by parameter
    request: Request,
    repo: RepoDep,
    cache: CacheDep,
    window: WindowSize = "1h",
    measure: Measure = "reported",
    area: AreaQ = None,
    bbox: BBoxQ = None,
    category: CategoryQ = None,
    start: FromQ = None,
    end: ToQ = None,
) -> Response:
    """One value per window of ``window`` in the period (windows without events are 0 or null)."""
    area = check_area(area)
    box = BBox.parse(bbox) if bbox else None
    period = Period.parse(start, end, now=utcnow(), align=window)
    if period.resolution() != window and WINDOWS.index(period.resolution()) < WINDOWS.index(window):
        raise invalid("from", f"'from' and 'to' must be aligned to {window} windows")
    if bucket_count(period, window) > MAX_POINTS:
        raise invalid("window", f"more than {MAX_POINTS} points: a larger window or a shorter period")
    limit = request.app.state.settings.max_query_windows

    async def compute() -> bytes:
        buckets: dict[datetime, Totals] = {}
        read = 0
        prefix = area or (box.prefix() if box else None)
        async for doc in repo.windows(size=window, start=period.start, end=period.end, area=prefix, category=category):
            read += 1
            if read > limit:
                raise invalid("from", f"the query reads more than {limit} windows: narrow the period or the area")
            if box is None or box.contains_cell(doc["geohash5"]):
                buckets.setdefault(doc["start"], Totals()).add(doc)
        points = [{"start": at.isoformat(), "value": t.value(measure)} for at, t in sorted(buckets.items())]
        return _json({"window": window, "measure": measure, "points": points})

    return _answer(*await cache.get_or_compute(str(request.url.path) + "?" + str(request.query_params), compute))


@router.get("/heatmap", dependencies=[Depends(staff_only)], responses={200: {"model": Heatmap}})
async def heatmap(  # noqa: PLR0917 - FastAPI injects by parameter
    request: Request,
    repo: RepoDep,
    cache: CacheDep,
    bbox: Annotated[str, Query(description="min_lon,min_lat,max_lon,max_lat")],
    measure: Measure = "reported",
    precision: Annotated[int, Query(ge=1, le=5, description="Geohash precision of the cells")] = 5,
    category: CategoryQ = None,
    start: FromQ = None,
    end: ToQ = None,
) -> Response:
    """The cells (geohash of ``precision``) inside the box with their value for the period."""
    box = BBox.parse(bbox)
    period = Period.parse(start, end, now=utcnow())
    limit = request.app.state.settings.max_query_windows

    async def compute() -> bytes:
        cells: dict[str, Totals] = {}
        read = 0
        async for doc in repo.windows(
            size=period.resolution(), start=period.start, end=period.end, area=box.prefix(), category=category
        ):
            read += 1
            if read > limit:
                raise invalid("from", f"the query reads more than {limit} windows: narrow the period or the box")
            if box.contains_cell(doc["geohash5"]):
                cells.setdefault(doc["geohash5"][:precision], Totals()).add(doc)
        out = []
        for cell, totals in sorted(cells.items()):
            lat, lon = pygeohash.decode(cell)
            out.append({"geohash": cell, "lat": lat, "lon": lon, "value": totals.value(measure)})
        return _json({"measure": measure, "precision": precision, "cells": out})

    return _answer(*await cache.get_or_compute(str(request.url.path) + "?" + str(request.query_params), compute))


CSV_COLUMNS = ["window", "window_start", "window_end", "geohash5", "category", *COUNT_MEASURES]
CSV_COLUMNS += [f"{family}_{q}" for family in ("tta", "ttr") for q in ("count", "p50_s", "p90_s", "p99_s")]


@router.get(
    "/export.csv",
    dependencies=[Depends(staff_only)],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per window, streamed"}},
)
async def export_csv(  # noqa: PLR0917 - FastAPI injects by parameter
    repo: RepoDep,
    window: WindowSize = "1h",
    area: AreaQ = None,
    category: CategoryQ = None,
    start: FromQ = None,
    end: ToQ = None,
) -> StreamingResponse:
    """Every stored window of the period, area and category as CSV, written while it is read."""
    area = check_area(area)
    period = Period.parse(start, end, now=utcnow())

    async def rows() -> AsyncIterator[bytes]:
        yield _csv_line(CSV_COLUMNS)
        async for doc in repo.windows(size=window, start=period.start, end=period.end, area=area, category=category):
            totals = Totals()
            totals.add(doc)
            tta, ttr = totals.distributions()
            yield _csv_line(
                [
                    doc["size"],
                    doc["start"].isoformat(),
                    doc["end"].isoformat(),
                    doc["geohash5"],
                    doc["category"],
                    *(totals.counts.get(m, 0) for m in COUNT_MEASURES),
                    *(getattr(d, f) for d in (tta, ttr) for f in ("count", "p50_s", "p90_s", "p99_s")),
                ]
            )

    filename = f"snapfix-{window}-{period.start:%Y%m%dT%H%M}-{period.end:%Y%m%dT%H%M}.csv"
    return StreamingResponse(
        rows(), media_type="text/csv", headers={"content-disposition": f'attachment; filename="{filename}"'}
    )


def _csv_line(values: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(["" if v is None else v for v in values])
    return out.getvalue().encode()


@router.get("/late", dependencies=[Depends(staff_only)], response_model=list[LateCounts])
async def late(repo: RepoDep, area: AreaQ = None, category: CategoryQ = None) -> list[LateCounts]:
    """Events that came after their window had closed, per window size, area, category and measure."""
    area = check_area(area)
    docs = await repo.gauges("late", area=area, category=category)
    return [
        LateCounts(window=d["size"], geohash5=d["geohash5"], category=d["category"], counts=d.get("counts", {}))
        for d in docs
    ]


def install(app: FastAPI) -> None:
    app.include_router(router)
