"""Documents of the analytics service (private to it; never on the wire).

Beanie declares them and their indexes; the repository reads and writes them through
PyMongo on the database it is given, so two instances with two databases can share a
process (tests, replays). Every aggregate document carries ``o_<partition>``: the highest
offset of ``issues.events.v1`` applied to it from that partition (see ``repository``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import Document
from pydantic import Field
from pymongo import IndexModel


class WindowCell(Document):  # one collection per size, below
    """One tumbling window of one area and category. ``_id`` is its stream key
    (``1h|2026-11-25T10:00Z|u33db|pothole``); ``counts`` per measure, ``tta``/``ttr`` the
    duration sketches' counters, ``rev`` the number of changes. Shard key: ``{_id: "hashed"}``."""

    id: str  # type: ignore[assignment]
    size: str
    start: datetime
    end: datetime
    geohash5: str
    category: str
    counts: dict[str, int] = Field(default_factory=dict)
    tta: dict[str, float] = Field(default_factory=dict)
    ttr: dict[str, float] = Field(default_factory=dict)
    rev: int = 0


class MinuteWindow(WindowCell):
    class Settings:
        name = "windows_1m"
        indexes: ClassVar = [IndexModel([("start", 1)])]


class HourWindow(WindowCell):
    class Settings:
        name = "windows_1h"
        indexes: ClassVar = [IndexModel([("start", 1)])]


class DayWindow(WindowCell):
    class Settings:
        name = "windows_1d"
        indexes: ClassVar = [IndexModel([("start", 1)])]


class LateCount(Document):
    """Events that arrived after their window of ``size`` had closed, by area and category."""

    id: str  # type: ignore[assignment]
    size: str
    geohash5: str
    category: str
    counts: dict[str, int] = Field(default_factory=dict)
    rev: int = 0

    class Settings:
        name = "late"


class Backlog(Document):
    """The open backlog of an area and category (a running gauge)."""

    id: str  # type: ignore[assignment]
    geohash5: str
    category: str
    open: int = 0
    rev: int = 0

    class Settings:
        name = "backlog"
        indexes: ClassVar = [IndexModel([("geohash5", 1)])]


class IssueProjection(Document):
    """What analytics keeps of each issue (``effects.IssueState``). Shard key: ``{_id: "hashed"}``."""

    id: str  # type: ignore[assignment]  # the issue id as text
    category: str
    geohash5: str
    geohash6: str | None = None
    status: str
    reported_at: datetime | None = None
    due_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None

    class Settings:
        name = "issues"
        indexes: ClassVar = [IndexModel([("status", 1), ("due_at", 1)])]


class AppliedEvent(Document):
    """The ledger: one per issue event taken in, with the partition and offset it first came
    at and the increments decided for it, written before any of them is applied. ``d`` holds
    the decision (cells and the projection after the event) as one JSON string; entries
    written before that form have ``cells``, ``public`` and ``state`` fields instead."""

    id: str  # type: ignore[assignment]  # the message id as text
    p: int
    o: int
    d: str | None = None
    cells: list[dict[str, Any]] | None = None
    public: dict[str, Any] | None = None
    at: datetime

    class Settings:
        name = "applied"


class MessageClaim(Document):
    """A message id taken in, with the partition and offset it first came at; inserted before
    anything is decided, so only ids seen before are looked up in the ledger."""

    id: str  # type: ignore[assignment]  # the message id as text
    p: int
    o: int

    class Settings:
        name = "claims"


class PartitionWatermark(Document):
    """The newest event time seen in one partition of issues.events.v1."""

    id: str  # type: ignore[assignment]
    newest: datetime

    class Settings:
        name = "clocks"


DOCUMENTS: list[type[Document]] = [
    MinuteWindow,
    HourWindow,
    DayWindow,
    LateCount,
    Backlog,
    IssueProjection,
    AppliedEvent,
    MessageClaim,
    PartitionWatermark,
]
