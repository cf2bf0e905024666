"""The issues service's HTTP query API (internal: reached through the gateway).

The gateway authenticates and passes the viewer in its internal token
(``snapfix_shared.viewer``); public reads need none (an anonymous viewer), the rest answer
401 without a valid one. Lists answer ``{"items": [...], "next_cursor": str | null}``.

Answers are JSON bytes written here by orjson (or kept rendered: ``rendered.py``), not
FastAPI's serialization: their bodies are documented by the models of ``schemas.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pymongo.errors import PyMongoError

from snapfix_issues import lists, rendered, rules
from snapfix_issues.cache import CachedIssue, IssueCache
from snapfix_issues.catalogue import Catalogue
from snapfix_issues.domain import ACTIVE_STATUSES, PRIORITY_ORDER, IssueRecord, RejectedReportRecord
from snapfix_issues.paging import BadCursor, decode_cursor, encode_cursor, page_in_memory
from snapfix_issues.photos import check_photos
from snapfix_issues.readmodel import ReadModel, ReadModelDown
from snapfix_issues.repository import ReportRepository
from snapfix_issues.rules import Rejection
from snapfix_issues.schemas import (
    Audience,
    FollowedPage,
    IssueDetail,
    IssuePage,
    MapCells,
    PublicRecordPage,
    StatusChangePage,
    UserExport,
    ViewerState,
)
from snapfix_issues.service import IssuePhotos
from snapfix_issues.views import detail, public_record, status_change, summary
from snapfix_shared import geo
from snapfix_shared.breakers import MONGO_DOWN
from snapfix_shared.http_client import Upstream
from snapfix_shared.messages import ChangeIssueStatus, EditIssue, IssueCommand, Priority, ReportIssue, Status
from snapfix_shared.problems import Problem, ServiceUnavailable, problem_response
from snapfix_shared.viewer import InternalCallerDep, SignedInDep, StaffDep, Viewer
from snapfix_shared.viewer import OptionalViewerDep as ViewerDep

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

router = APIRouter(prefix="/v1")

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


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _from_ms(value: float) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


# A detail view is per viewer: no shared cache keeps it; a client revalidates with its ETag.
PRIVATE = "private, no-cache"


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _page(items: list[Any], next_cursor: str | None) -> Response:
    return _json({"items": items, "next_cursor": next_cursor})


# Paths answered from the read model: the store's circuit guards only their fallbacks (``load_issue``),
# so a slow or failing store does not refuse what Redis can answer.
READ_MODEL_PATHS = ("/v1/issues", "/v1/map/", "/v1/users/", "/v1/staff/")


def needs_store(path: str) -> bool:
    return not path.startswith(READ_MODEL_PATHS)


async def load_issue(issue_id: UUID, repo: ReportRepository, cache: CacheDep) -> CachedIssue | None:
    """The issue and its comments from the read model; on a miss, from the store (and kept)."""
    entry = await cache.get(issue_id)
    if entry is None:
        generation = await cache.generation(issue_id)  # before reading the store: see cache.py
        async with cache.breakers.guard("mongo", MONGO_DOWN):
            issue = await repo.get(issue_id)
            if issue is None:
                return None
            entry = CachedIssue(issue, tuple(await repo.comments(issue_id)))
        await cache.put(entry, generation)
    return entry


# -- the gateway's synchronous check --------------------------------------------------------


@router.post(
    "/commands/check",
    status_code=204,
    responses={403: {}, 404: {}, 409: {}, 422: {"description": "errors: [{field, message}]"}},
)
async def check_command(  # noqa: PLR0917 - FastAPI injects by parameter
    command: IssueCommand,
    request: Request,
    repo: RepoDep,
    cache: CacheDep,
    catalogue: CatalogueDep,
    caller: InternalCallerDep,
    x_request_id: Annotated[str, Header()] = "",
) -> Response:
    """Would this command be accepted now? 204 yes, else the problem the consumer would refuse it with.

    Only for the gateway, about a command of the viewer its token names (else 403).
    Photos a report (or the reporter's edit) names are checked with the media service here,
    once: each must exist, belong to the reporter and not have been rejected.
    """
    if (command.actor_id, command.actor_role, frozenset(command.actor_departments)) != (
        caller.user_id,
        caller.role,
        caller.departments,
    ):
        raise Problem(403, "Forbidden", "The command's actor is not the viewer of the internal token.")
    issue: IssueRecord | None = None
    original_exists = False
    if command.type != "ReportIssue":  # a report is checked against the in-memory catalogue only
        entry = await load_issue(command.issue_id, repo, cache)
        issue = entry.issue if entry else None
        if isinstance(command, ChangeIssueStatus) and command.duplicate_of not in {None, command.issue_id}:
            assert command.duplicate_of is not None
            original_exists = await load_issue(command.duplicate_of, repo, cache) is not None
    verdict = rules.decide(issue, command, catalogue=catalogue, original_exists=original_exists)
    if isinstance(verdict, Rejection):
        raise rejection_problem(verdict)
    media_ids = command.media_ids if isinstance(command, (ReportIssue, EditIssue)) else None
    if media_ids:
        media: Upstream = request.app.state.media
        tokens = request.app.state.internal_tokens
        errors = await check_photos(media, media_ids, actor_id=command.actor_id, request_id=x_request_id, tokens=tokens)
        if errors:
            raise rejection_problem(Rejection(422, "The report names photos it cannot use.", tuple(errors)))
    return Response(status_code=204)


# -- issues ---------------------------------------------------------------------------------


@router.get("/issues", responses={200: {"model": IssuePage}})
async def nearby(  # noqa: PLR0917 - FastAPI injects by parameter
    repo: RepoDep,
    model: ModelDep,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    radius_m: Annotated[float, Query(gt=0, le=MAX_RADIUS_M)] = 1000,
    status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
    category: str | None = None,
    since: datetime | None = None,
    sort: Literal["distance", "recent"] = "distance",
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Response:
    """Reports within ``radius_m`` of a point, closest (or newest) first, each with ``distance_m``."""
    statuses = _statuses(status)
    after = _cursor_key(cursor)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    if model is not None:
        return await _from_model(
            lists.nearby(
                model,
                lat=lat,
                lon=lon,
                radius_m=radius_m,
                statuses=statuses,
                category=category,
                since=since,
                after=_mark(after),
                limit=limit,
                sort=sort,
            )
        )
    found = await repo.in_cells(geo.search_cells(lat, lon, radius_m), statuses=statuses, category=category, since=since)
    now = datetime.now(UTC)
    rows = []
    for issue in found:
        distance = geo.distance_m(lat, lon, issue.lat, issue.lon)
        if distance <= radius_m:
            key = (distance,) if sort == "distance" else (float(_ms(issue.created_at)),)
            rows.append((key, str(issue.id), summary(issue, now=now, distance_m=distance)))
    items, next_cursor = page_in_memory(rows, cursor=cursor, limit=limit, descending=sort == "recent")
    return _page(items, next_cursor)


@router.get("/issues/suggestions", responses={200: {"model": IssuePage}})
async def suggestions(  # noqa: PLR0917 - FastAPI injects by parameter
    repo: RepoDep,
    model: ModelDep,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    category: str,
    radius_m: Annotated[float, Query(gt=0, le=1000)] = 150,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> Response:
    """Possible duplicates before reporting: unresolved reports of the category nearby, closest first."""
    if model is not None:
        try:
            items, _ = await lists.nearby(
                model,
                lat=lat,
                lon=lon,
                radius_m=radius_m,
                statuses=ACTIVE_STATUSES,
                category=category,
                since=None,
                after=None,
                limit=limit,
            )
            return _page(items, None)
        except ReadModelDown as exc:
            raise _not_answering() from exc
    found = await repo.in_cells(geo.search_cells(lat, lon, radius_m), statuses=ACTIVE_STATUSES, category=category)
    now = datetime.now(UTC)
    near = sorted(
        ((d, issue) for issue in found if (d := geo.distance_m(lat, lon, issue.lat, issue.lon)) <= radius_m),
        key=lambda pair: (pair[0], str(pair[1].id)),
    )
    return _page([summary(issue, now=now, distance_m=d) for d, issue in near[:limit]], None)


@router.get("/issues/{issue_id}", responses={200: {"model": IssueDetail}})
async def get_issue(  # noqa: PLR0917 - FastAPI injects by parameter
    issue_id: UUID,
    request: Request,
    repo: RepoDep,
    cache: CacheDep,
    viewer: ViewerDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One issue with its history and comments, as the viewer may see it (ETag; 304 when unchanged).

    From the read model the view is served as stored bytes (``rendered.py``): rendered once
    per state and kind of viewer. A report refused when it was applied (after its 202) answers
    410 to its reporter (and staff), with the reason and the fields at fault as a 422 would have
    named them; 404 to anyone else.
    """
    now = datetime.now(UTC)
    raw = await cache.raw(issue_id)
    if raw is not None:
        served = await _stored_view(
            raw, request.app.state.rendered, viewer, now, if_none_match, photo_states=request.app.state.photos
        )
        if served is not None:
            return served
    entry = await load_issue(issue_id, repo, cache)
    if entry is None:
        async with cache.breakers.guard("mongo", MONGO_DOWN):
            rejected = await repo.rejection(issue_id)
        if rejected is not None and (viewer.is_staff or (viewer.user_id or None) == rejected.reporter_id):
            raise refused_report_problem(rejected)
        raise Problem(404, "Not Found", f"No issue {issue_id}.")
    view = detail(entry.issue, entry.comments, viewer, now=now)
    view["photos"] = await request.app.state.photos.views(entry.issue.media_ids)
    return _json(view)


async def _stored_view(
    raw: bytes,
    views: rendered.RenderedViews,
    viewer: Viewer,
    now: datetime,
    if_none_match: str | None,
    *,
    photo_states: IssuePhotos,
) -> Response | None:
    """The detail view from the read model's bytes, rendered once per ETag; None if they do not read."""
    try:
        head = orjson.loads(raw)["issue"]
        media_ids = [UUID(m) for m in head["media_ids"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # an older shape: read as a miss
    photos = await photo_states.views(media_ids)
    tag = rendered.etag(raw, rendered.viewer_kind(head, viewer), rendered.overdue(head, now), photos)
    headers = {"ETag": tag, "Cache-Control": PRIVATE}
    if rendered.matches(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    body = views.get(tag)
    if body is None:
        try:
            cached = CachedIssue.loads(raw)
        except (KeyError, TypeError, ValidationError):
            return None
        body = orjson.dumps({**detail(cached.issue, cached.comments, viewer, now=now), "photos": photos})
        views.put(tag, body)
    return Response(body, media_type="application/json", headers=headers)


# The viewer's own state: never kept by any cache, shared or not.
NO_STORE = "private, no-store"


@router.get("/issues/{issue_id}/viewer", responses={200: {"model": ViewerState}, 401: {}, 404: {}})
async def viewer_state(
    issue_id: UUID, repo: RepoDep, cache: CacheDep, model: ModelDep, viewer: SignedInDep
) -> Response:
    """What the signed-in viewer has done about one issue: ``{voted, following, is_reporter}``.

    Kept apart from the shared detail view (its ETag does not vary by user). Point reads only:
    the issue (read model, else store), the viewer's vote by its ``_id``, and membership of the
    issue's followers set (the store's follow by its ``_id`` while the read model is not answering).
    """
    user_id = viewer.user_id
    assert user_id is not None  # SignedInDep
    entry = await load_issue(issue_id, repo, cache)
    if entry is None:
        raise Problem(404, "Not Found", f"No issue {issue_id}.")
    following: bool | None = None
    if model is not None:
        try:
            following = await model.follows_issue(issue_id, user_id)
        except ReadModelDown:
            following = None  # the store answers instead
    async with cache.breakers.guard("mongo", MONGO_DOWN):
        vote = await repo.get_participation("vote", issue_id, user_id)
        if following is None:
            follow = await repo.get_participation("follow", issue_id, user_id)
            following = bool(follow and follow.get("active"))
    body = {
        "voted": bool(vote and vote.get("active")),
        "following": following,
        "is_reporter": entry.issue.reporter_id == user_id,
    }
    return Response(orjson.dumps(body), media_type="application/json", headers={"Cache-Control": NO_STORE})


@router.get("/issues/{issue_id}/audience", responses={200: {"model": Audience}})
async def audience(
    issue_id: UUID, repo: RepoDep, cache: CacheDep, model: ModelDep, _caller: InternalCallerDep
) -> Response:
    """Who is told about changes: the reporter and the followers (for the gateway's live updates only)."""
    if model is not None:
        try:
            users = await model.audience(issue_id)
            if users is None:
                raise Problem(404, "Not Found", f"No issue {issue_id}.")
            return _json({"user_ids": users})
        except ReadModelDown as exc:
            raise _not_answering() from exc
    entry = await load_issue(issue_id, repo, cache)
    if entry is None:
        raise Problem(404, "Not Found", f"No issue {issue_id}.")
    return _json({"user_ids": await repo.audience(entry.issue)})


# -- the map ----------------------------------------------------------------------------------

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


def _map_model(model: ReadModel | None) -> ReadModel:
    if model is None:
        raise ServiceUnavailable("The map's index is being rebuilt; try again shortly.")
    return model


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
        items, next_cursor = await lists.in_box(
            _map_model(model), box, statuses=statuses, category=category, after=_mark(after), limit=limit
        )
    except ReadModelDown as exc:
        raise ServiceUnavailable("The map's index is not answering; try again shortly.") from exc
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
        found = await lists.cells(_map_model(model), box, level=level, statuses=statuses, category=category)
    except ValueError as exc:
        raise invalid_query("level", str(exc)) from exc
    except ReadModelDown as exc:
        raise ServiceUnavailable("The map's index is not answering; try again shortly.") from exc
    return _json({"level": level, "cells": found})


# -- a user's own lists ---------------------------------------------------------------------


def _own_list(viewer: Viewer, user_id: str) -> None:
    if viewer.user_id != user_id:
        raise Problem(403, "Forbidden", "A user's own lists are for that user alone.")


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
    if model is not None:
        return await _from_model(lists.reported_by(model, user_id, after=after, limit=limit))
    try:
        mark = (_from_ms(after[0]), UUID(after[1])) if after else None
    except ValueError as exc:
        raise invalid_query("cursor", "not a cursor of this list") from exc
    found = await repo.by_reporter(user_id, after=mark, limit=limit + 1)
    now = datetime.now(UTC)
    items = [{**summary(i, now=now), "anonymous": i.anonymous} for i in found[:limit]]
    last = found[limit - 1] if len(found) > limit else None
    return _page(items, encode_cursor(_ms(last.created_at), str(last.id)) if last else None)


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
    if model is not None:
        return await _from_model(lists.following(model, user_id, after=after, limit=limit))
    found = await repo.following(user_id, after=(_from_ms(after[0]), after[1]) if after else None, limit=limit + 1)
    items = [{"issue_id": str(f["issue_id"]), "since": f["since"].isoformat()} for f in found[:limit]]
    last = found[limit - 1] if len(found) > limit else None
    return _page(items, encode_cursor(_ms(last["since"]), last["_id"]) if last else None)


EXPORT_LIMIT = 10_000  # of each kind: far past what one person reports, votes or follows


@router.get("/users/{user_id}/export", responses={200: {"model": UserExport}, 401: {}, 403: {}})
async def export(user_id: str, repo: RepoDep, viewer: SignedInDep) -> Response:
    """Everything this service holds about a user, as stored (the gateway's ``GET /v1/me/export``): their
    reports (with their own contact), refused reports, public comments, votes and follows. For that user alone."""
    _own_list(viewer, user_id)
    return _json(await repo.export_of(user_id, EXPORT_LIMIT))


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
    sort: lists.QueueSort = "priority",
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
    try:
        mark = (lists.queue_cursor_key(sort, after[0]), after[1]) if after is not None else None
    except ValueError as exc:
        raise invalid_query("cursor", str(exc)) from exc
    if model is not None:
        return await _from_model(
            lists.staff_queue(
                model,
                departments=departments,
                statuses=statuses,
                priority=priority,
                overdue=overdue,
                after=after,
                limit=limit,
                sort=sort,
            )
        )
    found = await repo.for_departments(departments, statuses=statuses, priority=priority, sort=sort)
    now = datetime.now(UTC)
    rows = [
        (
            lists.queue_sort_key(
                sort,
                rank=PRIORITY_ORDER.index(i.priority),
                due_ms=_ms(i.due_at) if i.due_at else None,
                created_ms=_ms(i.created_at),
            ),
            str(i.id),
            summary(i, now=now),
        )
        for i in found
        if overdue is None or rules.is_overdue(i, now) == overdue
    ]
    cursor = encode_cursor(list(mark[0]), mark[1]) if mark is not None else None  # old cursors in today's form
    items, next_cursor = page_in_memory(rows, cursor=cursor, limit=limit, descending=sort == "newest")
    return _page(items, next_cursor)


# -- public listings (the gateway's Open311 GeoReport v2) -------------------------------------


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise invalid_query(field, "a datetime with a timezone is required")
    return value


def _csv(raw: str | None) -> list[str]:
    return [v.strip() for v in (raw or "").split(",") if v.strip()]


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
        found = []
        for raw in wanted:
            try:
                entry = await load_issue(UUID(raw), repo, cache)
            except ValueError:
                continue  # not an id of ours: nothing to find
            if entry is not None:
                found.append(public_record(entry.issue))
        return _page(found, None)
    if start is None or end is None:
        raise invalid_query("start", "start and end are required without ids")
    records = await repo.in_window(
        start=_aware(start, "start"),
        end=_aware(end, "end"),
        categories=_csv(category),
        statuses=_statuses(status),
        skip=offset,
        limit=limit,
    )
    return _page([public_record(r) for r in records], None)


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
    changes = [
        (h.at, str(issue.id), index, issue)
        for issue in await repo.changed_since(start)
        for index, h in enumerate(issue.history)
        if start <= h.at < end
    ]
    changes.sort(key=lambda c: (c[0], c[1], c[2]))
    return _page([status_change(issue, index) for _, _, index, issue in changes[offset : offset + limit]], None)


def install(app: FastAPI) -> None:
    """The routes, and the store's failures as 503 (the client should come back later)."""
    app.state.rendered = rendered.RenderedViews()
    app.include_router(router)

    @app.exception_handler(PyMongoError)
    async def _store_down(request: Request, exc: PyMongoError) -> JSONResponse:
        problem = ServiceUnavailable(f"The issue store is not answering ({type(exc).__name__}).")
        log.warning("%s %s -> 503: %r", request.method, request.url.path, exc)
        return problem_response(request, 503, problem.title, problem.detail, headers=problem.headers)
