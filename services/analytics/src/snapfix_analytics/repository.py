"""The only place with queries on the analytics database (portable subset, DESIGN §6).

Exactly-once counting without transactions:
0. every message id of a batch is first claimed (``claims``: one ``insert_many`` of
   ``{_id, p, o}``); an id whose insert fails was seen before, and only those are looked
   up in the ledger (FerretDB scans on every read, so the common batch reads nothing);
1. every event of a batch is then written to the ledger (``applied``, ``_id`` = its
   message id) with the increments decided for it and the partition and offset it came at;
   an id already there is a redelivery or a duplicate: its stored increments are used,
   never new ones;
2. an increment is applied to a cell with one conditional update: only while the cell's
   ``o_<partition>`` marker is below the event's offset, and the marker moves to it in the
   same atomic update. Increments of several events of one partition to one cell go as one
   update (from their lowest offset to their highest), so a batch's effect on a cell is
   all there or not at all, and a redelivered one is skipped. The increments of a batch's
   new events (never claimed before, so never applied) go per collection (``flush``): cells
   not stored yet in one insert of whole documents, the others one upsert each by ``_id``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Coroutine
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from pymongo import ReplaceOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError

from snapfix_analytics.effects import CellDelta, IssueState, window_collection
from snapfix_shared.messages.analytics import WindowSize

DUPLICATE_KEY = 11000
# Documents per insert command (one statement per document, one transaction per command).
INSERT_CHUNK = 200
# Updates per write command. FerretDB 1.24 on PostgreSQL keeps each update's read open until
# the whole command ends and takes a second connection to write, from a pool of 50: a command
# of about 50 updates of existing documents waits on itself forever, and the server answers
# nothing more until it restarts (measured: 45 pass, 50 hang). Well under that, with room for
# the other services' commands on the same server.
UPDATE_CHUNK = 16
INSERT_WRITERS = 4  # insert commands of one call at once (one connection of the store's pool each)
CELL_READS = 8  # concurrent reads of cells by _id (one connection of the store's pool each)
# Concurrent cell updates, all collections together (two connections of the store's pool each).
CELL_WRITES = 8
STORED_CELLS = 200_000  # cell keys remembered as stored, least recently used go first
Doc = dict[str, Any]
StoreUnavailable = ConnectionFailure  # unreachable for a while: worth retrying (callers need no pymongo import)
StoreError = PyMongoError  # any failure of the analytics store
T = TypeVar("T")


def area_filter(prefix: str | None) -> Doc:
    """Cells whose geohash starts with ``prefix``, as an index range (no regex)."""
    return {"geohash5": {"$gte": prefix, "$lt": prefix + "~"}} if prefix else {}


class AnalyticsRepository:
    def __init__(self, db: AsyncDatabase[Doc], *, topic: str) -> None:
        self.db, self.topic = db, topic
        self._stored: OrderedDict[str, None] = OrderedDict()  # cell keys known to be stored (see ``flush``)
        self._cell_writes = asyncio.Semaphore(CELL_WRITES)  # shared by the collections flushed side by side

    # -- the ledger -------------------------------------------------------------------------

    async def claim(self, entries: list[Doc]) -> set[UUID]:
        """Write ledger entries; return the ids that were there already."""
        return await self._insert_new("applied", entries)

    async def claim_ids(self, claims: list[tuple[UUID, int, int]]) -> set[UUID]:
        """Claim message ids (with the partition and offset they came at); return those claimed before."""
        docs = [{"_id": str(i), "p": p, "o": o} for i, p, o in claims]
        return await self._insert_new("claims", docs)

    async def backfill_claims(self) -> int:
        """A ledger written before claims existed: claim its ids once (one scan), so they stay known."""
        if await self.db["claims"].find_one({}, {"_id": 1}) is not None:
            return 0
        docs = [d async for d in self.db["applied"].find({}, {"_id": 1, "p": 1, "o": 1})]
        if docs:
            await self._insert_new("claims", docs)
        return len(docs)

    async def _insert_new(self, collection: str, docs: list[Doc]) -> set[UUID]:
        """Insert ``docs`` (a few commands); return the ids that were there already."""
        return {UUID(i) for i in await self._insert_keys(collection, docs)}

    async def _insert_keys(self, collection: str, docs: list[Doc]) -> set[str]:
        """Insert ``docs`` (string ``_id``s, a few commands at once); return the ``_id``s that were there already."""
        gate = asyncio.Semaphore(INSERT_WRITERS)

        async def insert(chunk: list[Doc]) -> set[str]:
            async with gate:
                try:
                    await self.db[collection].insert_many(chunk, ordered=False)
                except BulkWriteError as exc:
                    errors = exc.details.get("writeErrors", [])
                    if exc.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
                        raise
                    return {chunk[e["index"]]["_id"] for e in errors}
            return set()

        chunks = [docs[start : start + INSERT_CHUNK] for start in range(0, len(docs), INSERT_CHUNK)]
        there: set[str] = set()
        for found in await together([insert(chunk) for chunk in chunks]):
            there |= found
        return there

    async def _bulk(self, collection: str, ops: list[Any]) -> None:
        for start in range(0, len(ops), UPDATE_CHUNK):
            await self.db[collection].bulk_write(ops[start : start + UPDATE_CHUNK], ordered=False)

    async def ledger(self, message_id: UUID) -> Doc | None:
        # Text ids: FerretDB finds a string _id through its index, a UUID one by scanning.
        return await self.db["applied"].find_one({"_id": str(message_id)})

    # -- partition clocks ---------------------------------------------------------------------

    async def clock(self, partition: int) -> datetime | None:
        doc = await self.db["clocks"].find_one({"_id": f"{self.topic}:{partition}"})
        return None if doc is None else doc["newest"]

    async def advance_clock(self, partition: int, newest: datetime) -> None:
        await self.advance_clocks({partition: newest})

    async def advance_clocks(self, newest: dict[int, datetime]) -> None:
        """Move partition clocks forward (never back), one bulk write."""
        if newest:
            ops = [
                UpdateOne({"_id": f"{self.topic}:{p}"}, {"$max": {"newest": at}}, upsert=True)
                for p, at in newest.items()
            ]
            await self._bulk("clocks", ops)

    # -- the issue projection -----------------------------------------------------------------

    async def state(self, issue_id: UUID) -> IssueState | None:
        doc = await self.db["issues"].find_one({"_id": str(issue_id)})
        if doc is None:
            return None
        doc.pop("_id")
        return IssueState(issue_id=issue_id, **doc)

    async def states(self, issue_ids: list[UUID]) -> dict[UUID, IssueState]:
        """Several projections in one query (one scan on FerretDB, where each find_one is one too)."""
        if not issue_ids:
            return {}
        found: dict[UUID, IssueState] = {}
        async for doc in self.db["issues"].find({"_id": {"$in": [str(i) for i in issue_ids]}}):
            issue_id = UUID(doc.pop("_id"))
            found[issue_id] = IssueState(issue_id=issue_id, **doc)
        return found

    async def save_states(self, states: list[IssueState], *, new: set[UUID]) -> None:
        """Store projections: those first seen now inserted in one go, the others replaced in one bulk write."""
        docs = {state.issue_id: _state_doc(state) for state in states}
        reported = [docs[i] for i in docs if i in new]
        again = await self._insert_new("issues", reported)  # reported before: a redelivery or a repeat
        ops = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for i, d in docs.items() if i not in new or i in again]
        await self._bulk("issues", ops)

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

    async def flush(self, collection: str, updates: list[tuple[CellDelta, dict[int, int]]]) -> dict[str, Doc | None]:
        """Add new increments to the cells of ``collection``: new cells inserted, the others updated.

        ``updates``: each cell's summed increments and, per partition, the last offset they
        span. Only for increments never applied before (their ids were claimed just now),
        so a cell this process has not seen stored yet is inserted whole, as the upsert would
        create it, all in one insert: FerretDB takes an insert for a fraction of an update,
        and most cells of a batch are new (a minute window is written once or twice). A cell
        that was there after all (another instance, or before a restart) takes the update.
        The update is not conditional; the offset markers move forward with ``$max``.
        Returns each cell after the change when known without a read (it was created by this
        write), else None (see ``cells``).
        """
        if not updates:
            return {}
        out: dict[str, Doc | None] = {}
        fresh = {cell.key: created_cell(cell, last) for cell, last in updates if cell.key not in self._stored}
        there = await self._insert_keys(collection, list(fresh.values()))
        for key, doc in fresh.items():
            if key not in there:
                out[key] = doc
            self._remember_stored(key)
        updates = [(cell, last) for cell, last in updates if cell.key not in out]
        out |= await self._update_cells(collection, updates)
        return out

    def _remember_stored(self, key: str) -> None:
        """A hint, never a promise: a wrong guess costs a refused insert or an upsert, never a count."""
        self._stored[key] = None
        self._stored.move_to_end(key)
        while len(self._stored) > STORED_CELLS:
            self._stored.popitem(last=False)

    async def _update_cells(
        self, collection: str, updates: list[tuple[CellDelta, dict[int, int]]]
    ) -> dict[str, Doc | None]:
        """One upsert per cell, a few at a time, each answering with the cell after it (the value
        the stream publishes: no read afterwards); see ``flush``."""
        target = self.db[collection]
        gate = self._cell_writes

        async def one(cell: CellDelta, last: dict[int, int]) -> Doc | None:
            update: Doc = {
                "$inc": {**cell.inc, "rev": 1},
                "$max": {f"o_{p}": o for p, o in last.items()},
                "$setOnInsert": cell.insert,
            }
            async with gate:
                try:
                    return await target.find_one_and_update(
                        {"_id": cell.key}, update, upsert=True, return_document=ReturnDocument.AFTER
                    )
                except DuplicateKeyError:  # another instance created it just now: update it
                    del update["$setOnInsert"]
                    return await target.find_one_and_update(
                        {"_id": cell.key}, update, return_document=ReturnDocument.AFTER
                    )

        docs = await together([one(cell, last) for cell, last in updates])
        out: dict[str, Doc | None] = {}
        for (cell, _last), doc in zip(updates, docs, strict=True):
            out[cell.key] = doc
            self._remember_stored(cell.key)
        return out

    async def cells(self, collection: str, keys: list[str]) -> dict[str, Doc]:
        """Several cells, each read by its ``_id``, a few at a time: FerretDB answers ``$in`` with a
        scan of the collection (120 ms at 1,000 minute windows, growing with them), an ``_id``
        equality through its index."""
        gate = asyncio.Semaphore(CELL_READS)

        async def read(key: str) -> Doc | None:
            async with gate:
                return await self.db[collection].find_one({"_id": key})

        found = await asyncio.gather(*(read(k) for k in keys))
        return {k: doc for k, doc in zip(keys, found, strict=True) if doc is not None}

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


async def together(calls: list[Coroutine[Any, Any, T]], *, transient: tuple[type[BaseException], ...] = ()) -> list[T]:
    """Await ``calls`` at once, results in order. When one fails, the others are cancelled and
    waited for (no write of this attempt still runs when it is retried), and its exception is
    raised as it is, not in a group: retries go by its type, and a ``transient`` one never
    hides one that is not."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call) for call in calls]
    except BaseExceptionGroup as failed:
        lasting = [e for e in failed.exceptions if not isinstance(e, transient)]
        raise (lasting or list(failed.exceptions))[0] from None
    return [task.result() for task in tasks]


def _state_doc(state: IssueState) -> Doc:
    fields = dict(vars(state))  # scalars only: a shallow copy (asdict deep-copies, 3 % of the service's CPU)
    return {"_id": str(fields.pop("issue_id")), **fields}


def created_cell(cell: CellDelta, last: dict[int, int]) -> Doc:
    """A cell as the upsert of ``flush`` created it: its insert fields, the increments, the markers."""
    doc: Doc = {"_id": cell.key, **cell.insert, "rev": 1}
    for name, value in cell.inc.items():
        node = doc
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    doc |= {f"o_{p}": o for p, o in last.items()}
    return doc
