"""The only place with queries on the webhook collections (portable subset, DESIGN §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError

from snapfix_notify.webhooks.models import WebhookDelivery, WebhookEndpoint

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
    @staticmethod
    def _collection() -> Any:
        return WebhookDelivery.get_pymongo_collection()

    async def record_all(self, deliveries: list[WebhookDelivery]) -> None:
        """Store deliveries not stored yet (keyed by their id); existing ones are left as they are.

        Inserts, not upserts: FerretDB writes a batch of inserts in one SQLite transaction but
        an upsert per statement, 20 times slower; a redelivered event's duplicates (code
        11000) are what is expected. Chunked, so every call stays well inside the timeout.
        """
        for start in range(0, len(deliveries), INSERT_CHUNK):
            chunk = deliveries[start : start + INSERT_CHUNK]
            docs = [{"_id": d.id, **d.model_dump(exclude={"id", "revision_id"})} for d in chunk]
            try:
                await self._collection().insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                    raise

    async def get(self, delivery_id: str) -> WebhookDelivery | None:
        doc = await self._collection().find_one({"_id": delivery_id})
        return None if doc is None else _delivery(doc)

    async def claim_due(self, now: datetime, *, limit: int, lease_until: datetime, claim: str) -> list[WebhookDelivery]:
        """Take up to ``limit`` due deliveries, most overdue first; each is due again at
        ``lease_until`` unless finished. One read and one write for the lot (no findAndModify):
        a delivery another dispatcher took meanwhile is left out."""
        due = [
            _delivery(d)
            async for d in self._collection()
            .find({"status": "pending", "next_attempt_at": {"$lte": now}})
            .sort("next_attempt_at", ASCENDING)
            .limit(limit)
        ]
        if not due:
            return []
        result = await self._collection().update_many(
            {"_id": {"$in": [d.id for d in due]}, "status": "pending", "next_attempt_at": {"$lte": now}},
            {"$set": {"next_attempt_at": lease_until, "claim": claim}},
        )
        if result.modified_count != len(due):  # some were taken meanwhile: keep only ours
            ours = {d["_id"] async for d in self._collection().find({"claim": claim}, projection={"_id": 1})}
            due = [d for d in due if d.id in ours]
        for d in due:
            d.claim, d.next_attempt_at = claim, lease_until
        return due

    async def finish_attempt(self, delivery_id: str, claim: str, attempt: dict[str, Any], **fields: Any) -> bool:
        """Log an attempt and set the delivery's new state, if the claim is still ours."""
        result = await self._collection().update_one(
            {"_id": delivery_id, "claim": claim},
            {"$push": {"attempts": attempt}, "$inc": {"attempt_count": 1}, "$set": {"claim": None, **fields}},
        )
        return bool(result.modified_count)

    async def cancel(self, delivery_id: str, claim: str, reason: str) -> bool:
        result = await self._collection().update_one(
            {"_id": delivery_id, "claim": claim},
            {"$set": {"status": "cancelled", "reason": reason, "claim": None, "next_attempt_at": None}},
        )
        return bool(result.modified_count)

    async def unannounced(self, limit: int) -> list[WebhookDelivery]:
        """Failed deliveries whose NotificationFailed is not acked yet (on the status index)."""
        cursor = self._collection().find({"status": "failed", "announced": False}).limit(limit)
        return [_delivery(d) async for d in cursor]

    async def mark_announced(self, delivery_id: str) -> None:
        await self._collection().update_one({"_id": delivery_id}, {"$set": {"announced": True}})

    async def delete_of(self, endpoint_id: UUID) -> None:
        await self._collection().delete_many({"endpoint_id": endpoint_id})

    async def page(self, endpoint_id: UUID, *, before: str | None, limit: int) -> list[WebhookDelivery]:
        """An endpoint's deliveries, newest event first, after the cursor ``before`` (a delivery id)."""
        query: dict[str, Any] = {"endpoint_id": endpoint_id}
        if before is not None:
            query["_id"] = {"$lt": before}
        cursor = self._collection().find(query).sort("_id", DESCENDING).limit(limit)
        return [_delivery(d) async for d in cursor]
