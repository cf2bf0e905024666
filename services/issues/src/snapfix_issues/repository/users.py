"""A user's data in the reports' store: their export, and its erasure when they delete their account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from snapfix_issues.domain import IssueRecord
from snapfix_issues.models import Comment, Follow, RejectedReport, Report, Vote
from snapfix_issues.repository.reports import PARTICIPATION, ReportWrites

# Tries at anonymising one report while its lifecycle keeps changing it.
MAX_ERASE_ATTEMPTS = 10


class UserData(ReportWrites):
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
        cursor = PARTICIPATION[kind].get_pymongo_collection().find({"user_id": user_id}, {"issue_id": 1})
        return sorted({str(d["issue_id"]) async for d in cursor})

    async def withdraw_participations(self, kind: str, user_id: str) -> None:
        """Votes or follows of ``user_id`` stop counting (kept until ``forget_participations``)."""
        await (
            PARTICIPATION[kind]
            .get_pymongo_collection()
            .update_many({"user_id": user_id, "active": True}, {"$set": {"active": False}})
        )

    async def forget_participations(self, kind: str, user_id: str) -> None:
        await PARTICIPATION[kind].get_pymongo_collection().delete_many({"user_id": user_id})


async def _found(
    document: Any, query: dict[str, Any], limit: int, projection: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    cursor = document.get_pymongo_collection().find(query, projection).limit(limit)
    return [{"id": d.pop("_id"), **d} async for d in cursor]
