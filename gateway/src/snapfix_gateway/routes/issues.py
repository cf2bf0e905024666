"""``/v1/issues``, ``/v1/me/...``, ``/v1/staff/queue``, ``/v1/categories``: commands on Kafka, reads routed to issues.

Every change is a command, checked before it is published (so the client gets 403, 404,
409 or 422 at once): a report by the gateway itself against its copy of the catalogue,
the others by the issues service. The gateway answers ``202`` after the broker's ack; the
issues service applies the command moments later (a report it refuses then answers 410).
Reads are answered by the issues service, which decides what this viewer may see; the bodies
relayed are documented by its own models (``snapfix_shared.schemas.issues``).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response, status

from snapfix_gateway.commands import SubmitDep
from snapfix_gateway.deps import (
    AdminDep,
    IssuesHttpDep,
    OptionalPrincipalDep,
    PrincipalDep,
    RequestIdDep,
    StaffDep,
)
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.routes.issue_queries import (
    FollowingQuery,
    MapCellsQuery,
    MapIssuesQuery,
    MyIssuesQuery,
    NearbyQuery,
    RelayedQuery,
    StaffQueueQuery,
    SuggestionsQuery,
)
from snapfix_gateway.routes.issue_requests import (
    Accepted,
    AssignRequest,
    CommentRequest,
    EditRequest,
    ReportIssueRequest,
    TransitionRequest,
    check_backdating,
)
from snapfix_gateway.routes.report_route import ReportRoute
from snapfix_gateway.upstream import Upstream, relay, relay_get, viewer_headers
from snapfix_gateway.verified_email import ReporterVerifiedDep
from snapfix_shared.messages import (
    AssignIssue,
    ChangeIssueStatus,
    CommentOnIssue,
    EditIssue,
    FollowIssue,
    Location,
    ReportIssue,
    VoteOnIssue,
)
from snapfix_shared.messages.issues import CategoryCode
from snapfix_shared.schemas.issues import FollowedPage, IssueDetail, MapCells, Page, ViewerState

router = APIRouter(tags=["issues"])

_ISSUE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Not allowed for this user"},
    404: {"description": "No such issue"},
    409: {"description": "Not possible in the issue's current state"},
    422: {"description": "Invalid request; `errors` names each field"},
    429: {"description": "Rate limit reached; see Retry-After"},
    503: {"description": "Kafka or the issues service is unavailable; retry after Retry-After"},
}


_COMMAND_ROUTE: dict[str, Any] = {
    "status_code": status.HTTP_202_ACCEPTED,
    "response_model": Accepted,
    "responses": _ISSUE_ERRORS,
}


async def report_issue(_verified: ReporterVerifiedDep, body: ReportIssueRequest, submit: SubmitDep) -> Accepted:
    """Report an issue. 202 means Kafka stored the report; it is readable at `Location` moments later.

    Where `SNAPFIX_REQUIRE_VERIFIED_EMAIL` is on (production's default), a citizen's e-mail address must be
    verified first (403 otherwise; staff exempt).

    An administrator importing a city's earlier reports may give `reported_at` (in the past, at most
    365 days back): the report's time and the start of its SLA, so an old open report is overdue."""
    envelope = submit.envelope()
    if body.reported_at is not None:
        check_backdating(body.reported_at, submit.principal, now=envelope["occurred_at"])
    fields = body.model_dump(exclude={"lat", "lon"})
    command = ReportIssue(
        **envelope, issue_id=submit.new_id("issue"), location=Location(lat=body.lat, lon=body.lon), **fields
    )
    await submit(command)
    return Accepted(id=command.issue_id)


# Its dependencies are resolved by hand (the hottest route: ``report_route``), else as any route's.
router.add_api_route("/v1/issues", report_issue, methods=["POST"], route_class_override=ReportRoute, **_COMMAND_ROUTE)


@router.post("/v1/issues/{issue_id}/transitions", **_COMMAND_ROUTE)
async def transition(issue_id: UUID, body: TransitionRequest, submit: SubmitDep) -> Accepted:
    """Change the status. Staff of the owning department (or admins) move an issue along
    `open → acknowledged → in_progress → resolved → closed`, or mark it `duplicate` / `rejected`;
    the reporter may `reopened` it within 30 days of resolution, or `withdrawn` it while it is new."""
    await submit(ChangeIssueStatus(**submit.envelope(), issue_id=issue_id, **body.model_dump()))
    return Accepted(id=issue_id)


@router.post("/v1/issues/{issue_id}/comments", **_COMMAND_ROUTE)
async def comment(issue_id: UUID, body: CommentRequest, submit: SubmitDep) -> Accepted:
    """Comment on an issue; staff may mark a comment internal (never shown to citizens)."""
    command = CommentOnIssue(
        **submit.envelope(), issue_id=issue_id, comment_id=submit.new_id("comment"), **body.model_dump()
    )
    await submit(command)
    return Accepted(id=command.comment_id)


