"""The issues service answers what its OpenAPI document says (``schemas.py``).

The routes write their JSON with orjson (or serve it rendered), so nothing in FastAPI checks
the bodies against the models their routes document: here every JSON route's answer, from the
read model and from the store's fallback, validates against its model, whose ``extra="forbid"``
fails on any field the document does not name. The issue read has been through a lifecycle
(comments public and internal, a vote, a follow, a status change, a photo, an attribute).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel
from redis.asyncio import Redis
from uuid_utils.compat import uuid7

from snapfix_issues.api import get_readmodel
from snapfix_issues.cache import issue_key
from snapfix_issues.catalogue import CategorySpec
from snapfix_issues.schemas import (
    Audience,
    CategoryPage,
    FollowedPage,
    IssueDetail,
    IssuePage,
    MapCells,
    PublicRecordPage,
    StatusChangePage,
    UserExport,
    ViewerState,
)
from snapfix_shared.messages import ChangeIssueStatus, CommentOnIssue, FollowIssue, Location, VoteOnIssue
from snapfix_shared.messages.base import utcnow
from tests.builders import as_viewer, citizen, make_command, make_report_command, staff_of
from tests.integration.issues_app import Issues, events_of, running_issues, wait_for_issue
from tests.stack import Stack, produce_command

pytestmark = pytest.mark.integration


@dataclass
class Reported:
    issue_id: str
    reporter: str
    follower: str
    lat: float
    lon: float


@pytest.fixture(scope="module")
async def issues(stack: Stack) -> AsyncIterator[Issues]:
    async with running_issues(stack) as running:
        yield running


@pytest.fixture(scope="module")
async def reported(stack: Stack, issues: Issues) -> Reported:
    reporter, follower, roads = citizen(), citizen(), staff_of("roads")
    lat, lon = 10 + uuid4().int % 5000 / 1000, 20 + uuid4().int % 5000 / 1000  # a place of its own
    report = make_report_command(
        **reporter,
        location=Location(lat=lat, lon=lon),
        attributes={"depth_cm": 12, "lane": "bike_lane"},
        media_ids=[uuid7()],  # never uploaded: shown as pending
    )
    await produce_command(stack, report)
    await wait_for_issue(issues.http, report.issue_id)
    issue_id = report.issue_id
    for command in (
        make_command(CommentOnIssue, issue_id=issue_id, comment_id=uuid7(), body="Still there", **follower),
        make_command(CommentOnIssue, issue_id=issue_id, comment_id=uuid7(), body="Crew", internal=True, **roads),
        make_command(VoteOnIssue, issue_id=issue_id, vote=True, **follower),
        make_command(FollowIssue, issue_id=issue_id, follow=True, **follower),
        make_command(ChangeIssueStatus, issue_id=issue_id, to="acknowledged", note="Seen", **roads),
    ):
        await produce_command(stack, command)
    for event, count in (("IssueCommented", 2), ("IssueVoted", 1), ("IssueFollowed", 1), ("IssueStatusChanged", 1)):
        await events_of(stack, issue_id, event, count=count)
    return Reported(str(issue_id), reporter["actor_id"], follower["actor_id"], lat, lon)


@contextmanager
def from_the_store(issues: Issues) -> Iterator[None]:
    """Lists answered by the store's fallback queries, as while the read model is rebuilt."""

    async def no_model() -> None:
        return None

    issues.app.dependency_overrides[get_readmodel] = no_model
    try:
        yield
    finally:
        issues.app.dependency_overrides.pop(get_readmodel, None)


