"""Beanie documents of the issues service (private to it; never on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from beanie import Document
from pymongo import IndexModel


class Report(Document):
    """Stored form of ``IssueRecord``; ``_id`` is the issue id the gateway handed out.

    Intended shard key: ``{geohash prefix, _id}`` once nearby search lands.
    """

    id: UUID  # type: ignore[assignment]  # our ids are UUIDv7, not ObjectIds
    title: str
    description: str = ""
    category: str
    lat: float
    lon: float
    status: str = "open"
    created_at: datetime
    reporter_id: str | None = None
    command_id: UUID
    correlation_id: str
    reported_event_id: UUID
    reported_event_at: datetime

    class Settings:
        name = "reports"
        indexes: ClassVar = [
            IndexModel("command_id", unique=True),
            IndexModel([("category", 1), ("created_at", -1)]),
        ]
