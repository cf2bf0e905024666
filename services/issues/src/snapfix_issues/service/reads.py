"""Reads the routes share about one issue: the issue with its comments (from the read model or
else the store), a refused report, the viewer's own state, an issue's audience, and issues by id."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from snapfix_issues.cache import CachedIssue, IssueCache
from snapfix_issues.domain import RejectedReportRecord
from snapfix_issues.readmodel import ReadModel, ReadModelDown
from snapfix_issues.repository import ReportRepository
from snapfix_issues.views import public_record
from snapfix_shared.breakers import MONGO_DOWN


async def load_issue(issue_id: UUID, repo: ReportRepository, cache: IssueCache) -> CachedIssue | None:
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


async def rejection(issue_id: UUID, repo: ReportRepository, cache: IssueCache) -> RejectedReportRecord | None:
    """The report refused when it was applied under this id, if one was (the store, guarded by its circuit)."""
    async with cache.breakers.guard("mongo", MONGO_DOWN):
        return await repo.rejection(issue_id)


async def public_records(raw_ids: Iterable[str], repo: ReportRepository, cache: IssueCache) -> list[dict[str, Any]]:
    """The public records of these issues, in that order; unknown ids and ids not of ours left out."""
    found = []
    for raw in raw_ids:
        try:
            entry = await load_issue(UUID(raw), repo, cache)
        except ValueError:
            continue  # not an id of ours: nothing to find
        if entry is not None:
            found.append(public_record(entry.issue))
    return found


async def viewer_state(
    issue_id: UUID, user_id: str, repo: ReportRepository, cache: IssueCache, model: ReadModel | None
) -> dict[str, bool] | None:
    """What a signed-in user has done about one issue (None: no such issue). Point reads only: the issue
    (read model, else store), the user's vote by its ``_id``, and membership of the issue's followers set
    (the store's follow by its ``_id`` while the read model is not answering)."""
    entry = await load_issue(issue_id, repo, cache)
    if entry is None:
        return None
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
    return {
        "voted": bool(vote and vote.get("active")),
        "following": following,
        "is_reporter": entry.issue.reporter_id == user_id,
    }


async def audience(
    issue_id: UUID, repo: ReportRepository, cache: IssueCache, model: ReadModel | None
) -> list[str] | None:
    """Who is told about an issue's changes: its reporter and followers (None: no such issue).

    From the read model when it is built (``ReadModelDown`` passes through: at city size the store's
    query scans); else from the store."""
    if model is not None:
        return await model.audience(issue_id)
    entry = await load_issue(issue_id, repo, cache)
    if entry is None:
        return None
    return await repo.audience(entry.issue)
