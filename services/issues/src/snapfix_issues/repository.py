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
    async def insert_new(self, records: Sequence[IssueRecord]) -> None: ...
    async def get_many(self, ids: Sequence[UUID]) -> list[IssueRecord]: ...
    async def get(self, issue_id: UUID) -> IssueRecord | None: ...


class ReportRepository:
    async def insert_new(self, records: Sequence[IssueRecord]) -> None:
        """Insert reports in one unordered bulk write; those already stored are left as they are."""
        if not records:
            return
        docs = [{"_id": r.id, **r.model_dump(exclude={"id"})} for r in records]
        try:
            await Report.get_pymongo_collection().insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
            if others or exc.details.get("writeConcernErrors"):
                raise

    async def get_many(self, ids: Sequence[UUID]) -> list[IssueRecord]:
        found = await Report.find({"_id": {"$in": list(ids)}}).to_list()
        return [_record(r) for r in found]

    async def get(self, issue_id: UUID) -> IssueRecord | None:
        found = await Report.get(issue_id)
        return _record(found) if found else None


def _record(report: Report) -> IssueRecord:
    return IssueRecord.model_validate(report.model_dump())
