"""The only place with queries on the webhook collections (portable subset, DESIGN §6)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError, PyMongoError

from snapfix_notify.channels.webhook.models import DeliveryStep, WebhookDelivery, WebhookEndpoint

StoreError = PyMongoError  # the store's failures, as the rest of the part names them

DUPLICATE_KEY = 11000
INSERT_CHUNK = 50


def _endpoint(doc: dict[str, Any]) -> WebhookEndpoint:
    endpoint: WebhookEndpoint = WebhookEndpoint.model_validate({**doc, "id": doc["_id"]})
    return endpoint


def _delivery(doc: dict[str, Any]) -> WebhookDelivery:
    delivery: WebhookDelivery = WebhookDelivery.model_validate({**doc, "id": doc["_id"]})
    return delivery


class EndpointRepository:
    @staticmethod
    def _collection() -> Any:
        return WebhookEndpoint.get_pymongo_collection()

    async def create(self, endpoint: WebhookEndpoint) -> None:
        await self._collection().insert_one({"_id": endpoint.id, **endpoint.model_dump(exclude={"id", "revision_id"})})

    async def get(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        doc = await self._collection().find_one({"_id": endpoint_id})
        return None if doc is None else _endpoint(doc)

    async def all(self) -> list[WebhookEndpoint]:
        return [_endpoint(d) async for d in self._collection().find({}).sort("created_at", ASCENDING)]

    async def enabled(self) -> list[WebhookEndpoint]:
        return [_endpoint(d) async for d in self._collection().find({"enabled": True})]

    async def delete(self, endpoint_id: UUID) -> bool:
        result = await self._collection().delete_one({"_id": endpoint_id})
        return bool(result.deleted_count)

    async def enable(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        doc = await self._collection().find_one_and_update(
            {"_id": endpoint_id},
            {
                "$set": {
                    "enabled": True,
                    "disabled_at": None,
                    "disabled_reason": None,
                    "consecutive_failures": 0,
                    "failing_since": None,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _endpoint(doc)

    async def disable(self, endpoint_id: UUID, reason: str, at: datetime) -> bool:
        """Disable an enabled endpoint; True when this call disabled it."""
        result = await self._collection().update_one(
            {"_id": endpoint_id, "enabled": True},
            {"$set": {"enabled": False, "disabled_at": at, "disabled_reason": reason}},
        )
        return bool(result.modified_count)

    async def succeeded(self, endpoint_id: UUID, at: datetime) -> None:
        await self._collection().update_one(
            {"_id": endpoint_id},
            {"$set": {"consecutive_failures": 0, "failing_since": None, "last_success_at": at}},
        )

    async def failed(self, endpoint_id: UUID, at: datetime) -> WebhookEndpoint | None:
        """Count one more failure in a row; the endpoint as it is after that."""
        await self._collection().update_one({"_id": endpoint_id}, {"$inc": {"consecutive_failures": 1}})
        # The first of a run of failures dates it.
        await self._collection().update_one(
            {"_id": endpoint_id, "failing_since": None}, {"$set": {"failing_since": at}}
        )
        return await self.get(endpoint_id)


class DeliveryRepository:
    """Deliveries and their steps, both insert-only and addressed by ``_id`` on the hot path.

    The dispatcher sends a delivery it recorded itself from memory and logs each attempt
    as an inserted step; only a retry (or a delivery another process recorded) is read back.
    Reads of a delivery's steps, the log's pages and the rebuild of the due queue are the
    queries (declared indexes on MongoDB; scans on FerretDB, off the hot path)."""

    @staticmethod
    def _collection() -> Any:
        return WebhookDelivery.get_pymongo_collection()

    @staticmethod
    def _steps() -> Any:
        return DeliveryStep.get_pymongo_collection()

    async def record_all(self, deliveries: list[WebhookDelivery]) -> set[str]:
        """Store deliveries not stored yet (keyed by their id); returns the ids stored now.

        Inserts, not upserts: FerretDB writes a batch of inserts in one SQLite transaction but
        an upsert per statement, 20 times slower; a redelivered event's duplicates (code
        11000) are what is expected. Chunked, so every call stays well inside the timeout.
        """
        fresh: set[str] = set()
        for start in range(0, len(deliveries), INSERT_CHUNK):
            chunk = deliveries[start : start + INSERT_CHUNK]
            docs = [{"_id": d.id, **d.model_dump(exclude={"id", "revision_id"})} for d in chunk]
            repeated: set[str] = set()
            try:
                await self._collection().insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
                repeated = {docs[e["index"]]["_id"] for e in errors}
            fresh.update(d.id for d in chunk if d.id not in repeated)
        return fresh

    async def get(self, delivery_id: str) -> WebhookDelivery | None:
        """The delivery as its steps left it."""
        doc = await self._collection().find_one({"_id": delivery_id})
        if doc is None:
            return None
        steps = [_step(s) async for s in self._steps().find({"delivery_id": delivery_id}).sort("_id", ASCENDING)]
        return fold(_delivery(doc), steps)

    async def add_steps(self, steps: Sequence[DeliveryStep]) -> None:
        """Log steps (one insert for the lot); a step written before (a retried write) is left as it is."""
        if not steps:
            return
        docs = [{"_id": s.id, **s.model_dump(exclude={"id", "revision_id"})} for s in steps]
        try:
            await self._steps().insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise

    async def unannounced(self, limit: int) -> list[tuple[str, WebhookDelivery]]:
        """Failed deliveries whose NotificationFailed is not acked yet, with the step that failed them."""
        cursor = self._steps().find({"status": "failed", "announced": False}, {"delivery_id": 1}).limit(limit)
        found = []
        for step in [s async for s in cursor]:
            delivery = await self.get(step["delivery_id"])
            if delivery is not None:
                found.append((step["_id"], delivery))
        return found

    async def mark_announced(self, step_id: str) -> None:
        await self._steps().update_one({"_id": step_id}, {"$set": {"announced": True}})

    async def unfinished(self) -> dict[str, float]:
        """Every pending delivery with the time it is due (epoch seconds): scans, run only to
        rebuild the due queue."""
        last: dict[str, dict[str, Any]] = {}
        async for step in (
            self._steps().find({}, {"delivery_id": 1, "status": 1, "next_attempt_at": 1}).sort("_id", ASCENDING)
        ):
            last[step["delivery_id"]] = step
        due: dict[str, float] = {}
        async for doc in self._collection().find({}, {"_id": 1, "next_attempt_at": 1, "created_at": 1}):
            step = last.get(doc["_id"])
            if step is not None and step["status"] != "pending":
                continue
            at = (step or doc).get("next_attempt_at") or doc["created_at"]
            due[doc["_id"]] = (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
        return due

    async def delete_of(self, endpoint_id: UUID) -> None:
        await self._collection().delete_many({"endpoint_id": endpoint_id})
        await self._steps().delete_many({"endpoint_id": endpoint_id})

    async def page(self, endpoint_id: UUID, *, before: str | None, limit: int) -> list[WebhookDelivery]:
        """An endpoint's deliveries, newest event first, after the cursor ``before`` (a delivery id)."""
        query: dict[str, Any] = {"endpoint_id": endpoint_id}
        if before is not None:
            query["_id"] = {"$lt": before}
        cursor = self._collection().find(query).sort("_id", DESCENDING).limit(limit)
        page = [_delivery(d) async for d in cursor]
        steps: dict[str, list[DeliveryStep]] = {d.id: [] for d in page}
        if page:
            found = self._steps().find({"delivery_id": {"$in": list(steps)}}).sort("_id", ASCENDING)
            async for doc in found:
                steps[doc["delivery_id"]].append(_step(doc))
        return [fold(d, steps[d.id]) for d in page]


def fold(delivery: WebhookDelivery, steps: Sequence[DeliveryStep]) -> WebhookDelivery:
    """The delivery as its steps (oldest first) left it."""
    if not steps:
        return delivery
    attempts = [s.attempt for s in steps if s.attempt is not None]
    last = steps[-1]
    folded: WebhookDelivery = delivery.model_copy(
        update={
            "attempts": attempts,
            "attempt_count": len(attempts),
            "status": last.status,
            "next_attempt_at": last.next_attempt_at,
            "delivered_at": last.delivered_at,
            "reason": last.reason,
            "announced": last.announced,
        }
    )
    return folded


def _step(doc: dict[str, Any]) -> DeliveryStep:
    step: DeliveryStep = DeliveryStep.model_validate({**doc, "id": doc["_id"]})
    return step
