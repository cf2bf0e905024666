"""Contracts of the analyst streams: ``analytics.issue-stats.v1`` and ``analytics.issues-public.v1``.

- ``analytics.issue-stats.v1`` is compacted: the key names a window and its dimensions
  (``1h|2026-11-25T10:00Z|u33db|pothole``) or a backlog gauge (``backlog|u33db|pothole``),
  and the latest value per key is the current aggregate. ``revision`` grows with every
  change of a key, so a reader can drop an older value that arrives late.
- ``analytics.issues-public.v1`` carries one anonymized event per issue event: no user
  ids, no names, no free text, no media ids, the location as a geohash of precision 6,
  the issue as a keyed pseudonym (an HMAC of its id), timestamps, category and status kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from snapfix_shared.messages.base import Message
from snapfix_shared.messages.issues import CategoryCode, DepartmentCode, Priority, Status

WindowSize = Literal["1m", "1h", "1d"]
# A geohash of precision 5 (about 4.9 km x 4.9 km), or "-" when the area is unknown.
Area5 = Annotated[str, Field(pattern=r"^([0-9b-hjkmnp-z]{5}|-)$")]
Area6 = Annotated[str, Field(pattern=r"^[0-9b-hjkmnp-z]{6}$")]
Pseudonym = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class Distribution(BaseModel):
    """A duration distribution (seconds) read from a DDSketch (relative accuracy 1%)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(ge=0)
    mean_s: float | None = None
    p50_s: float | None = None
    p90_s: float | None = None
    p99_s: float | None = None


class StatsMessage(Message):
    """An aggregate: produced by analytics, keyed by what it aggregates."""

    ce_type_prefix = "dev.snapfix.analytics"
    correlation_id: str = Field(default="analytics", min_length=1, max_length=128)
    revision: int = Field(ge=1, description="Grows with every change of this key")

    def partition_key(self) -> str:
        raise NotImplementedError


class IssueWindowStats(StatsMessage):
    """One tumbling window (event time) of one area (geohash 5) and category."""

    type: Literal["IssueWindowStats"] = "IssueWindowStats"
    window: WindowSize
    window_start: AwareDatetime
    window_end: AwareDatetime
    geohash5: Area5
    category: CategoryCode
    counts: dict[str, int] = Field(
        description=(
            "reported, and one count per status an issue moved to (acknowledged, resolved, reopened, "
            "rejected, ...); sla_breached: resolutions after the issue's due time"
        )
    )
    time_to_acknowledge: Distribution
    time_to_resolve: Distribution

    def partition_key(self) -> str:
        return window_key(self.window, self.window_start, self.geohash5, self.category)


class OpenBacklog(StatsMessage):
    """The open backlog of an area and category now: a running gauge, not windowed."""

    type: Literal["OpenBacklog"] = "OpenBacklog"
    geohash5: Area5
    category: CategoryCode
    open: int = Field(description="Issues reported and not yet resolved, closed, rejected, duplicate or withdrawn")

    def partition_key(self) -> str:
        return f"backlog|{self.geohash5}|{self.category}"


PublicKind = Literal["reported", "status_changed", "commented", "voted", "followed", "assigned", "edited"]


class PublicIssueEvent(Message):
    """An issue event with everything personal taken out, for analysts.

    ``issue`` is HMAC-SHA256(secret, issue id), truncated: stable, so an issue's lifecycle
    can be followed, but not reversible and not joinable with the public issue page (which
    shows the reporter's name, words and photos). ``actor_id`` and ``causation_id`` stay
    empty; ``correlation_id`` is this message's own id.
    """

    ce_type_prefix = "dev.snapfix.analytics"
    type: Literal["PublicIssueEvent"] = "PublicIssueEvent"
    kind: PublicKind
    issue: Pseudonym
    event_time: AwareDatetime = Field(description="When it happened (reported_at, changed_at, commented_at, ...)")
    category: CategoryCode | None = None
    geohash6: Area6 | None = Field(default=None, description="The issue's location, coarsened (about 1.2 km x 0.6 km)")
    status: Status | None = Field(default=None, description="The issue's status after this event")
    from_status: Status | None = None
    reported_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    department: DepartmentCode | None = None
    priority: Priority | None = None
    photos: int | None = Field(default=None, ge=0, description="How many photos the report has (not which)")
    votes: int | None = Field(default=None, ge=0)
    vote: bool | None = None
    follow: bool | None = None

    def partition_key(self) -> str:
        return self.issue


IssueStats = Annotated[IssueWindowStats | OpenBacklog, Field(discriminator="type")]
ISSUE_STATS: TypeAdapter[IssueStats] = TypeAdapter(IssueStats)
PUBLIC_ISSUE_EVENTS: TypeAdapter[PublicIssueEvent] = TypeAdapter(PublicIssueEvent)


def window_key(window: str, start: datetime, geohash5: str, category: str) -> str:
    """The Kafka key (and storage id) of a window: size, start (UTC, to the minute), area, category."""
    return f"{window}|{start.astimezone(UTC):%Y-%m-%dT%H:%MZ}|{geohash5}|{category}"
