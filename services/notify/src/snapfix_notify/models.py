"""Beanie documents of the notify service (private to it; never on the wire).

Its own projection of the other services' events (contacts, issues), what users chose
(preferences, area watches), and what it sent (deliveries, the in-app feed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

DeliveryStatus = Literal["pending", "sent", "failed", "skipped"]


class Contact(Document):
    """How to reach a user, from ``users.events.v1``. Intended shard key: ``{_id: "hashed"}``."""

    id: str  # type: ignore[assignment]  # the user id
    email: str | None = None
    display_name: str = ""
    role: str = "citizen"
    departments: list[str] = Field(default_factory=list)
    email_verified: bool = False
    disabled: bool = False  # an administrator disabled the account: nothing is sent to it
    # The user deleted the account (UserDeleted): a tombstone without address or name, disabled, that
    # no older event of the account fills again.
    deleted: bool = False
    # Which event set role, departments and disabled (``repository.state_stamp``): an older one never wins.
    state_stamp: str | None = None

    class Settings:
        name = "contacts"
        indexes: ClassVar = [IndexModel([("departments", ASCENDING), ("role", ASCENDING)])]


class IssueView(Document):
    """What notify needs to know about a report, from ``issues.events.v1``.

    ``overdue_sent`` marks that the overdue sweep announced it (once per issue).
    Intended shard key: ``{_id: "hashed"}``. ``_id`` is the issue id as a string: FerretDB
    hands an equality on a string ``_id`` to its PostgreSQL index, never one on a binary UUID.
    """

    id: str  # type: ignore[assignment]
    title: str = ""
    category: str = ""
    department: str | None = None
    assignee_id: str | None = None
    reporter_id: str | None = None
    anonymous: bool = False
    status: str = "open"
    due_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    followers: list[str] = Field(default_factory=list)
    overdue_sent: bool = False

    class Settings:
        name = "issues"
        indexes: ClassVar = [IndexModel([("overdue_sent", ASCENDING), ("due_at", ASCENDING)])]


class Preference(Document):
    """A user's choices: ``moments[moment][channel] = on``; anything unset takes the default."""

    id: str  # type: ignore[assignment]  # the user id
    moments: dict[str, dict[str, bool]] = Field(default_factory=dict)
    updated_at: datetime | None = None

    class Settings:
        name = "preferences"


class Watch(Document):
    """An area a user watches for new reports. ``cells`` are the geohash cells it covers
    (given, or the cells around its circle): a new report is matched by its prefixes.
    Intended shard key: ``{user_id, _id}``."""

    id: UUID  # type: ignore[assignment]
    user_id: str
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    cells: list[str]
    categories: list[str] = Field(default_factory=list)
    digest: bool = False
    created_at: datetime
    last_digest_at: datetime | None = None

    class Settings:
        name = "watches"
        indexes: ClassVar = [
            IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel([("cells", ASCENDING)]),  # multikey: the watches a report falls in
            IndexModel([("digest", ASCENDING), ("last_digest_at", ASCENDING)]),
        ]


class DigestItem(Document):
    """A new report waiting for its watch's next digest. ``_id`` is ``<watch id>:<issue id>``."""

    id: str  # type: ignore[assignment]
    watch_id: UUID
    user_id: str
    issue_id: UUID
    title: str
    category: str
    created_at: datetime
    digest_key: str | None = None  # set when a digest took it

    class Settings:
        name = "digest_items"
        indexes: ClassVar = [IndexModel([("watch_id", ASCENDING), ("digest_key", ASCENDING)])]


class Delivery(Document):
    """One notification for one recipient on one channel, recorded before it is sent: the outbox.

    ``_id`` is the unique key ``<cause id>:<recipient>:<channel>``. ``context`` holds the
    template variables, so a retry after a restart renders the same message. Insert-only on
    the hot path and addressed by ``_id`` alone: when it is due and who holds it live in
    Redis (``claims.py``); once done (sent, failed or skipped) its ``Outcome`` is written. It
    is updated only when a send fails (FerretDB scans a collection to update it), and kept
    so that a redelivered event finds it recorded. Intended shard key: ``{recipient_id}``.
    """

    id: str  # type: ignore[assignment]
    cause_id: str
    recipient_id: str
    channel: str
    moment: str
    context: dict[str, Any] = Field(default_factory=dict)
    address: str | None = None  # where to send, when the event names it (a verification email)
    status: DeliveryStatus = "pending"
    attempts: int = 0
    due_at: datetime
    created_at: datetime
    error: str | None = None

    class Settings:
        name = "outbox"  # read by _id only (the due queue is rebuilt from a full read)


class Outcome(Document):
    """What became of a delivery, written once: ``sent`` (never sent again), ``failed`` or ``skipped``
    (announced as NotificationFailed first). Insert-only. Intended shard key: ``{_id: "hashed"}``."""

    id: str  # type: ignore[assignment]  # the delivery key
    cause_id: str
    recipient_id: str
    channel: str
    moment: str
    status: DeliveryStatus
    attempts: int
    at: datetime
    error: str | None = None

    class Settings:
        name = "delivery_outcomes"


class Notification(Document):
    """One entry of a user's in-app feed. ``_id`` is its delivery key (written once).
    Intended shard key: ``{user_id}``."""

    id: str  # type: ignore[assignment]
    user_id: str
    moment: str
    title: str
    body: str
    link: str | None = None
    issue_id: str | None = None
    created_at: datetime
    read_at: datetime | None = None

    class Settings:
        name = "notifications"
        indexes: ClassVar = [
            IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
            IndexModel([("user_id", ASCENDING), ("read_at", ASCENDING)]),
        ]


DOCUMENTS: list[type[Document]] = [Contact, IssueView, Preference, Watch, DigestItem, Delivery, Outcome, Notification]
