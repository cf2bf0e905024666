"""The only place with queries on the issues service's collections.

Portable subset only (DESIGN §6). Ids of reports and comments are stored as strings (and
so are the issue ids that votes, follows and comments name): the embedded FerretDB hands
an equality on a string to its PostgreSQL backend's index, never one on a binary UUID.
``$in`` on ``_id`` is a full scan there, so nothing here reads many ids at once; the hot
lists come from the read model (``readmodel.py``), these queries are its fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from pydantic import ValidationError
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from snapfix_issues.catalogue import CategoryBody, CategorySpec
from snapfix_issues.domain import CommentRecord, IssueRecord, RejectedReportRecord
from snapfix_issues.models import Category, Comment, Follow, Photo, RejectedReport, Report, Vote
from snapfix_issues.rules import Change

StoreError = PyMongoError  # any failure of the issues store (callers need no pymongo import)
DUPLICATE_KEY = 11000
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
# Tries at anonymising one report while its lifecycle keeps changing it.
MAX_ERASE_ATTEMPTS = 10
# '~' sorts after every geohash character, so [cell, cell + '~') is "starts with cell".
PREFIX_END = "~"

log = logging.getLogger(__name__)


class Reports(Protocol):
    """What the command handler needs from the store (a fake in the unit tests)."""

    async def insert_new(self, records: Sequence[IssueRecord]) -> set[UUID]: ...
    async def get(self, issue_id: UUID) -> IssueRecord | None: ...
    async def apply_change(self, issue: IssueRecord, command_id: UUID, change: Change) -> bool: ...
    async def insert_comment(self, comment: CommentRecord) -> CommentRecord | None: ...
    async def get_participation(self, kind: str, issue_id: UUID, user_id: str) -> dict[str, Any] | None: ...
    async def put_participation(self, kind: str, doc: dict[str, Any]) -> None: ...
    async def recount(self, kind: str, issue_id: UUID) -> int: ...
    async def move_followers(self, from_issue: UUID, to_issue: UUID, also: str | None, at: datetime) -> list[str]: ...
    async def reject(self, rejection: RejectedReportRecord) -> RejectedReportRecord: ...


def _record(doc: dict[str, Any]) -> IssueRecord:
    return IssueRecord.model_validate({"id": doc["_id"], **doc})


def report_document(record: IssueRecord) -> dict[str, Any]:
    """A new report as stored: its ``_id`` the issue id as a string (see the module's docstring)."""
    doc = record.model_dump(exclude={"id"})
    doc["media_ids"] = list(record.media_ids)
    doc["history"], doc["applied_commands"], doc["events"] = [], [], []
    return {"_id": str(record.id), **doc}


def participation_id(issue_id: UUID, user_id: str) -> str:
    return f"{issue_id}:{user_id}"


_PARTICIPATION = {"vote": Vote, "follow": Follow}
_COUNTED_FIELD = {"vote": "votes", "follow": "followers"}


class ReportRepository:
    # -- the command side ---------------------------------------------------------------

    async def insert_new(self, records: Sequence[IssueRecord]) -> set[UUID]:
        """Insert reports in one unordered bulk write; return the ids that were already stored.

        Those are left as they are (a redelivered command), and the caller reads them back.
        """
        if not records:
            return set()
        try:
            await Report.get_pymongo_collection().insert_many([report_document(r) for r in records], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if exc.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {records[e["index"]].id for e in errors}
        return set()

    async def get(self, issue_id: UUID) -> IssueRecord | None:
        found = await Report.get_pymongo_collection().find_one({"_id": str(issue_id)})
        return _record(found) if found else None

    async def apply_change(self, issue: IssueRecord, command_id: UUID, change: Change) -> bool:
        """Apply a lifecycle change unless the issue moved on or the command was applied already.

        One conditional update: the version the change was decided on, and the command id
        not yet among the applied ones. False means neither held: re-read and decide again.
        """
        push: dict[str, Any] = {
            "applied_commands": command_id,
            "events": {"command_id": command_id, "event": change.event.model_dump(mode="json")},
        }
        if change.history is not None:
            push["history"] = change.history
        result = await Report.get_pymongo_collection().update_one(
            {"_id": str(issue.id), "version": issue.version, "applied_commands": {"$ne": command_id}},
            {"$set": {**change.fields, "version": issue.version + 1}, "$push": push},
        )
        return result.matched_count == 1

    async def insert_comment(self, comment: CommentRecord) -> CommentRecord | None:
        """Store a comment; if its id is taken, return the stored one instead."""
        doc = {"_id": str(comment.id), **comment.model_dump(exclude={"id"}), "issue_id": str(comment.issue_id)}
        collection = Comment.get_pymongo_collection()
        try:
            await collection.insert_one(doc)
        except DuplicateKeyError:
            found = await collection.find_one({"_id": str(comment.id)})
            if found is None:
                raise
            return CommentRecord.model_validate({"id": found["_id"], **found})
        return None

    async def get_participation(self, kind: str, issue_id: UUID, user_id: str) -> dict[str, Any] | None:
        """A user's vote or follow of an issue (``kind`` is ``vote`` or ``follow``)."""
        return (
            await _PARTICIPATION[kind].get_pymongo_collection().find_one({"_id": participation_id(issue_id, user_id)})
        )

    async def put_participation(self, kind: str, doc: dict[str, Any]) -> None:
        await (
            _PARTICIPATION[kind]
            .get_pymongo_collection()
            .replace_one(
                {"_id": participation_id(doc["issue_id"], doc["user_id"])},
                {**doc, "issue_id": str(doc["issue_id"])},
                upsert=True,
            )
        )

    async def recount(self, kind: str, issue_id: UUID) -> int:
        """Count the active votes or follows and store the count on the issue (a redelivery heals it)."""
        count = (
            await _PARTICIPATION[kind]
            .get_pymongo_collection()
            .count_documents({"issue_id": str(issue_id), "active": True})
        )
        await Report.get_pymongo_collection().update_one(
            {"_id": str(issue_id)}, {"$set": {_COUNTED_FIELD[kind]: count}}
        )
        return count

    async def move_followers(self, from_issue: UUID, to_issue: UUID, also: str | None, at: datetime) -> list[str]:
        """Followers of a duplicate (and its reporter) follow the original instead; who they are. Idempotent."""
        follows = Follow.get_pymongo_collection()
        users = [
            d["user_id"] async for d in follows.find({"issue_id": str(from_issue), "active": True}, {"user_id": 1})
        ]
        if also is not None:
            users.append(also)
        for user in dict.fromkeys(users):
            key = participation_id(to_issue, user)
            await follows.update_one(
                {"_id": key},
                {
                    "$set": {"active": True},
                    "$setOnInsert": {"issue_id": str(to_issue), "user_id": user, "since": at},
                },
                upsert=True,
            )
        await follows.update_many({"issue_id": str(from_issue), "active": True}, {"$set": {"active": False}})
        await self.recount("follow", to_issue)
        await self.recount("follow", from_issue)
        return list(dict.fromkeys(users))

    # -- the read model's rebuild: one scan of each collection ------------------------------

    async def reject(self, rejection: RejectedReportRecord) -> RejectedReportRecord:
        """Keep a refused report's outcome; the one kept first wins (a redelivery re-announces it)."""
        doc = {"_id": str(rejection.id), **rejection.model_dump(exclude={"id"})}
        doc["errors"] = [{"field": f, "message": m} for f, m in rejection.errors]
        try:
            await RejectedReport.get_pymongo_collection().insert_one(doc)
        except DuplicateKeyError:
            earlier = await self.rejection(rejection.id)
            if earlier is not None:
                return earlier
            raise
        return rejection

    async def rejection(self, issue_id: UUID) -> RejectedReportRecord | None:
        doc = await RejectedReport.get_pymongo_collection().find_one({"_id": str(issue_id)})
        if doc is None:
            return None
        errors = [(e["field"], e["message"]) for e in doc.get("errors", [])]
        return RejectedReportRecord.model_validate({**doc, "id": doc["_id"], "errors": errors})

    async def scan_reports(self, batch: int = 1000) -> AsyncIterator[list[IssueRecord]]:
        """Every report, ``batch`` at a time."""
        chunk: list[IssueRecord] = []
        cursor = Report.get_pymongo_collection().find({}, batch_size=batch)
        async for doc in cursor:
            chunk.append(_record(doc))
            if len(chunk) >= batch:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    async def all_comments(self) -> dict[UUID, list[CommentRecord]]:
        """Every comment, by issue, oldest first."""
        by_issue: dict[UUID, list[CommentRecord]] = {}
        async for doc in Comment.get_pymongo_collection().find({}):
            comment = CommentRecord.model_validate({"id": doc["_id"], **doc})
            by_issue.setdefault(comment.issue_id, []).append(comment)
        for comments in by_issue.values():
            comments.sort(key=lambda c: (c.created_at, str(c.id)))
        return by_issue

    async def active_follows(self) -> list[tuple[UUID, str, datetime]]:
        """(issue, user, since) of every follow in force."""
        return [
            (UUID(str(d["issue_id"])), d["user_id"], d["since"])
            async for d in Follow.get_pymongo_collection().find(
                {"active": True}, {"issue_id": 1, "user_id": 1, "since": 1}
            )
        ]

    # -- a user's data: their export, and its erasure when they delete their account ------------

    async def export_of(self, user_id: str, limit: int) -> dict[str, list[dict[str, Any]]]:
        """What this service holds about ``user_id`` (at most ``limit`` of each kind), as stored."""
        private = {"events": 0, "applied_commands": 0}
        return {
            "reports": await _found(Report, {"reporter_id": user_id}, limit, private),
            "rejected_reports": await _found(RejectedReport, {"reporter_id": user_id}, limit),
            "comments": await _found(Comment, {"author_id": user_id, "internal": {"$ne": True}}, limit),
            "votes": await _found(Vote, {"user_id": user_id}, limit),
            "follows": await _found(Follow, {"user_id": user_id}, limit),
        }

    async def reports_of(self, user_id: str) -> list[str]:
        """The ids of the reports ``user_id`` made (still named as their reporter)."""
        cursor = Report.get_pymongo_collection().find({"reporter_id": user_id}, {"_id": 1})
        return [str(d["_id"]) async for d in cursor]

    async def anonymise_reports(self, user_id: str, issue_ids: Sequence[str]) -> list[IssueRecord]:
        """Take ``user_id`` (and their contact) off these reports as their reporter; the reports stay
        as they are otherwise (public). Returns them as stored now. Idempotent."""
        erased = {"reporter_id": None, "contact": None, "device_id": None, "account_id": None, "anonymous": True}
        collection = Report.get_pymongo_collection()
        records = []
        for issue_id in issue_ids:  # one by one: $in on _id is a scan on FerretDB
            for _ in range(MAX_ERASE_ATTEMPTS):
                doc = await collection.find_one({"_id": issue_id, "reporter_id": user_id}, {"history": 1, "version": 1})
                if doc is None:  # not theirs, or done already
                    break
                # Their own moves in its public history (reopening, withdrawing) lose their actor too.
                history = [
                    {**h, "actor_id": None} if h.get("actor_id") == user_id else h for h in doc.get("history", [])
                ]
                result = await collection.update_one(  # at the version read: a lifecycle change meanwhile wins
                    {"_id": issue_id, "reporter_id": user_id, "version": doc["version"]},
                    {"$set": {**erased, "history": history, "version": doc["version"] + 1}},
                )
                if result.matched_count:
                    break
            else:
                raise RuntimeError(f"issue {issue_id} kept changing while its reporter was erased")
            stored = await self.get(UUID(issue_id))
            if stored is not None:
                records.append(stored)
        return records

    async def anonymise_rejections(self, user_id: str) -> None:
        await RejectedReport.get_pymongo_collection().update_many(
            {"reporter_id": user_id}, {"$set": {"reporter_id": None}}
        )

    async def anonymise_comments(self, user_id: str) -> set[str]:
        """Comments of ``user_id`` keep their text but lose their author; returns their issues' ids."""
        collection = Comment.get_pymongo_collection()
        issues = {str(d["issue_id"]) async for d in collection.find({"author_id": user_id}, {"issue_id": 1})}
        if issues:
            await collection.update_many({"author_id": user_id}, {"$set": {"author_id": None}})
        return issues

    async def participations_of(self, kind: str, user_id: str) -> list[str]:
        """The issues ``user_id`` voted on or follows (``kind``), withdrawn ones included."""
        cursor = _PARTICIPATION[kind].get_pymongo_collection().find({"user_id": user_id}, {"issue_id": 1})
        return sorted({str(d["issue_id"]) async for d in cursor})

    async def withdraw_participations(self, kind: str, user_id: str) -> None:
        """Votes or follows of ``user_id`` stop counting (kept until ``forget_participations``)."""
        await (
            _PARTICIPATION[kind]
            .get_pymongo_collection()
            .update_many({"user_id": user_id, "active": True}, {"$set": {"active": False}})
        )

    async def forget_participations(self, kind: str, user_id: str) -> None:
        await _PARTICIPATION[kind].get_pymongo_collection().delete_many({"user_id": user_id})

    # -- the query side (the read model's fallback while it is rebuilt or Redis is down) ------

    async def comments(self, issue_id: UUID) -> list[CommentRecord]:
        cursor = (
            Comment.get_pymongo_collection().find({"issue_id": str(issue_id)}).sort([("created_at", 1), ("_id", 1)])
        )
        return [CommentRecord.model_validate({"id": d["_id"], **d}) async for d in cursor]

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
        return [_record(d) async for d in cursor]

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
        return [_record(d) async for d in cursor]

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
        return [_record(d) async for d in cursor]

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
        return [_record(d) async for d in cursor]

    async def changed_since(self, start: datetime) -> list[IssueRecord]:
        """Reports changed at or after ``start`` (candidates for a window of status changes)."""
        cursor = (
            Report.get_pymongo_collection()
            .find({"updated_at": {"$gte": start}}, {"events": 0, "applied_commands": 0})
            .limit(MAX_CANDIDATES)
        )
        return [_record(d) async for d in cursor]


async def _found(
    document: Any, query: dict[str, Any], limit: int, projection: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    cursor = document.get_pymongo_collection().find(query, projection).limit(limit)
    return [{"id": d.pop("_id"), **d} async for d in cursor]


def _one_of(field: str, values: Sequence[str]) -> dict[str, Any]:
    return {field: values[0]} if len(values) == 1 else {field: {"$in": list(values)}}


def _filters(*, statuses: Sequence[str] = (), category: str | None = None) -> dict[str, Any]:
    query: dict[str, Any] = _one_of("status", statuses) if statuses else {}
    if category is not None:
        query["category"] = category
    return query


class CategoryRepository:
    async def all(self) -> list[CategorySpec]:
        specs = []
        async for doc in Category.get_pymongo_collection().find({}):
            try:
                fields = {k: v for k, v in doc.items() if k not in {"_id", "updated_at"}}
                specs.append(CategorySpec.model_validate({**fields, "code": doc["_id"]}))
            except ValidationError as exc:  # edited by hand into something unusable: skip, say so
                log.warning("category %s is not valid and is ignored: %s", doc.get("_id"), exc)
        return specs

    async def insert_absent(self, specs: Sequence[CategorySpec]) -> int:
        """Insert the categories whose codes are not stored yet; stored ones keep their edits."""
        if not specs:
            return 0
        docs = [{"_id": s.code, **s.model_dump(mode="json", exclude={"code"})} for s in specs]
        try:
            await Category.get_pymongo_collection().insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return len(specs) - len(errors)
        return len(specs)

    async def fill_canned_responses(self, specs: Sequence[CategorySpec]) -> int:
        """Give stored seed categories stored before canned responses existed (no such field at all)
        the seed's; a category an admin has written since keeps its own (even an empty list)."""
        filled = 0
        for spec in specs:
            if not spec.canned_responses:
                continue
            result = await Category.get_pymongo_collection().update_one(
                {"_id": spec.code, "canned_responses": {"$exists": False}},
                {"$set": {"canned_responses": [c.model_dump(mode="json") for c in spec.canned_responses]}},
            )
            filled += result.modified_count
        return filled

    async def put(self, code: str, body: CategoryBody, at: datetime) -> bool:
        """Create or replace a category; True when it was created."""
        doc = {**body.model_dump(mode="json"), "updated_at": at}
        result = await Category.get_pymongo_collection().replace_one({"_id": code}, doc, upsert=True)
        return result.upserted_id is not None


class PhotoRepository:
    """The ``photos`` projection: what became of each photo reports name."""

    async def find(self, media_ids: Sequence[UUID]) -> list[Photo | None]:
        """Each photo as projected, or None (nothing heard of it yet); one point read each."""
        return list(await asyncio.gather(*(Photo.get(m) for m in media_ids)))

    async def project(self, media_id: UUID, fields: dict[str, Any]) -> None:
        """Set a photo's fields (an upsert by id); a deleted photo stays deleted, whatever arrives after
        (a replay of older events): the filter then matches nothing and the upsert's insert meets the
        existing ``_id``."""
        with contextlib.suppress(DuplicateKeyError):
            await Photo.get_pymongo_collection().update_one(
                {"_id": media_id, "status": {"$ne": "deleted"}}, {"$set": fields}, upsert=True
            )
