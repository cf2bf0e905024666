"""The only place with queries on the issues service's collections."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from pymongo.errors import BulkWriteError

from snapfix_issues.models import Report

DUPLICATE_KEY = 11000


class ReportRepository:
    async def insert_new(self, reports: Sequence[Report]) -> None:
        """Insert reports; those already stored (a redelivered command) are left as they are."""
        if not reports:
            return
        collection = Report.get_pymongo_collection()
        try:
            await collection.insert_many([r.model_dump(by_alias=True) for r in reports], ordered=False)
        except BulkWriteError as exc:
            others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
            if others or exc.details.get("writeConcernErrors"):
                raise

    async def get_many(self, ids: Sequence[UUID]) -> list[Report]:
        return await Report.find({"_id": {"$in": list(ids)}}).to_list()

    async def get(self, issue_id: UUID) -> Report | None:
        return await Report.get(issue_id)
