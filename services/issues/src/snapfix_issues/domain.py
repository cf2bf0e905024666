"""The issues domain's own values, independent of storage and transport."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator


class IssueRecord(BaseModel):
    """A report as the issues service keeps it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: UUID
    title: str
    description: str = ""
    category: str
    lat: float
    lon: float
    status: str = "open"
    created_at: AwareDatetime
    reporter_id: str | None = None
    # Idempotency: the command that created it, and the event that announced it
    # (re-published unchanged when the command is redelivered).
    command_id: UUID
    correlation_id: str
    reported_event_id: UUID
    reported_event_at: AwareDatetime

    @field_validator("created_at", "reported_event_at")
    @classmethod
    def _storage_precision(cls, value: datetime) -> datetime:
        """BSON keeps milliseconds: truncate first, so every view of a record agrees."""
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
