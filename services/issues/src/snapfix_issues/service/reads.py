"""Reads the routes share: one issue with its comments, from the read model or else the store."""

from __future__ import annotations

from uuid import UUID

from snapfix_issues.cache import CachedIssue, IssueCache
from snapfix_issues.repository import ReportRepository
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
