"""The issues routes: the gateway's synchronous check of a command, nearby reports and suggestions,
one issue as its viewer may see it, the viewer's own state, and who hears about an issue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import ValidationError

from snapfix_issues import rendered
from snapfix_issues.api.deps import (
    MAX_RADIUS_M,
    NO_STORE,
    CacheDep,
    CatalogueDep,
    CursorQuery,
    LimitQuery,
    ModelDep,
    RepoDep,
    _cursor_key,
    _from_model,
    _json,
    _mark,
    _not_answering,
    _page,
    _statuses,
    refused_report_problem,
    rejection_problem,
)
from snapfix_issues.cache import CachedIssue
from snapfix_issues.schemas import (
    Audience,
    IssueDetail,
    IssuePage,
    ViewerState,
)
from snapfix_issues.service import IssuePhotos, ReadModelDown, listings, load_issue, reads, refusal
from snapfix_issues.views import detail
from snapfix_shared.conditional import etag_matches
from snapfix_shared.messages import IssueCommand
from snapfix_shared.problems import Problem
from snapfix_shared.viewer import InternalCallerDep, SignedInDep, Viewer
from snapfix_shared.viewer import OptionalViewerDep as ViewerDep

router = APIRouter(prefix="/v1")


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
    rejection = await refusal(
        command,
        repo=repo,
        cache=cache,
        catalogue=catalogue,
        media=request.app.state.media,
        tokens=request.app.state.internal_tokens,
        request_id=x_request_id,
    )
    if rejection is not None:
        raise rejection_problem(rejection)
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
    page = listings.nearby(
        repo,
        model,
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        statuses=statuses,
        category=category,
        since=since,
        sort=sort,
        cursor=cursor,
        mark=_mark(after),
        limit=limit,
    )
    return await _from_model(page)


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
    try:
        items = await listings.suggestions(
            repo, model, lat=lat, lon=lon, category=category, radius_m=radius_m, limit=limit
        )
    except ReadModelDown as exc:
        raise _not_answering() from exc
    return _page(items, None)


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
            raw,
            request.app.state.rendered,
            viewer,
            now,
            if_none_match,
            photo_states=request.app.state.photos,
            public_max_age_s=request.app.state.settings.public_detail_max_age_s,
        )
        if served is not None:
            return served
    entry = await load_issue(issue_id, repo, cache)
    if entry is None:
        rejected = await reads.rejection(issue_id, repo, cache)
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
    public_max_age_s: int,
) -> Response | None:
    """The detail view from the read model's bytes, rendered once per ETag; None if they do not read."""
    try:
        head = orjson.loads(raw)["issue"]
        media_ids = [UUID(m) for m in head["media_ids"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # an older shape: read as a miss
    photos = await photo_states.views(media_ids)
    tag = rendered.etag(raw, rendered.viewer_kind(head, viewer), rendered.overdue(head, now), photos)
    # The view depends on who asks: a shared cache keys it by the Authorization it was asked with.
    headers = {
        "ETag": tag,
        "Cache-Control": rendered.cache_control(head, viewer, now, public_max_age_s),
        "Vary": "Authorization",
    }
    if etag_matches(if_none_match, tag):
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
    body = await reads.viewer_state(issue_id, user_id, repo, cache, model)
    if body is None:
        raise Problem(404, "Not Found", f"No issue {issue_id}.")
    return Response(orjson.dumps(body), media_type="application/json", headers={"Cache-Control": NO_STORE})


@router.get("/issues/{issue_id}/audience", responses={200: {"model": Audience}})
async def audience(
    issue_id: UUID, repo: RepoDep, cache: CacheDep, model: ModelDep, _caller: InternalCallerDep
) -> Response:
    """Who is told about changes: the reporter and the followers (for the gateway's live updates only)."""
    try:
        users = await reads.audience(issue_id, repo, cache, model)
    except ReadModelDown as exc:
        raise _not_answering() from exc
    if users is None:
        raise Problem(404, "Not Found", f"No issue {issue_id}.")
    return _json({"user_ids": users})
