"""Beanie documents of the issues service (private to it; never on the wire)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from beanie import Document
from pydantic import Field
from pymongo import IndexModel


class Report(Document):
    """A citizen's report. ``_id`` is the issue id the gateway handed out.

    Intended shard key: ``{geohash prefix, _id}`` once nearby search lands.
    """

    id: UUID  # type: ignore[assignment]  # our ids are UUIDs, not ObjectIds
    title: str
    description: str = ""
    category: str
    lat: float
    lon: float
    status: str = "open"
    created_at: datetime
    reporter_id: str | None = None
    # Idempotency: the command that created it, and the event that announced it
    # (re-published unchanged when the command is redelivered).
    command_id: UUID
    correlation_id: str
    reported_event_id: UUID
    reported_event_at: datetime
    updated_at: datetime = Field(default_factory=lambda: datetime.now().astimezone())

    class Settings:
        name = "reports"
        indexes = [IndexModel("command_id", unique=True), IndexModel([("category", 1), ("created_at", -1)])]
