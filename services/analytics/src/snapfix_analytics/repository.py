"""The only place with queries on the analytics database (portable subset, DESIGN §6).

Exactly-once counting without transactions:
1. every event of a batch is first written to the ledger (``applied``, ``_id`` = its
   message id) with the increments decided for it and the partition and offset it came at;
   an id already there is a redelivery or a duplicate: its stored increments are used,
   never new ones;
2. an increment is applied to a cell with one conditional update: only while the cell's
   ``o_<partition>`` marker is below the event's offset, and the marker moves to it in the
   same atomic update. Increments of several events of one partition to one cell go as one
   update (from their lowest offset to their highest), so a batch's effect on a cell is
   all there or not at all, and a redelivered one is skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from snapfix_analytics.effects import CellDelta, IssueState, window_collection
from snapfix_shared.messages.analytics import WindowSize

DUPLICATE_KEY = 11000
Doc = dict[str, Any]


def area_filter(prefix: str | None) -> Doc:
    """Cells whose geohash starts with ``prefix``, as an index range (no regex)."""
    return {"geohash5": {"$gte": prefix, "$lt": prefix + "~"}} if prefix else {}


class AnalyticsRepository:
    def __init__(self, db: AsyncDatabase[Doc], *, topic: str) -> None:
        self.db, self.topic = db, topic

    # -- the ledger -------------------------------------------------------------------------

    async def claim(self, entries: list[Doc]) -> set[UUID]:
        """Write ledger entries; return the ids that were there already."""
        if not entries:
            return set()
        try:
            await self.db["applied"].insert_many(entries, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if exc.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {UUID(entries[e["index"]]["_id"]) for e in errors}
        return set()

    async def ledger(self, message_id: UUID) -> Doc | None:
        # Text ids: FerretDB finds a string _id through its index, a UUID one by scanning.
        return await self.db["applied"].find_one({"_id": str(message_id)})

    # -- partition clocks ---------------------------------------------------------------------

    async def clock(self, partition: int) -> datetime | None:
        doc = await self.db["clocks"].find_one({"_id": f"{self.topic}:{partition}"})
        return None if doc is None else doc["newest"]

    async def advance_clock(self, partition: int, newest: datetime) -> None:
        await self.db["clocks"].update_one(
            {"_id": f"{self.topic}:{partition}"}, {"$max": {"newest": newest}}, upsert=True
        )

    # -- the issue projection -----------------------------------------------------------------

    async def state(self, issue_id: UUID) -> IssueState | None:
        doc = await self.db["issues"].find_one({"_id": str(issue_id)})
        if doc is None:
            return None
        doc.pop("_id")
        return IssueState(issue_id=issue_id, **doc)

    async def save_state(self, state: IssueState, *, new: bool = False) -> None:
        """Store an issue's projection; ``new`` tries a plain insert first (an update scans on FerretDB)."""
        fields = asdict(state)
        issue_id = str(fields.pop("issue_id"))
        if new:
            try:
                await self.db["issues"].insert_one({"_id": issue_id, **fields})
                return
            except DuplicateKeyError:
                pass  # reported before (a redelivery, or the report published twice)
        await self.db["issues"].replace_one({"_id": issue_id}, fields, upsert=True)

    async def overdue_open(self, *, now: datetime, area: str | None, category: str | None) -> int:
        query: Doc = {"status": {"$in": ["open", "acknowledged", "in_progress", "reopened"]}, "due_at": {"$lt": now}}
        query |= area_filter(area)
        if category:
            query["category"] = category
        return int(await self.db["issues"].count_documents(query))

    # -- cells ----------------------------------------------------------------------------------

    async def apply(self, cell: CellDelta, partition: int, first: int, last: int) -> Doc | None:
        """Add ``cell``'s increments, stamped with offsets ``first``..``last`` of ``partition``.

        Returns the cell after the change, or None when it had them already.
        """
        marker = f"o_{partition}"
        query = {"_id": cell.key, "$or": [{marker: {"$exists": False}}, {marker: {"$lt": first}}]}
        update = {
            "$inc": {**cell.inc, "rev": 1},
            "$set": {marker: last},
            "$setOnInsert": cell.insert,
        }
        collection = self.db[cell.collection]
        try:
            return await collection.find_one_and_update(
                query, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            # The cell exists and has these offsets already, or another instance created it
            # just now: try once more without creating it; no match means already applied.
            return await collection.find_one_and_update(query, update, return_document=ReturnDocument.AFTER)

    async def cell(self, collection: str, key: str) -> Doc | None:
        return await self.db[collection].find_one({"_id": key})

    # -- queries ----------------------------------------------------------------------------------

    def windows(
        self,
        *,
        size: WindowSize,
        start: datetime,
        end: datetime,
        area: str | None = None,
        category: str | None = None,
        limit: int = 0,
    ) -> AsyncIterator[Doc]:
        query: Doc = {"start": {"$gte": start, "$lt": end}} | area_filter(area)
        if category:
            query["category"] = category
        cursor = self.db[window_collection(size)].find(query).sort("start", 1)
        return cursor.limit(limit) if limit else cursor

    async def gauges(self, collection: str, *, area: str | None, category: str | None) -> list[Doc]:
        query: Doc = area_filter(area)
        if category:
            query["category"] = category
        return await self.db[collection].find(query).to_list(None)
