"""Beanie documents of the issues service (private to it; never on the wire).

Each names its collection, the type of its ``_id`` and its indexes. The fields of what is stored
are written once: where the service has a record of its own (a report, a comment, a refused
report: ``domain.py``; a category: the catalogue's contract) the document declares no fields,
and the repository stores that record and reads it back with plain pymongo (``repository/``).
Votes, follows and photos have no such record: their documents declare their fields here.
Indexes are created one per call at start-up (``snapfix_shared.mongo.init_documents``).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from beanie import Document
from pydantic import Field
from pymongo import IndexModel


class Report(Document):
    """A report: ``domain.IssueRecord`` as ``repository.reports.report_document`` stores it, its ``_id``
    the issue id the gateway handed out (as a string: the store indexes strings).

    Intended shard key: ``{geohash: 1, _id: 1}`` (a prefix of the geohash keeps nearby
    searches on few shards; the id makes the key unique).
    """

    id: str  # type: ignore[assignment]

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
    """A comment: ``domain.CommentRecord`` (its ``issue_id`` a string), ``_id`` the comment id the
    gateway handed out. Intended shard key: ``{issue_id: 1}``."""

    id: str  # type: ignore[assignment]

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
    """A report the consumer refused: ``domain.RejectedReportRecord`` (its errors as ``{field, message}``
    documents: no nested arrays in FerretDB), ``_id`` the issue id as a string. Rare, so small: unsharded."""

    id: str  # type: ignore[assignment]

    class Settings:
        name = "rejected_reports"


class Category(Document):
    """A catalogue entry (Open311 service): the catalogue's ``CategoryBody`` and when an admin last
    wrote it (``updated_at``, absent on seeds), ``_id`` its code. Small: unsharded."""

    id: str  # type: ignore[assignment]

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


# Every collection of the service, in the order the service initialises them.
DOCUMENTS: tuple[type[Document], ...] = (Report, Comment, Vote, Follow, Category, RejectedReport, Photo)
