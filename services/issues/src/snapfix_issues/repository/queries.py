"""The query side of the reports' store: the read model's fallback while it is rebuilt or Redis is down."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from snapfix_issues.domain import CommentRecord, IssueRecord
from snapfix_issues.models import Comment, Follow, Report
from snapfix_issues.repository.reports import comment_of, record_of

# Lists never carry what only the lifecycle needs.
LIST_PROJECTION = {"history": 0, "events": 0, "applied_commands": 0}
# Bounds on candidates read for a search that sorts in memory (distance, the staff queue).
MAX_CANDIDATES = 5000
# The staff queue's candidates by sort (models.Report declares the indexes).
QUEUE_ORDER: dict[str, list[tuple[str, int]]] = {
    "due": [("due_at", 1), ("_id", 1)],
    "priority": [("due_at", 1), ("_id", 1)],
    "newest": [("created_at", -1), ("_id", -1)],
    "oldest": [("created_at", 1), ("_id", 1)],
}
# '~' sorts after every geohash character, so [cell, cell + '~') is "starts with cell".
PREFIX_END = "~"


class ReportQueries:
    async def comments(self, issue_id: UUID) -> list[CommentRecord]:
        cursor = (
            Comment.get_pymongo_collection().find({"issue_id": str(issue_id)}).sort([("created_at", 1), ("_id", 1)])
        )
        return [comment_of(d) async for d in cursor]

    async def audience(self, issue: IssueRecord) -> list[str]:
        """Who hears about changes: the reporter and every active follower."""
        followers = Follow.get_pymongo_collection().find({"issue_id": str(issue.id), "active": True}, {"user_id": 1})
        users = [issue.reporter_id] if issue.reporter_id else []
        users += [d["user_id"] async for d in followers]
        return list(dict.fromkeys(users))

    async def in_cells(
        self,
        cells: Iterable[str],
        *,
        statuses: Sequence[str] = (),
        category: str | None = None,
        since: datetime | None = None,
    ) -> list[IssueRecord]:
        """Reports whose geohash starts with one of ``cells`` (an index range each)."""
        query: dict[str, Any] = {"$or": [{"geohash": {"$gte": c, "$lt": c + PREFIX_END}} for c in cells]}
        query.update(_filters(statuses=statuses, category=category))
        if since is not None:
            query["created_at"] = {"$gte": since}
        cursor = Report.get_pymongo_collection().find(query, LIST_PROJECTION).limit(MAX_CANDIDATES)
        return [record_of(d) async for d in cursor]

    async def by_reporter(
        self, reporter_id: str, *, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[IssueRecord]:
        """A user's reports, newest first (keyset pagination on ``created_at, _id``)."""
        query: dict[str, Any] = {"reporter_id": reporter_id}
        if after is not None:
            at, last = after
            query["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": str(last)}}]
        cursor = (
            Report.get_pymongo_collection()
            .find(query, LIST_PROJECTION)
            .sort([("created_at", -1), ("_id", -1)])
            .limit(limit)
        )
        return [record_of(d) async for d in cursor]

    async def following(self, user_id: str, *, after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
        """The issues a user follows, most recently followed first."""
        query: dict[str, Any] = {"user_id": user_id, "active": True}
        if after is not None:
            at, last = after
            query["$or"] = [{"since": {"$lt": at}}, {"since": at, "_id": {"$lt": last}}]
        cursor = Follow.get_pymongo_collection().find(query).sort([("since", -1), ("_id", -1)]).limit(limit)
        return [d async for d in cursor]

    async def for_departments(
        self,
        departments: Sequence[str] | None,
        *,
        statuses: Sequence[str],
        priority: str | None,
        sort: str = "priority",
    ) -> list[IssueRecord]:
        """Candidates for the staff queue (``departments`` None: every department): the first
        ``MAX_CANDIDATES`` in the order of ``sort``, on the ``(department, status, due_at|created_at)``
        indexes (``priority`` ranks are not stored: its candidates come by due date)."""
        query = _filters(statuses=statuses)
        if departments is not None:
            query.update(_one_of("department", departments))
        if priority is not None:
            query["priority"] = priority
        order = QUEUE_ORDER.get(sort, QUEUE_ORDER["due"])
        cursor = Report.get_pymongo_collection().find(query, LIST_PROJECTION).sort(order).limit(MAX_CANDIDATES)
        return [record_of(d) async for d in cursor]

    async def in_window(
        self,
        *,
        start: datetime,
        end: datetime,
        categories: Sequence[str] = (),
        statuses: Sequence[str] = (),
        skip: int = 0,
        limit: int,
    ) -> list[IssueRecord]:
        """Reports created in ``[start, end)``, newest first, one offset page (history included)."""
        query: dict[str, Any] = {"created_at": {"$gte": start, "$lt": end}}
        query.update(_filters(statuses=statuses))
        if categories:
            query.update(_one_of("category", categories))
        cursor = (
            Report.get_pymongo_collection()
            .find(query, {"events": 0, "applied_commands": 0})
            .sort([("created_at", -1), ("_id", -1)])
            .skip(skip)
            .limit(limit)
        )
        return [record_of(d) async for d in cursor]

    async def changed_since(self, start: datetime) -> list[IssueRecord]:
        """Reports changed at or after ``start`` (candidates for a window of status changes)."""
        cursor = (
            Report.get_pymongo_collection()
            .find({"updated_at": {"$gte": start}}, {"events": 0, "applied_commands": 0})
            .limit(MAX_CANDIDATES)
        )
        return [record_of(d) async for d in cursor]


def _one_of(field: str, values: Sequence[str]) -> dict[str, Any]:
    return {field: values[0]} if len(values) == 1 else {field: {"$in": list(values)}}


def _filters(*, statuses: Sequence[str] = (), category: str | None = None) -> dict[str, Any]:
    query: dict[str, Any] = _one_of("status", statuses) if statuses else {}
    if category is not None:
        query["category"] = category
    return query
