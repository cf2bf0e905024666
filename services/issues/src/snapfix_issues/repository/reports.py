"""The command side of the reports' store: what the consumer writes (reports, lifecycle changes,
comments, votes, follows, refused reports) and the scans a rebuild of the read model reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from snapfix_issues.domain import CommentRecord, IssueRecord, RejectedReportRecord
from snapfix_issues.models import Comment, Follow, RejectedReport, Report, Vote
from snapfix_issues.rules import Change

StoreError = PyMongoError  # any failure of the issues store (callers need no pymongo import)
DUPLICATE_KEY = 11000


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


# Each record of ``domain.py`` as stored and read back (``models.py`` declares no fields of its own):
# its ``id`` the string ``_id`` (see the package's docstring), its other fields as they are.


def record_of(doc: dict[str, Any]) -> IssueRecord:
    return IssueRecord.model_validate({"id": doc["_id"], **doc})


def report_document(record: IssueRecord) -> dict[str, Any]:
    """A new report as stored: no lifecycle yet (history, applied commands and their events empty)."""
    doc = record.model_dump(exclude={"id"})
    doc["media_ids"] = list(record.media_ids)
    doc["history"], doc["applied_commands"], doc["events"] = [], [], []
    return {"_id": str(record.id), **doc}


def comment_of(doc: dict[str, Any]) -> CommentRecord:
    return CommentRecord.model_validate({"id": doc["_id"], **doc})


def comment_document(comment: CommentRecord) -> dict[str, Any]:
    """A comment as stored: the issue it is on named by a string too."""
    return {"_id": str(comment.id), **comment.model_dump(exclude={"id"}), "issue_id": str(comment.issue_id)}


def rejection_of(doc: dict[str, Any]) -> RejectedReportRecord:
    errors = [(e["field"], e["message"]) for e in doc.get("errors", [])]
    return RejectedReportRecord.model_validate({**doc, "id": doc["_id"], "errors": errors})


def rejection_document(rejection: RejectedReportRecord) -> dict[str, Any]:
    """A refused report as stored: each error a ``{field, message}`` document (FerretDB nests no arrays)."""
    doc = {"_id": str(rejection.id), **rejection.model_dump(exclude={"id"})}
    doc["errors"] = [{"field": f, "message": m} for f, m in rejection.errors]
    return doc


def participation_id(issue_id: UUID, user_id: str) -> str:
    return f"{issue_id}:{user_id}"


PARTICIPATION = {"vote": Vote, "follow": Follow}
_COUNTED_FIELD = {"vote": "votes", "follow": "followers"}


class ReportWrites:
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
        return record_of(found) if found else None

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
        collection = Comment.get_pymongo_collection()
        try:
            await collection.insert_one(comment_document(comment))
        except DuplicateKeyError:
            found = await collection.find_one({"_id": str(comment.id)})
            if found is None:
                raise
            return comment_of(found)
        return None

    async def get_participation(self, kind: str, issue_id: UUID, user_id: str) -> dict[str, Any] | None:
        """A user's vote or follow of an issue (``kind`` is ``vote`` or ``follow``)."""
        return await PARTICIPATION[kind].get_pymongo_collection().find_one({"_id": participation_id(issue_id, user_id)})

    async def put_participation(self, kind: str, doc: dict[str, Any]) -> None:
        await (
            PARTICIPATION[kind]
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
            await PARTICIPATION[kind]
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

    async def reject(self, rejection: RejectedReportRecord) -> RejectedReportRecord:
        """Keep a refused report's outcome; the one kept first wins (a redelivery re-announces it)."""
        try:
            await RejectedReport.get_pymongo_collection().insert_one(rejection_document(rejection))
        except DuplicateKeyError:
            earlier = await self.rejection(rejection.id)
            if earlier is not None:
                return earlier
            raise
        return rejection

    async def rejection(self, issue_id: UUID) -> RejectedReportRecord | None:
        doc = await RejectedReport.get_pymongo_collection().find_one({"_id": str(issue_id)})
        return None if doc is None else rejection_of(doc)

    # -- the read model's rebuild: one scan of each collection ------------------------------

    async def scan_reports(self, batch: int = 1000) -> AsyncIterator[list[IssueRecord]]:
        """Every report, ``batch`` at a time."""
        chunk: list[IssueRecord] = []
        cursor = Report.get_pymongo_collection().find({}, batch_size=batch)
        async for doc in cursor:
            chunk.append(record_of(doc))
            if len(chunk) >= batch:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    async def all_comments(self) -> dict[UUID, list[CommentRecord]]:
        """Every comment, by issue, oldest first."""
        by_issue: dict[UUID, list[CommentRecord]] = {}
        async for doc in Comment.get_pymongo_collection().find({}):
            comment = comment_of(doc)
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
