"""What the issues routes share: their dependencies, query parsing, problems and JSON answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any, get_args

import orjson
from fastapi import Depends, Query, Request, Response

from snapfix_issues.cache import IssueCache
from snapfix_issues.catalogue import Catalogue
from snapfix_issues.domain import RejectedReportRecord
from snapfix_issues.paging import BadCursor, decode_cursor
from snapfix_issues.rules import Rejection
from snapfix_issues.service import ReadModel, ReadModelDown, ReportRepository
from snapfix_shared.messages import Status
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.viewer import Viewer

log = logging.getLogger(__name__)
MAX_RADIUS_M = 50_000
MAX_IDS = 100  # explicit ids in one public listing (each read alone: FerretDB scans for $in on _id)


async def get_repo(request: Request) -> ReportRepository:
    return request.app.state.repo  # type: ignore[no-any-return]


async def get_cache(request: Request) -> IssueCache:
    return request.app.state.cache  # type: ignore[no-any-return]


async def get_readmodel(request: Request) -> ReadModel | None:
    """The read model when it is built and Redis answers; None sends a list to the store's query."""
    model: ReadModel = request.app.state.readmodel
    return model if await model.ready() else None


async def get_catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue  # type: ignore[no-any-return]


RepoDep = Annotated[ReportRepository, Depends(get_repo)]
CacheDep = Annotated[IssueCache, Depends(get_cache)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
ModelDep = Annotated[ReadModel | None, Depends(get_readmodel)]
CursorQuery = Annotated[str | None, Query(max_length=500, description="next_cursor of the previous page")]
LimitQuery = Annotated[int, Query(ge=1, le=100)]

_TITLES = {403: "Forbidden", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Content"}


def rejection_problem(rejection: Rejection) -> Problem:
    """A rule's refusal as a problem; 422s list their fields like request validation errors do."""
    extra: dict[str, Any] = {}
    if rejection.errors:
        extra["errors"] = [
            {"field": f, "location": ["body", *f.split(".")], "message": m, "type": "rejected"}
            for f, m in rejection.errors
        ]
    return Problem(rejection.status, _TITLES.get(rejection.status, "Refused"), rejection.detail, extra=extra)


def refused_report_problem(rejected: RejectedReportRecord) -> Problem:
    """410: the report was accepted (202) but refused when applied; nothing was created. ``errors`` has the
    shape of a 422's, so a client shows them on its form as it would have shown the 422."""
    problem = rejection_problem(Rejection(422, rejected.reason, rejected.errors))
    extra = {**problem.extra, "reason": rejected.reason, "rejected_at": rejected.event_at.isoformat()}
    return Problem(410, "Report Rejected", f"This report was not accepted: {rejected.reason}", extra=extra)


def invalid_query(field: str, message: str) -> Problem:
    error = {"field": field, "location": ["query", field], "message": message, "type": "value_error"}
    return Problem(422, "Unprocessable Content", message, extra={"errors": [error]})


def _statuses(raw: str | None, default: tuple[Status, ...] = ()) -> tuple[Status, ...]:
    if not raw:
        return default
    values = tuple(s.strip() for s in raw.split(",") if s.strip())
    unknown = [s for s in values if s not in get_args(Status)]
    if unknown:
        raise invalid_query("status", f"unknown status {', '.join(unknown)}")
    return values  # type: ignore[return-value]


def _cursor_key(cursor: str | None) -> tuple[Any, str] | None:
    try:
        return decode_cursor(cursor) if cursor else None
    except BadCursor as exc:
        raise invalid_query("cursor", str(exc)) from exc


def _mark(after: tuple[Any, str] | None) -> tuple[float, str] | None:
    if after is None:
        return None
    key = after[0][0] if isinstance(after[0], list) else after[0]
    return float(key), after[1]


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _page(items: list[Any], next_cursor: str | None) -> Response:
    return _json({"items": items, "next_cursor": next_cursor})


# The viewer's own state: never kept by any cache, shared or not.
NO_STORE = "private, no-store"

BBoxQuery = Annotated[
    str,
    Query(
        max_length=200,
        description="west,south,east,north in degrees (west > east crosses the antimeridian)",
        examples=["77.55,12.95,77.65,13.0"],
    ),
]


def _bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in raw.split(","))
    except ValueError as exc:
        raise invalid_query("bbox", "bbox is west,south,east,north: four numbers") from exc
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise invalid_query("bbox", "bbox is west,south,east,north with -180..180 and -90 <= south <= north <= 90")
    return west, south, east, north


def _not_answering() -> ServiceUnavailable:
    # Not the store's query instead: at city size it scans, and would take the store down too.
    return ServiceUnavailable("The read model is not answering in time; try again shortly.")


async def _from_model(page: Awaitable[tuple[list[Any], str | None]]) -> Response:
    """A page the read model answers; 503 when it does not in time."""
    try:
        return _page(*await page)
    except ReadModelDown as exc:
        raise _not_answering() from exc


def _own_list(viewer: Viewer, user_id: str) -> None:
    if viewer.user_id != user_id:
        raise Problem(403, "Forbidden", "A user's own lists are for that user alone.")


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise invalid_query(field, "a datetime with a timezone is required")
    return value


def _csv(raw: str | None) -> list[str]:
    return [v.strip() for v in (raw or "").split(",") if v.strip()]
