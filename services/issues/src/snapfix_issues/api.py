"""The issues service's HTTP query API (reached through the gateway)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pymongo.errors import PyMongoError

from snapfix_issues.cache import IssueCache
from snapfix_issues.repository import ReportRepository
from snapfix_issues.service import public_view
from snapfix_shared.problems import Problem, ServiceUnavailable


async def get_repo(request: Request) -> ReportRepository:
    return request.app.state.repo  # type: ignore[no-any-return]


async def get_cache(request: Request) -> IssueCache:
    return request.app.state.cache  # type: ignore[no-any-return]


RepoDep = Annotated[ReportRepository, Depends(get_repo)]
CacheDep = Annotated[IssueCache, Depends(get_cache)]

router = APIRouter(prefix="/v1")


@router.get("/issues/{issue_id}")
async def get_issue(issue_id: UUID, repo: RepoDep, cache: CacheDep) -> Response:
    view = await cache.get(issue_id)
    if view is None:
        try:
            report = await repo.get(issue_id)
        except PyMongoError as exc:  # overloaded or down: the client should come back later
            raise ServiceUnavailable(f"The issue store is not answering ({type(exc).__name__}).") from exc
        if report is None:
            raise Problem(404, "Not Found", f"No issue {issue_id}.")
        view = public_view(report)
        await cache.put(issue_id, view)
    return Response(orjson.dumps(view), media_type="application/json")