@router.post("/v1/issues/{issue_id}/vote", **_COMMAND_ROUTE)
async def vote(issue_id: UUID, submit: SubmitDep) -> Accepted:
    """Upvote an issue (one vote per user)."""
    await submit(VoteOnIssue(**submit.envelope(), issue_id=issue_id, vote=True))
    return Accepted(id=issue_id)


@router.delete("/v1/issues/{issue_id}/vote", **_COMMAND_ROUTE)
async def unvote(issue_id: UUID, submit: SubmitDep) -> Accepted:
    """Take your vote back."""
    await submit(VoteOnIssue(**submit.envelope(), issue_id=issue_id, vote=False))
    return Accepted(id=issue_id)


@router.put("/v1/issues/{issue_id}/follow", **_COMMAND_ROUTE)
async def follow(issue_id: UUID, submit: SubmitDep) -> Accepted:
    """Follow an issue: its status changes and public comments reach you live (`GET /v1/events`)."""
    await submit(FollowIssue(**submit.envelope(), issue_id=issue_id, follow=True))
    return Accepted(id=issue_id)


@router.delete("/v1/issues/{issue_id}/follow", **_COMMAND_ROUTE)
async def unfollow(issue_id: UUID, submit: SubmitDep) -> Accepted:
    """Stop following an issue."""
    await submit(FollowIssue(**submit.envelope(), issue_id=issue_id, follow=False))
    return Accepted(id=issue_id)


@router.post("/v1/issues/{issue_id}/assignment", **_COMMAND_ROUTE)
async def assign(issue_id: UUID, body: AssignRequest, submit: SubmitDep, _staff: StaffDep) -> Accepted:
    """Staff: assign to a department or a staff member, and set the priority."""
    await submit(AssignIssue(**submit.envelope(), issue_id=issue_id, **body.model_dump()))
    return Accepted(id=issue_id)


@router.patch("/v1/issues/{issue_id}", **_COMMAND_ROUTE)
async def edit(issue_id: UUID, body: EditRequest, submit: SubmitDep) -> Accepted:
    """The reporter edits title, description or photos, within 15 minutes of reporting."""
    await submit(EditIssue(**submit.envelope(), issue_id=issue_id, **body.model_dump(exclude_unset=True)))
    return Accepted(id=issue_id)


# -- reads ------------------------------------------------------------------------------


@router.get("/v1/issues", response_model=Page, responses=_ISSUE_ERRORS)
async def nearby(
    query: Annotated[NearbyQuery, Query()],
    issues: IssuesHttpDep,
    request_id: RequestIdDep,
    principal: OptionalPrincipalDep,
) -> Response:
    """Issues near a point: within `radius_m`, closest or newest first, one page at a time."""
    return await relay_get(
        issues, "/v1/issues", request_id=request_id, principal=principal, params=query.upstream_query()
    )


@router.get("/v1/issues/suggestions", response_model=Page, responses=_ISSUE_ERRORS)
async def suggestions(
    query: Annotated[SuggestionsQuery, Query()],
    issues: IssuesHttpDep,
    request_id: RequestIdDep,
    principal: OptionalPrincipalDep,
) -> Response:
    """Open reports of the same category close by: probably the same problem (ask before reporting)."""
    return await relay_get(
        issues, "/v1/issues/suggestions", request_id=request_id, principal=principal, params=query.upstream_query()
    )


@router.get("/v1/map/issues", response_model=Page, tags=["map"], responses=_ISSUE_ERRORS)
async def map_issues(
    query: Annotated[MapIssuesQuery, Query()],
    issues: IssuesHttpDep,
    request_id: RequestIdDep,
    principal: OptionalPrincipalDep,
) -> Response:
    """Issues inside a map's viewport, nearest its centre first (`distance_m` from the centre), one page at a time."""
    return await relay_get(
        issues, "/v1/map/issues", request_id=request_id, principal=principal, params=query.upstream_query()
    )


@router.get("/v1/map/cells", response_model=MapCells, tags=["map"], responses=_ISSUE_ERRORS)
async def map_cells(
    query: Annotated[MapCellsQuery, Query()],
    issues: IssuesHttpDep,
    request_id: RequestIdDep,
    principal: OptionalPrincipalDep,
) -> Response:
    """How many issues lie in each grid cell over a viewport: the map's clusters at low zoom levels."""
    return await relay_get(
        issues, "/v1/map/cells", request_id=request_id, principal=principal, params=query.upstream_query()
    )


_REPORT_GONE: dict[int | str, dict[str, Any]] = {
    410: {
        "description": (
            "Your report was accepted (202) but refused when it was applied (its category or attributes "
            "no longer fit the catalogue): nothing was created. `reason` says why and `errors` names the "
            "fields, as a 422 would have. Shown to the reporter (and staff) only; anyone else gets 404."
        )
    }
}


