"""The only place with queries on the issues service's collections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from pymongo.errors import BulkWriteError

from snapfix_issues.domain import IssueRecord
from snapfix_issues.models import Report

DUPLICATE_KEY = 11000


class Reports(Protocol):
    async def insert_new(self, records: Sequence[IssueRecord]) -> set[UUID]: ...
    async def get(self, issue_id: UUID) -> IssueRecord | None: ...


class ReportRepository:
    async def insert_new(self, records: Sequence[IssueRecord]) -> set[UUID]:
        """Insert reports in one unordered bulk write; return the ids that were already stored.

        Those are left as they are (a redelivered command), and the caller reads them back.
        """
        if not records:
            return set()
        docs = [{"_id": r.id, **r.model_dump(exclude={"id"})} for r in records]
        try:
            await Report.get_pymongo_collection().insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if exc.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {records[e["index"]].id for e in errors}
        return set()

    async def get(self, issue_id: UUID) -> IssueRecord | None:
        found = await Report.get(issue_id)
        return _record(found) if found else None


def _record(report: Report) -> IssueRecord:
    return IssueRecord.model_validate(report.model_dump())
