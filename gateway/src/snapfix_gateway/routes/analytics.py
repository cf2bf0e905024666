"""``/v1/analytics``: the dashboard API (staff and admins), relayed to the analytics service.

The analytics service owns the aggregates and answers from its windows, cache-aside from
its Redis; the gateway checks the role and relays, and documents the answers with the
service's own models (``snapfix_shared.schemas.analytics``). The CSV export is streamed
through chunk by chunk, never held whole.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from snapfix_gateway.deps import RequestIdDep, StaffDep
from snapfix_gateway.upstream import Upstream, UpstreamError, relay, viewer_headers
from snapfix_shared.problems import ServiceUnavailable
from snapfix_shared.schemas.analytics import Heatmap, LateCounts, Summary, TimeSeries

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


async def get_analytics_http(request: Request) -> Upstream:
    return request.app.state.analytics_http  # type: ignore[no-any-return]


AnalyticsHttpDep = Annotated[Upstream, Depends(get_analytics_http)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Not staff or an administrator"},
    422: {"description": "A parameter is not valid (problem+json naming the field)"},
    503: {"description": "The analytics service is unavailable; retry after Retry-After"},
}


async def _relay(analytics: Upstream, path: str, request: Request, request_id: str, principal: Any) -> Response:
    headers = viewer_headers(request_id, principal)
    answer = await analytics.call("GET", path, headers=headers, params=str(request.query_params) or None)
    return relay(answer)


@router.get("/summary", response_model=Summary, responses=_ERRORS)
async def summary(request: Request, staff: StaffDep, analytics: AnalyticsHttpDep, request_id: RequestIdDep) -> Response:
    """Counts (reported, acknowledged, resolved, reopened, rejected, ...), time to acknowledge and
    to resolve (p50/p90/p99), SLA breaches of an area and period; the open backlog and overdue
    open issues now; late events. Query: `area` (geohash prefix, 1-5 characters) or `bbox`
    (min_lon,min_lat,max_lon,max_lat), `category`, `from`/`to` (date-times with a zone, whole
    minutes; default the last day)."""
    return await _relay(analytics, "/v1/analytics/summary", request, request_id, staff)


@router.get("/timeseries", response_model=TimeSeries, responses=_ERRORS)
async def timeseries(
    request: Request, staff: StaffDep, analytics: AnalyticsHttpDep, request_id: RequestIdDep
) -> Response:
    """One value per window: `window` (1m, 1h, 1d), `measure` (reported, acknowledged, resolved,
    reopened, rejected, sla_breached, tta_p50 ... ttr_p99), `area` or `bbox`, `category`, `from`/`to`."""
    return await _relay(analytics, "/v1/analytics/timeseries", request, request_id, staff)


@router.get("/heatmap", response_model=Heatmap, responses=_ERRORS)
async def heatmap(request: Request, staff: StaffDep, analytics: AnalyticsHttpDep, request_id: RequestIdDep) -> Response:
    """Geohash cells inside `bbox` (min_lon,min_lat,max_lon,max_lat) with the value of `measure`
    for the period; `precision` 1-5 sets the cell size; `category`, `from`/`to`."""
    return await _relay(analytics, "/v1/analytics/heatmap", request, request_id, staff)


@router.get("/late", response_model=list[LateCounts], responses=_ERRORS)
async def late(request: Request, staff: StaffDep, analytics: AnalyticsHttpDep, request_id: RequestIdDep) -> Response:
    """Events that arrived after their window had closed, per window size, area and category."""
    return await _relay(analytics, "/v1/analytics/late", request, request_id, staff)


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per window, streamed"}, **_ERRORS},
)
async def export_csv(
    request: Request, staff: StaffDep, analytics: AnalyticsHttpDep, request_id: RequestIdDep
) -> Response:
    """Every window of `window` size in the period as CSV (`area`, `category`, `from`/`to`), streamed."""
    headers = viewer_headers(request_id, staff)
    try:
        status, answer_headers, body = await analytics.open_stream(
            "/v1/analytics/export.csv", headers=headers, params=str(request.query_params) or None
        )
    except UpstreamError as exc:
        raise ServiceUnavailable(f"The analytics service is not reachable ({exc}).") from exc
    if status != 200:
        content = b"".join([chunk async for chunk in body])
        if status >= 500:
            raise ServiceUnavailable(f"The analytics service failed ({status}).")
        return Response(content, status_code=status, media_type=answer_headers.get("content-type"))
    passed = {k: v for k in ("content-disposition",) if (v := answer_headers.get(k))}
    return StreamingResponse(body, media_type="text/csv", headers=passed)
