"""Beanie documents of the webhooks part of notify (private to the service; never on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]


class WebhookEndpoint(Document):
    """An integrator's URL, the event types it wants and the secret its deliveries are signed with.

    An endpoint receives the events that occurred after it was registered (a consumer
    replaying old history never floods a new integrator). ``consecutive_failures`` and
    ``failing_since`` drive disabling after sustained failure; any success resets them.
    Intended shard key: none (a small collection, read whole by the consumer).
    """

    id: UUID  # type: ignore[assignment]  # UUIDv7
    url: str
    event_types: list[str]
    description: str = ""
    secret: str
    """``whsec_`` + base64 of 24 random bytes (the Standard Webhooks format)."""
    enabled: bool = True
    created_at: datetime
    created_by: str
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    last_success_at: datetime | None = None

    class Settings:
        name = "webhook_endpoints"
        indexes: ClassVar = [IndexModel([("enabled", 1)])]


class WebhookDelivery(Document):
    """One event for one endpoint: recorded (inserted, never updated) before the first send.

    ``_id`` is ``msg_<event id>_<endpoint id>`` (hex): unique per (event, endpoint), so a
    redelivered event records nothing twice; it is also the ``webhook-id`` header, stable
    across retries, and sorts by the event's time (its id is a UUIDv7), which the
    delivery log pages on. What became of it is in its ``DeliveryStep`` records, one per
    attempt or decision; the state fields below are those of its last step, filled in when
    it is read (``repository.fold``). When it is due and who holds it live in Redis
    (``claims.py``). Intended shard key: ``{endpoint_id, _id}``.
    """

    id: str  # type: ignore[assignment]
    endpoint_id: UUID
    event_id: UUID
    event_type: str
    body: str
    """The exact JSON sent every time (signatures cover it byte for byte)."""
    status: DeliveryStatus = "pending"
    created_at: datetime
    next_attempt_at: datetime | None = None
    attempt_count: int = 0
    # [{at, status_code, error, duration_ms, retry_in_s}], oldest first
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    delivered_at: datetime | None = None
    reason: str | None = None
    # False from the write that fails it until its NotificationFailed is acked (webhooks/failures.py).
    announced: bool | None = None

    class Settings:
        name = "webhook_deliveries"
        indexes: ClassVar = [
            IndexModel([("endpoint_id", 1), ("_id", -1)]),  # an endpoint's delivery log, newest first
        ]


class DeliveryStep(Document):
    """One attempt at a delivery (or a decision without one: cancelled), and the state it left
    the delivery in. Insert-only: FerretDB scans a collection for every update, so the
    delivery log grows by inserts. ``_id`` is ``<delivery id>.<UUIDv7 hex>``: a delivery's
    steps sort by time. ``announced`` is False on a step that failed the delivery until its
    NotificationFailed is acked (the one update, on a rare path).
    Intended shard key: ``{delivery_id}``.
    """

    id: str  # type: ignore[assignment]
    delivery_id: str
    endpoint_id: UUID
    at: datetime
    attempt: dict[str, Any] | None = None  # {at, status_code, error, duration_ms, retry_in_s}
    status: DeliveryStatus
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    reason: str | None = None
    announced: bool | None = None

    class Settings:
        name = "webhook_delivery_steps"
        indexes: ClassVar = [
            IndexModel([("delivery_id", 1), ("_id", 1)]),  # a delivery's history (the log, a retry)
            IndexModel([("endpoint_id", 1)]),  # deleted with its endpoint
            IndexModel([("status", 1), ("announced", 1)]),  # failures not announced yet (the sweep)
        ]