@router.get("/v1/issues/{issue_id}", response_model=IssueDetail, responses=_ISSUE_ERRORS | _REPORT_GONE)
async def get_issue(
    issue_id: UUID,
    issues: IssuesHttpDep,
    request_id: RequestIdDep,
    principal: OptionalPrincipalDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One issue with its history and the comments you may see. After a report's 202, poll this
    (its `Location`) until it answers 200 (applied) or 410 (refused, with the reason).

    The answer carries an `ETag`: send it back as `If-None-Match` and an unchanged issue
    answers 304 with no body. A signed-in viewer's view is `private, no-cache`; an anonymous
    visitor's is the same for everyone, `public, max-age=5` (`Vary: Authorization`), and is
    answered from the gateway's memory for that long (with `Age`)."""
    return await relay_get(
        issues, f"/v1/issues/{issue_id}", request_id=request_id, principal=principal, if_none_match=if_none_match
    )


@router.get(
    "/v1/issues/{issue_id}/viewer",
    response_model=ViewerState,
    responses={k: _ISSUE_ERRORS[k] for k in (401, 404, 429, 503)},
)
async def viewer_state(
    issue_id: UUID, issues: IssuesHttpDep, request_id: RequestIdDep, principal: PrincipalDep
) -> Response:
    """Whether you voted for, follow, or reported this issue (for you alone: `Cache-Control: private, no-store`).

    Kept out of `GET /v1/issues/{issue_id}`, which is the same for every citizen and revalidated
    by its ETag. Votes and follows are applied moments after their 202: read this again after one."""
    return await relay_get(issues, f"/v1/issues/{issue_id}/viewer", request_id=request_id, principal=principal)


async def _mine(issues: Upstream, request_id: str, principal: Principal, what: str, query: RelayedQuery) -> Response:
    return await relay_get(
        issues,
        f"/v1/users/{principal.user_id}/{what}",
        request_id=request_id,
        principal=principal,
        params=query.upstream_query(),
    )


@router.get("/v1/me/issues", response_model=Page, tags=["me"], responses=_ISSUE_ERRORS)
async def my_issues(
    query: Annotated[MyIssuesQuery, Query()], issues: IssuesHttpDep, request_id: RequestIdDep, principal: PrincipalDep
) -> Response:
    """The issues you reported (anonymous ones included), newest first, `limit` per page."""
    return await _mine(issues, request_id, principal, "issues", query)


@router.get("/v1/me/following", response_model=FollowedPage, tags=["me"], responses=_ISSUE_ERRORS)
async def my_following(
    query: Annotated[FollowingQuery, Query()], issues: IssuesHttpDep, request_id: RequestIdDep, principal: PrincipalDep
) -> Response:
    """The issues you follow."""
    return await _mine(issues, request_id, principal, "following", query)


@router.get("/v1/staff/queue", response_model=Page, tags=["staff"], responses=_ISSUE_ERRORS)
async def staff_queue(
    query: Annotated[StaffQueueQuery, Query()], issues: IssuesHttpDep, request_id: RequestIdDep, staff: StaffDep
) -> Response:
    """Staff: the work queue of your departments (`sort`; by default most urgent first).

    Exact and unbounded from the issues service's read model. While that is being rebuilt
    (minutes after a Redis loss), the queue comes from the store and holds at most the first
    5,000 matching issues in the sort's order."""
    return await relay_get(
        issues, "/v1/staff/queue", request_id=request_id, principal=staff, params=query.upstream_query()
    )


# -- the catalogue ----------------------------------------------------------------------


def _per_viewer(response: Response) -> Response:
    """Staff see canned responses, others do not: no cache may answer one with the other's body."""
    response.headers["Vary"] = "Authorization"
    return response


@router.get("/v1/categories", tags=["categories"])
async def categories(
    request: Request, issues: IssuesHttpDep, request_id: RequestIdDep, principal: OptionalPrincipalDep
) -> Response:
    """The catalogue: what can be reported, which department owns it, its SLA and attributes.
    Staff and admins also get each category's `canned_responses` (then the answer is `private`)."""
    headers = viewer_headers(request_id, principal)
    if etag := request.headers.get("if-none-match"):
        headers["if-none-match"] = etag
    return _per_viewer(relay(await issues.call("GET", "/v1/categories", headers=headers)))


@router.get("/v1/categories/{code}", tags=["categories"], responses={404: {"description": "No such category"}})
async def category(
    code: CategoryCode, issues: IssuesHttpDep, request_id: RequestIdDep, principal: OptionalPrincipalDep
) -> Response:
    """One category; staff and admins also get its `canned_responses`."""
    return _per_viewer(await relay_get(issues, f"/v1/categories/{code}", request_id=request_id, principal=principal))


@router.put("/v1/categories/{code}", tags=["categories", "admin"], responses=_ISSUE_ERRORS)
async def put_category(
    code: CategoryCode, request: Request, issues: IssuesHttpDep, request_id: RequestIdDep, admin: AdminDep
) -> Response:
    """Admins: create or change a category (the body as `GET /v1/categories/{code}` shows it, without `code`)."""
    headers = {**viewer_headers(request_id, admin), "content-type": "application/json"}
    body = await request.body()
    return relay(await issues.call("PUT", f"/v1/categories/{code}", headers=headers, content=body))
