"""The analytics query API (reached through the gateway; staff and admins only).

Summary of an area and period, time series, heatmap cells in a bounding box, a streamed
CSV export of windows, and the late counters. Answers are cached in Redis (``cache``) and
served as those bytes: their bodies are documented by the models of ``schemas.py``, which
FastAPI does not run on the way out. Bad parameters are 422 problem+json naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import StreamingResponse

from snapfix_analytics.cache import QueryCache
from snapfix_analytics.queries import MAX_POINTS, BBox, Measure, Period, bucket_count, check_area, invalid
from snapfix_analytics.schemas import Heatmap, LateCounts, Summary, TimeSeries
from snapfix_analytics.service import Dashboard
from snapfix_analytics.windows import WINDOWS
from snapfix_shared.messages.analytics import WindowSize
from snapfix_shared.messages.base import utcnow
from snapfix_shared.viewer import StaffDep

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


async def staff_only(_staff: StaffDep) -> None:
    """Analytics are for the city's staff and administrators (the gateway's internal token)."""


async def get_dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard  # type: ignore[no-any-return]


async def get_cache(request: Request) -> QueryCache:
    return request.app.state.cache  # type: ignore[no-any-return]


DashboardDep = Annotated[Dashboard, Depends(get_dashboard)]
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


def _answer(body: bytes, cached: bool) -> Response:
    headers = {"cache-control": "private, max-age=5", "x-cache": "hit" if cached else "miss"}
    return Response(body, media_type="application/json", headers=headers)


def _query_key(request: Request) -> str:
    return str(request.url.path) + "?" + str(request.query_params)


@router.get("/summary", dependencies=[Depends(staff_only)], responses={200: {"model": Summary}})
async def summary(  # noqa: PLR0917 - FastAPI injects by parameter
    request: Request,
    dashboard: DashboardDep,
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

    async def compute() -> bytes:
        return await dashboard.summary(area=area, box=box, bbox=bbox, category=category, period=period)

    return _answer(*await cache.get_or_compute(_query_key(request), compute))


@router.get("/timeseries", dependencies=[Depends(staff_only)], responses={200: {"model": TimeSeries}})
async def timeseries(  # noqa: PLR0917 - FastAPI injects by parameter
    request: Request,
    dashboard: DashboardDep,
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

    async def compute() -> bytes:
        return await dashboard.timeseries(
            window=window, measure=measure, area=area, box=box, category=category, period=period
        )

    return _answer(*await cache.get_or_compute(_query_key(request), compute))


@router.get("/heatmap", dependencies=[Depends(staff_only)], responses={200: {"model": Heatmap}})
async def heatmap(  # noqa: PLR0917 - FastAPI injects by parameter
    request: Request,
    dashboard: DashboardDep,
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

    async def compute() -> bytes:
        return await dashboard.heatmap(box=box, measure=measure, precision=precision, category=category, period=period)

    return _answer(*await cache.get_or_compute(_query_key(request), compute))


@router.get(
    "/export.csv",
    dependencies=[Depends(staff_only)],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per window, streamed"}},
)
async def export_csv(  # noqa: PLR0917 - FastAPI injects by parameter
    dashboard: DashboardDep,
    window: WindowSize = "1h",
    area: AreaQ = None,
    category: CategoryQ = None,
    start: FromQ = None,
    end: ToQ = None,
) -> StreamingResponse:
    """Every stored window of the period, area and category as CSV, written while it is read."""
    area = check_area(area)
    period = Period.parse(start, end, now=utcnow())
    rows = dashboard.export_rows(window=window, area=area, category=category, period=period)
    filename = f"snapfix-{window}-{period.start:%Y%m%dT%H%M}-{period.end:%Y%m%dT%H%M}.csv"
    return StreamingResponse(
        rows, media_type="text/csv", headers={"content-disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/late", dependencies=[Depends(staff_only)], response_model=list[LateCounts])
async def late(dashboard: DashboardDep, area: AreaQ = None, category: CategoryQ = None) -> list[LateCounts]:
    """Events that came after their window had closed, per window size, area, category and measure."""
    return await dashboard.late(area=check_area(area), category=category)


def install(app: FastAPI) -> None:
    app.include_router(router)