async def documented(
    issues: Issues,
    model: type[BaseModel],
    path: str,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """The route's 200 answer, validated against ``model``; its body as JSON."""
    response = await issues.http.get(path, params=params, headers=headers)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/json"
    model.model_validate_json(response.content)
    return response.json()


def lists(r: Reported) -> list[tuple[type[BaseModel], str, dict[str, Any], Mapping[str, str] | None]]:
    """The list routes of both paths (read model and store), each with a query that finds the issue."""
    near = {"lat": r.lat, "lon": r.lon, "radius_m": 50}
    day = utcnow() - timedelta(days=1)
    window = {"start": day.isoformat(), "end": (day + timedelta(days=2)).isoformat()}
    reporter, follower = as_viewer(r.reporter, "citizen"), as_viewer(r.follower, "citizen")
    return [
        (IssuePage, "/v1/issues", near, None),
        (IssuePage, "/v1/issues", {**near, "sort": "recent"}, None),
        (IssuePage, "/v1/issues/suggestions", {**near, "category": "pothole"}, None),
        (IssuePage, f"/v1/users/{r.reporter}/issues", {}, reporter),
        (FollowedPage, f"/v1/users/{r.follower}/following", {}, follower),
        (IssuePage, "/v1/staff/queue", {"department": "roads", "limit": 100, "sort": "newest"}, None),
        (PublicRecordPage, "/v1/reports", {"ids": r.issue_id}, None),
        (PublicRecordPage, "/v1/reports", {**window, "category": "pothole", "limit": 5}, None),
        (StatusChangePage, "/v1/reports/status-changes", window, None),
    ]


@pytest.mark.parametrize("source", ["read model", "store"])
async def test_every_list_answers_its_documented_model(issues: Issues, reported: Reported, source: str) -> None:
    staff = as_viewer("roads-lead", "staff", "roads")
    answering: AbstractContextManager[None] = from_the_store(issues) if source == "store" else nullcontext()
    with answering:
        for model, path, params, headers in lists(reported):
            body = await documented(issues, model, path, params, headers or staff)
            assert body["items"], f"{path} {params}: nothing to check the model against"


async def test_the_map_answers_its_documented_models(issues: Issues, reported: Reported) -> None:
    box = f"{reported.lon - 0.01},{reported.lat - 0.01},{reported.lon + 0.01},{reported.lat + 0.01}"
    page = await documented(issues, IssuePage, "/v1/map/issues", {"bbox": box})
    cells = await documented(issues, MapCells, "/v1/map/cells", {"bbox": box, "level": 12})
    assert reported.issue_id in {i["id"] for i in page["items"]}
    assert sum(c["count"] for c in cells["cells"]) >= 1


async def test_one_issue_answers_its_documented_models_rendered_and_from_the_store(
    issues: Issues, reported: Reported, stack: Stack
) -> None:
    path = f"/v1/issues/{reported.issue_id}"
    viewers = [None, as_viewer(reported.reporter, "citizen"), as_viewer("roads-lead", "staff", "roads")]
    rendered = [await documented(issues, IssueDetail, path, headers=v) for v in viewers]
    redis = Redis.from_url(stack.redis_url)
    try:
        await redis.delete(issue_key(UUID(reported.issue_id)))  # the next read is the store's (cache-aside)
    finally:
        await redis.aclose()
    stored = await documented(issues, IssueDetail, path)
    assert stored == rendered[0]
    staff = rendered[2]
    assert [c["internal"] for c in staff["comments"]] == [False, True]
    assert staff["photos"][0]["status"] == "pending"
    assert staff["history"][0]["to"] == "acknowledged"

    follower = as_viewer(reported.follower, "citizen")
    state = await documented(issues, ViewerState, f"{path}/viewer", headers=follower)
    assert state == {"voted": True, "following": True, "is_reporter": False}
    audience = await documented(issues, Audience, f"{path}/audience", headers=as_viewer())
    assert reported.follower in audience["user_ids"]
    with from_the_store(issues):
        assert await documented(issues, Audience, f"{path}/audience", headers=as_viewer()) == audience


async def test_a_users_export_answers_its_documented_model(issues: Issues, reported: Reported) -> None:
    export = await documented(
        issues, UserExport, f"/v1/users/{reported.follower}/export", headers=as_viewer(reported.follower, "citizen")
    )
    assert [len(export[kind]) for kind in ("comments", "votes", "follows")] == [1, 1, 1]


async def test_the_catalogue_answers_its_documented_models(issues: Issues) -> None:
    admin = as_viewer("admin-1", "admin")
    for headers in (None, as_viewer("roads-lead", "staff", "roads")):
        page = await documented(issues, CategoryPage, "/v1/categories", headers=headers)
        await documented(issues, CategorySpec, "/v1/categories/pothole", headers=headers)
        assert any("canned_responses" in c for c in page["items"]) == (headers is not None)
    code = f"schema-{uuid4().hex[:8]}"
    body = {"name": "Schema check", "department": "roads", "sla_hours": 24}
    for status in (201, 200):  # created, then replaced
        answer = await issues.http.put(f"/v1/categories/{code}", json=body, headers=admin)
        assert answer.status_code == status, answer.text
        assert CategorySpec.model_validate_json(answer.content).code == code
