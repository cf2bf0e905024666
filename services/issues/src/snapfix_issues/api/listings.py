"""The list routes: the map (viewport and cells), a user's own lists and export, the staff queue,
and the public listings of the gateway's Open311 GeoReport v2. Each parses its query, calls the
service (``service.listings``) and shapes the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from snapfix_issues.api.deps import (
    MAX_IDS,
    BBoxQuery,
    CacheDep,
    CursorQuery,
    LimitQuery,
    ModelDep,
    RepoDep,
    _aware,
    _bbox,
    _csv,
    _cursor_key,
    _from_model,
    _json,
    _mark,
    _own_list,
    _page,
    _statuses,
    invalid_query,
)
from snapfix_issues.domain import ACTIVE_STATUSES
from snapfix_issues.schemas import (
    FollowedPage,
    IssuePage,
    MapCells,
    PublicRecordPage,
    StatusChangePage,
    UserExport,
)
from snapfix_issues.service import ReadModelDown, listings, reads
from snapfix_issues.service.listings import InvalidQuery, MapRebuilding
from snapfix_shared.messages import Priority
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.viewer import SignedInDep, StaffDep

router = APIRouter(prefix="/v1")


# -- the map ----------------------------------------------------------------------------------


@router.get("/map/issues", responses={200: {"model": IssuePage}})
async def map_issues(  # noqa: PLR0917 - FastAPI injects by parameter
    model: ModelDep,
    bbox: BBoxQuery,
    status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
    category: str | None = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Response:
    """Reports inside a map's viewport, nearest its centre first, each with ``distance_m`` from the centre."""
    box, statuses, after = _bbox(bbox), _statuses(status), _cursor_key(cursor)
    try:
        items, next_cursor = await listings.map_issues(
            model, box, statuses=statuses, category=category, mark=_mark(after), limit=limit
        )
    except MapRebuilding as exc:
        raise _map_rebuilding() from exc
    except ReadModelDown as exc:
        raise _map_not_answering() from exc
    return _page(items, next_cursor)


@router.get("/map/cells", responses={200: {"model": MapCells}})
async def map_cells(
    model: ModelDep,
    bbox: BBoxQuery,
    level: Annotated[int, Query(ge=1, le=20, description="grid level: 2^level columns and rows over the world")],
    status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
    category: str | None = None,
) -> Response:
    """How many reports lie in each grid cell over a viewport (the map's clusters at low zoom levels).

    Only cells with reports are listed, each with its bounds, centre and count.
    """
    box, statuses = _bbox(bbox), _statuses(status)
    try:
        found = await listings.map_cells(model, box, level=level, statuses=statuses, category=category)
    except InvalidQuery as exc:
        raise invalid_query(exc.field, exc.message) from exc
    except MapRebuilding as exc:
        raise _map_rebuilding() from exc
    except ReadModelDown as exc:
        raise _map_not_answering() from exc
    return _json({"level": level, "cells": found})


# -- a user's own lists ---------------------------------------------------------------------


