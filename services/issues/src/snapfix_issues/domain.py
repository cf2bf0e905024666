"""The issues domain's own values, independent of storage and transport.

The records are also the one declaration of what the store keeps: ``models.py`` names only the
collections and their indexes, and ``repository/`` stores each record field for field (its ``id``
as the string ``_id``) and reads it back through the record's validation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator

from snapfix_shared.messages import Priority, Status
from snapfix_shared.messages.issues import AttributeValue, ReporterContact

# Where a report still needs work (suggestions, the staff queue's default, overdue).
ACTIVE_STATUSES: tuple[Status, ...] = ("open", "acknowledged", "in_progress", "reopened")
PRIORITY_ORDER: tuple[Priority, ...] = ("urgent", "high", "normal", "low")


def storage_precision(value: datetime) -> datetime:
    """BSON keeps milliseconds: truncate first, so every view of a record agrees."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class _Stored(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class HistoryEntry(_Stored):
    """One status change, as kept (all of them) on the issue."""

    at: AwareDatetime
    from_status: Status
    to_status: Status
    note: str = ""
    actor_id: str | None = None
    duplicate_of: UUID | None = None
    reason: str | None = None
    command_id: UUID | None = None

    @field_validator("at")
    @classmethod
    def _ms(cls, value: datetime) -> datetime:
        return storage_precision(value)


class StoredEvent(_Stored):
    """The event a lifecycle command produced (JSON form), re-published as is on redelivery."""

    command_id: UUID
    event: dict[str, Any]


class IssueRecord(_Stored):
    """A report as the issues service keeps it (``models.Report``; ``repository.reports.report_document``)."""

    id: UUID
    title: str
    description: str = ""
    category: str
    lat: float
    lon: float
    geohash: str = ""
    address: str | None = None
    attributes: dict[str, AttributeValue] = {}
    media_ids: tuple[UUID, ...] = ()
    anonymous: bool = False
    status: Status = "open"
    created_at: AwareDatetime
    reporter_id: str | None = None
    # Open311 submissions: where from, and (personal data, staff only) how to reach the reporter.
    channel: str | None = None
    address_id: str | None = None
    media_url: str | None = None
    contact: ReporterContact | None = None
    device_id: str | None = None
    account_id: str | None = None
    department: str | None = None
    assignee_id: str | None = None
    priority: Priority = "normal"
    due_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    votes: int = 0
    followers: int = 0
    history: tuple[HistoryEntry, ...] = ()
    # Idempotency: the command that created it, and the event that announced it
    # (re-published unchanged when the command is redelivered).
    command_id: UUID
    correlation_id: str
    reported_event_id: UUID
    reported_event_at: AwareDatetime
    # Lifecycle commands applied so far (a redelivery is recognised by its id) with their
    # events, and the optimistic-concurrency version every lifecycle change increments.
    version: int = 0
    applied_commands: tuple[UUID, ...] = ()
    events: tuple[StoredEvent, ...] = ()

    @field_validator("created_at", "reported_event_at", "due_at", "resolved_at", "updated_at")
    @classmethod
    def _ms(cls, value: datetime | None) -> datetime | None:
        return None if value is None else storage_precision(value)

    def stored_event(self, command_id: UUID) -> dict[str, Any] | None:
        return next((e.event for e in self.events if e.command_id == command_id), None)


class CommentRecord(_Stored):
    """A comment as kept (``models.Comment``; ``issue_id`` stored as a string)."""

    id: UUID
    issue_id: UUID
    author_id: str | None
    body: str
    internal: bool = False
    created_at: AwareDatetime
    command_id: UUID
    correlation_id: str
    event_id: UUID
    event_at: AwareDatetime

    @field_validator("created_at", "event_at")
    @classmethod
    def _ms(cls, value: datetime) -> datetime:
        return storage_precision(value)


class RejectedReportRecord(_Stored):
    """A report the consumer refused: what its reporter is told at the report's address.

    Kept (``models.RejectedReport``; each error stored as a ``{field, message}`` document) so a
    redelivered command re-announces the very same ``ReportRejected``.
    """

    id: UUID  # the issue id the gateway handed out
    reporter_id: str | None
    reason: str
    errors: tuple[tuple[str, str], ...] = ()  # (field, message)
    command_id: UUID
    correlation_id: str
    event_id: UUID
    event_at: AwareDatetime

    @field_validator("event_at")
    @classmethod
    def _ms(cls, value: datetime) -> datetime:
        return storage_precision(value)
