"""The dispatcher's store: the outbox (what was recorded) and the outcomes (what was done)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from snapfix_notify.models import Delivery, Outcome

DUPLICATE_KEY = 11000


def _doc(model: Any, doc: dict[str, Any]) -> Any:
    return model.model_validate({**doc, "id": doc["_id"]})


class Deliveries:
    """The outbox (what was recorded, insert-only) and the outcomes (what was done, insert-only).

    Both are addressed by ``_id`` only. What is left to do lives in the due queue (Redis);
    ``unfinished`` rebuilds it, the one scan, when Redis lost it."""

    @staticmethod
    def _c() -> Any:
        return Delivery.get_pymongo_collection()

    @staticmethod
    def _outcomes() -> Any:
        return Outcome.get_pymongo_collection()

    async def record(self, deliveries: Sequence[Delivery]) -> set[str]:
        """Put deliveries in the outbox, each once; returns the keys stored now (not before).

        Plain inserts: the ``_id`` index refuses a repeat, far cheaper than upserts on FerretDB
        and as idempotent. A repeat (a redelivered event) is scheduled again and dropped when
        taken if its outcome exists: never sent twice."""
        if not deliveries:
            return set()
        docs = [{"_id": d.id, **d.model_dump(exclude={"id", "revision_id"})} for d in deliveries]
        try:
            await self._c().insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            repeated = {docs[e["index"]]["_id"] for e in errors}
            return {d.id for d in deliveries} - repeated
        return {d.id for d in deliveries}

    async def get(self, key: str) -> Delivery | None:
        doc = await self._c().find_one({"_id": key})
        return None if doc is None else _doc(Delivery, doc)

    async def outcome(self, key: str) -> Outcome | None:
        doc = await self._outcomes().find_one({"_id": key})
        return None if doc is None else _doc(Outcome, doc)

    async def unfinished(self) -> dict[str, float]:
        """Every recorded delivery without an outcome, with its due time (epoch seconds): two scans,
        run only to rebuild the due queue."""
        done = {d["_id"] async for d in self._outcomes().find({}, {"_id": 1})}
        return {
            d["_id"]: _epoch(d["due_at"])
            async for d in self._c().find({}, {"_id": 1, "due_at": 1})
            if d["_id"] not in done
        }

    async def retry_at(self, key: str, attempts: int, due_at: datetime, error: str) -> None:
        """A transient failure (rare: the one update of a delivery that fails)."""
        await self._c().update_one({"_id": key}, {"$set": {"attempts": attempts, "due_at": due_at, "error": error}})

    async def give_up(self, key: str, status: str, error: str, attempts: int) -> None:
        """Failed or skipped for good: its outcome is written once its NotificationFailed is published."""
        await self._c().update_one({"_id": key}, {"$set": {"status": status, "error": error, "attempts": attempts}})

    async def finish(self, delivery: Delivery, status: str, at: datetime, error: str | None = None) -> None:
        """Write the outcome (once; a repeat is a no-op)."""
        outcome = _outcome(delivery, status, at, error)
        with contextlib.suppress(DuplicateKeyError):  # written before a crash, or by a redelivery's twin
            await self._outcomes().insert_one(outcome)

    async def record_outcomes(self, deliveries: Sequence[Delivery], status: str, at: datetime) -> None:
        """The outcomes of a batch, in one insert."""
        if not deliveries:
            return
        outcomes = [_outcome(d, status, at, None) for d in deliveries]
        try:
            await self._outcomes().insert_many(outcomes, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise


def _outcome(delivery: Delivery, status: str, at: datetime, error: str | None) -> dict[str, Any]:
    return {
        "_id": delivery.id,
        "cause_id": delivery.cause_id,
        "recipient_id": delivery.recipient_id,
        "channel": delivery.channel,
        "moment": delivery.moment,
        "status": status,
        "attempts": delivery.attempts,
        "at": at,
        "error": error,
    }


def _epoch(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