@router.get("/users/{user_id}/issues", responses={200: {"model": IssuePage}, 401: {}, 403: {}})
async def reported_by(  # noqa: PLR0917 - FastAPI injects by parameter
    user_id: str,
    repo: RepoDep,
    model: ModelDep,
    viewer: SignedInDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Response:
    """A user's reports, newest first, anonymous ones included: for that user alone."""
    _own_list(viewer, user_id)
    after = _cursor_key(cursor)
    try:
        return await _from_model(listings.reported_by(repo, model, user_id, after=after, limit=limit))
    except InvalidQuery as exc:
        raise invalid_query(exc.field, exc.message) from exc


@router.get("/users/{user_id}/following", responses={200: {"model": FollowedPage}, 401: {}, 403: {}})
async def following(  # noqa: PLR0917 - FastAPI injects by parameter
    user_id: str,
    repo: RepoDep,
    model: ModelDep,
    viewer: SignedInDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Response:
    """The issues a user follows, most recently followed first: for that user alone."""
    _own_list(viewer, user_id)
    after = _cursor_key(cursor)
    return await _from_model(listings.following(repo, model, user_id, after=after, limit=limit))


@router.get("/users/{user_id}/export", responses={200: {"model": UserExport}, 401: {}, 403: {}})
async def export(user_id: str, repo: RepoDep, viewer: SignedInDep) -> Response:
    """Everything this service holds about a user, as stored (the gateway's ``GET /v1/me/export``): their
    reports (with their own contact), refused reports, public comments, votes and follows. For that user alone."""
    _own_list(viewer, user_id)
    return _json(await listings.export(repo, user_id))


# -- staff ----------------------------------------------------------------------------------


@router.get("/staff/queue", responses={200: {"model": IssuePage}})
async def staff_queue(  # noqa: PLR0917 - FastAPI injects by parameter
    repo: RepoDep,
    model: ModelDep,
    viewer: StaffDep,
    department: str | None = None,
    status: Annotated[str | None, Query(description="comma-separated; default: every unresolved status")] = None,
    priority: Priority | None = None,
    overdue: bool | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
    sort: listings.QueueSort = "priority",
) -> Response:
    """Work for staff: their departments' issues in the order ``sort`` asks (``lists.queue_sort_key``).

    From the read model (sorted sets, exact); while it is being rebuilt, from the store: at most
    ``MAX_CANDIDATES`` issues, read in the sort's order by MongoDB's indexes, ordered and paged here.
    """
    departments: list[str] | None
    if department is not None:
        if not viewer.staff_of(department):
            raise Problem(403, "Forbidden", f"You are not staff of the {department} department.")
        departments = [department]
    else:
        departments = None if viewer.role == "admin" else sorted(viewer.departments)
    if departments == []:
        return _page([], None)
    statuses = _statuses(status, ACTIVE_STATUSES)
    after = _cursor_key(cursor)
    page = listings.staff_queue(
        repo,
        model,
        departments=departments,
        statuses=statuses,
        priority=priority,
        overdue=overdue,
        after=after,
        limit=limit,
        sort=sort,
    )
    try:
        return await _from_model(page)
    except InvalidQuery as exc:
        raise invalid_query(exc.field, exc.message) from exc


# -- public listings (the gateway's Open311 GeoReport v2) -------------------------------------


@router.get("/reports", responses={200: {"model": PublicRecordPage}})
async def reports(  # noqa: PLR0917 - FastAPI injects by parameter
    repo: RepoDep,
    cache: CacheDep,
    start: datetime | None = None,
    end: datetime | None = None,
    category: Annotated[str | None, Query(description="comma-separated category codes")] = None,
    status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
    ids: Annotated[str | None, Query(description="comma-separated issue ids; overrides every other filter")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> Response:
    """Public records of reports: the given ``ids`` (in that order, unknown ones left out), or those
    created in ``[start, end)``, newest first, filtered by category and status, one offset page."""
    if ids:
        wanted = list(dict.fromkeys(_csv(ids)))
        if len(wanted) > MAX_IDS:
            raise invalid_query("ids", f"at most {MAX_IDS} ids")
        return _page(await reads.public_records(wanted, repo, cache), None)
    if start is None or end is None:
        raise invalid_query("start", "start and end are required without ids")
    records = await listings.reports_in_window(
        repo,
        start=_aware(start, "start"),
        end=_aware(end, "end"),
        categories=_csv(category),
        statuses=_statuses(status),
        skip=offset,
        limit=limit,
    )
    return _page(records, None)


@router.get("/reports/status-changes", responses={200: {"model": StatusChangePage}})
async def status_changes(
    repo: RepoDep,
    start: datetime,
    end: datetime,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> Response:
    """Status changes made in ``[start, end)``, oldest first (public fields only, no actors)."""
    start, end = _aware(start, "start"), _aware(end, "end")
    return _page(await listings.status_changes(repo, start=start, end=end, offset=offset, limit=limit), None)


def _map_rebuilding() -> ServiceUnavailable:
    return ServiceUnavailable("The map's index is being rebuilt; try again shortly.")


def _map_not_answering() -> ServiceUnavailable:
    return ServiceUnavailable("The map's index is not answering; try again shortly.")
