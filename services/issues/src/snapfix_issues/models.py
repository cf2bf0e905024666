"""Beanie documents of the issues service (private to it; never on the wire).

They name the collections and their indexes; the repository reads and writes them.
Indexes are created one per call at start-up (``snapfix_shared.mongo.init_documents``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from beanie import Document
from pydantic import Field
from pymongo import IndexModel


class Report(Document):
    """Stored form of ``IssueRecord``; ``_id`` is the issue id the gateway handed out.

    Intended shard key: ``{geohash: 1, _id: 1}`` (a prefix of the geohash keeps nearby
    searches on few shards; the id makes the key unique).
    """

    id: str  # type: ignore[assignment]  # the issue's UUID as a string: the store indexes strings
    title: str
    description: str = ""
    category: str
    lat: float
    lon: float
    geohash: str = ""
    address: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    media_ids: list[UUID] = Field(default_factory=list)
    anonymous: bool = False
    status: str = "open"
    created_at: datetime
    reporter_id: str | None = None
    channel: str | None = None
    address_id: str | None = None
    media_url: str | None = None
    contact: dict[str, Any] | None = None  # personal data: staff only
    device_id: str | None = None
    account_id: str | None = None
    department: str | None = None
    assignee_id: str | None = None
    priority: str = "normal"
    due_at: datetime | None = None
    resolved_at: datetime | None = None
    updated_at: datetime | None = None
    votes: int = 0
    followers: int = 0
    history: list[dict[str, Any]] = Field(default_factory=list)
    command_id: UUID
    correlation_id: str
    reported_event_id: UUID
    reported_event_at: datetime
    version: int = 0
    applied_commands: list[UUID] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)

    class Settings:
        name = "reports"
        indexes: ClassVar = [
            IndexModel("command_id", unique=True),
            IndexModel([("category", 1), ("created_at", -1)]),
            IndexModel("geohash"),
            IndexModel([("reporter_id", 1), ("created_at", -1)]),
            # The staff queue's candidates (repository.QUEUE_ORDER): by due date, by creation time.
            IndexModel([("department", 1), ("status", 1), ("due_at", 1), ("_id", 1)]),
            IndexModel([("department", 1), ("status", 1), ("created_at", -1), ("_id", -1)]),
            # Open311: requests in a date window, and status changes since a date.
            IndexModel([("created_at", -1), ("_id", -1)]),
            IndexModel("updated_at"),
        ]


class Comment(Document):
    """A comment; ``_id`` is the comment id the gateway handed out. Intended shard key: ``{issue_id: 1}``."""

    id: str  # type: ignore[assignment]
    issue_id: str
    author_id: str | None = None
    body: str
    internal: bool = False
    created_at: datetime
    command_id: UUID
    correlation_id: str
    event_id: UUID
    event_at: datetime

    class Settings:
        name = "comments"
        indexes: ClassVar = [IndexModel([("issue_id", 1), ("created_at", 1)])]


class Vote(Document):
    """One user's vote on one issue; ``_id`` is ``"<issue>:<user>"`` (one per user).

    Kept with ``active`` False when withdrawn, so the last command and its event stay
    known for redeliveries. Intended shard key: ``{issue_id: 1}``.
    """

    id: str  # type: ignore[assignment]
    issue_id: str
    user_id: str
    active: bool
    command_id: UUID
    event_id: UUID
    event_at: datetime
    votes: int | None = None  # the issue's count after this command, once counted

    class Settings:
        name = "votes"
        indexes: ClassVar = [IndexModel([("issue_id", 1), ("active", 1)])]


class Follow(Document):
    """One user following one issue; ``_id`` is ``"<issue>:<user>"``, ``active`` False once unfollowed.

    Intended shard key: ``{user_id: 1}`` ("what do I follow" is the frequent read; an
    issue's audience is a scatter-gather, fine at its rate).
    """

    id: str  # type: ignore[assignment]
    issue_id: str
    user_id: str
    active: bool
    since: datetime
    command_id: UUID | None = None  # None when moved from a duplicate
    event_id: UUID | None = None
    event_at: datetime | None = None

    class Settings:
        name = "follows"
        indexes: ClassVar = [
            IndexModel([("issue_id", 1), ("active", 1)]),
            IndexModel([("user_id", 1), ("active", 1), ("since", -1)]),
        ]


class RejectedReport(Document):
    """A report the consumer refused (``RejectedReportRecord``); ``_id`` is the issue id as a string.

    Rare, so small: unsharded.
    """

    id: str  # type: ignore[assignment]
    reporter_id: str | None = None
    reason: str
    errors: list[dict[str, str]] = Field(default_factory=list)  # {field, message}: no nested arrays in FerretDB
    command_id: UUID
    correlation_id: str
    event_id: UUID
    event_at: datetime

    class Settings:
        name = "rejected_reports"


class Category(Document):
    """A catalogue entry (Open311 service); ``_id`` is its code. Small: unsharded."""

    id: str  # type: ignore[assignment]
    name: str
    group: str = ""
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    department: str
    sla_hours: int
    attributes: list[dict[str, Any]] = Field(default_factory=list)
    updated_at: datetime | None = None

    class Settings:
        name = "categories"


class Photo(Document):
    """What became of a photo (``media.events.v1``). Intended shard key: ``{_id}``."""

    id: UUID  # type: ignore[assignment]  # the media id
    owner_id: str
    status: str  # processed | rejected | deleted
    reason: str | None = None
    variants: list[str] = Field(default_factory=list)
    event_id: UUID

    class Settings:
        name = "photos"
