"""What one issue event does to the aggregates: pure decisions, no Kafka, Mongo or Redis.

Given an event, the issue's projection before it and its partition's clock, ``effects``
returns the counter increments (per window, late counter and backlog gauge), the
projection after it and the anonymized public event. The handler stores the increments
with the event's id before applying them, so a crash halfway never decides twice.

Definitions (the ground-truth tests count the same way):
- counts, per window of the event's time: ``reported`` (IssueReported at ``reported_at``)
  and one count per status an issue moved to (``acknowledged``, ``resolved``, ``reopened``,
  ``rejected``, ...) at ``changed_at``;
- time to acknowledge: reported -> the first move to ``acknowledged`` or ``in_progress``;
  time to resolve: reported -> the first move to ``resolved``; each in the window of that move;
- ``sla_breached``: a first resolution after the issue's ``due_at`` (an issue still open past
  its due time is not a window event: the query API counts those from the projection);
- the open backlog: a running gauge per area and category, +1 when reported or moved back
  to an open status, -1 when moved to a closed one; not windowed and never late.
An event whose window closed (see ``windows``) is counted in that window size's late
counter instead, by area, category and measure; the projection takes it in any case.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import pygeohash

from snapfix_analytics import sketches
from snapfix_analytics.windows import WINDOWS, PartitionClock, window_end, window_start
from snapfix_shared.messages import (
    IssueAssigned,
    IssueCommented,
    IssueEdited,
    IssueEvent,
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
    IssueVoted,
)
from snapfix_shared.messages.analytics import PublicIssueEvent, WindowSize, window_key

OPEN_STATUSES = frozenset({"open", "acknowledged", "in_progress", "reopened"})
ACKNOWLEDGING = frozenset({"acknowledged", "in_progress"})
UNKNOWN_AREA = "-"
Collection = Literal["windows_1m", "windows_1h", "windows_1d", "late", "backlog"]


@dataclass(frozen=True)
class IssueState:
    """What analytics remembers of an issue to place its later events."""

    issue_id: UUID
    category: str
    geohash5: str = UNKNOWN_AREA
    geohash6: str | None = None
    status: str = "open"
    reported_at: datetime | None = None
    due_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    department: str | None = None
    priority: str | None = None
    photos: int = 0
    votes: int = 0


@dataclass(frozen=True)
class CellDelta:
    """Counters to add to one stored cell, and the fields it is created with."""

    collection: Collection
    key: str
    inc: dict[str, float]
    insert: dict[str, Any]


@dataclass
class Effect:
    cells: list[CellDelta] = field(default_factory=list)
    state: IssueState | None = None
    public: PublicIssueEvent | None = None


def window_collection(size: WindowSize) -> Collection:
    """Windows live in one collection per size: each stays smaller (FerretDB scans on update)."""
    return f"windows_{size}"  # type: ignore[return-value]


def event_time(event: IssueEvent) -> datetime:
    match event:
        case IssueReported():
            return event.reported_at
        case IssueStatusChanged():
            return event.changed_at
        case IssueCommented():
            return event.commented_at
    return event.occurred_at


def _status_measures(
    event: IssueStatusChanged, state: IssueState | None, after: IssueState, at: datetime
) -> dict[str, float]:
    """A status change's count, and the time to acknowledge or resolve when this is the first of either."""
    measures: dict[str, float] = {f"counts.{event.to_status}": 1}
    reported = after.reported_at
    if state is None or not reported:
        return measures
    if state.acknowledged_at is None and event.to_status in ACKNOWLEDGING:
        measures.update(_prefixed("tta", sketches.increments((at - reported).total_seconds())))
    if state.resolved_at is None and event.to_status == "resolved":
        measures.update(_prefixed("ttr", sketches.increments((at - reported).total_seconds())))
        if after.due_at is not None and at > after.due_at:
            measures["counts.sla_breached"] = 1
    return measures


def _window_cells(
    measures: dict[str, float], after: IssueState, at: datetime, clock: PartitionClock, lateness: timedelta
) -> list[CellDelta]:
    """The measures added to each window size's cell for ``at``; a window already closed gets the counts as late."""
    cells: list[CellDelta] = []
    for size in WINDOWS:
        if clock.is_late(at, size, lateness):
            late = {k: v for k, v in measures.items() if k.startswith("counts.")}
            dims = {"size": size, "geohash5": after.geohash5, "category": after.category}
            key = f"{size}|{after.geohash5}|{after.category}"
            cells.append(CellDelta("late", key, late, dims))
            continue
        start = window_start(at, size)
        insert = {
            "size": size,
            "start": start,
            "end": window_end(at, size),
            "geohash5": after.geohash5,
            "category": after.category,
        }
        key = window_key(size, start, after.geohash5, after.category)
        cells.append(CellDelta(window_collection(size), key, dict(measures), insert))
    return cells


def effects(
    event: IssueEvent, state: IssueState | None, clock: PartitionClock, lateness: timedelta, secret: bytes
) -> Effect:
    at = event_time(event)
    effect = Effect()
    after = _next_state(event, state)
    effect.state = after
    if after is None:  # an event about an issue analytics never saw reported: nothing to place it by
        return effect
    measures: dict[str, float] = {}
    if isinstance(event, IssueReported):
        measures["counts.reported"] = 1
        effect.cells.append(_backlog(after, +1))
    elif isinstance(event, IssueStatusChanged):
        measures.update(_status_measures(event, state, after, at))
        was_open, is_open = event.from_status in OPEN_STATUSES, event.to_status in OPEN_STATUSES
        if was_open != is_open:
            effect.cells.append(_backlog(after, +1 if is_open else -1))
    if measures:
        effect.cells += _window_cells(measures, after, at, clock, lateness)
    effect.public = public_event(event, after, secret)
    return effect


def _next_state(event: IssueEvent, state: IssueState | None) -> IssueState | None:
    match event:
        case IssueReported():
            cell = pygeohash.encode(event.location.lat, event.location.lon, 6)
            return IssueState(
                issue_id=event.issue_id,
                category=event.category,
                geohash5=cell[:5],
                geohash6=cell,
                reported_at=event.reported_at,
                due_at=event.due_at,
                department=event.department,
                photos=len(event.media_ids),
            )
        case IssueStatusChanged():
            base = state or IssueState(issue_id=event.issue_id, category=event.category)
            changes: dict[str, Any] = {"status": event.to_status, "category": event.category}
            if base.acknowledged_at is None and event.to_status in ACKNOWLEDGING:
                changes["acknowledged_at"] = event.changed_at
            if base.resolved_at is None and event.to_status == "resolved":
                changes["resolved_at"] = event.changed_at
            return replace(base, **changes)
        case IssueAssigned() if state is not None:
            return replace(state, department=event.department or state.department, priority=event.priority)
        case IssueVoted() if state is not None:
            return replace(state, votes=event.votes)
        case IssueEdited() if state is not None:
            return replace(state, photos=len(event.media_ids))
    return state


def _prefixed(prefix: str, counters: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}.{name}": value for name, value in counters.items()}


def _backlog(state: IssueState, delta: int) -> CellDelta:
    dims = {"geohash5": state.geohash5, "category": state.category}
    return CellDelta("backlog", f"backlog|{state.geohash5}|{state.category}", {"open": delta}, dims)


def pseudonym(issue_id: UUID, secret: bytes) -> str:
    """HMAC-SHA256 of the issue id under the service's secret, 128 bits in hex: stable, not reversible."""
    return hmac.new(secret, b"issue:" + issue_id.bytes, hashlib.sha256).hexdigest()[:32]


def public_message_id(message_id: UUID, secret: bytes) -> UUID:
    """The same source event always gives the same public id (a redelivery re-publishes it unchanged)."""
    digest = hmac.new(secret, b"event:" + message_id.bytes, hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=4)


def public_event(event: IssueEvent, state: IssueState, secret: bytes) -> PublicIssueEvent | None:
    """The anonymized form of ``event``: only fields listed here ever leave, nothing is copied wholesale."""
    kind: Any
    extra: dict[str, Any] = {}
    match event:
        case IssueReported():
            kind = "reported"
            extra = {"photos": len(event.media_ids)}
        case IssueStatusChanged():
            kind, extra = "status_changed", {"from_status": event.from_status}
        case IssueCommented() if not event.internal:  # staff-internal notes stay internal, even their existence
            kind = "commented"
        case IssueVoted():
            kind, extra = "voted", {"vote": event.vote, "votes": event.votes}
        case IssueFollowed():
            kind, extra = "followed", {"follow": event.follow}
        case IssueAssigned():
            kind, extra = "assigned", {"priority": event.priority}
        case IssueEdited():
            kind, extra = "edited", {"photos": len(event.media_ids)}
        case _:
            return None
    public_id = public_message_id(event.message_id, secret)
    return PublicIssueEvent(
        message_id=public_id,
        occurred_at=event.occurred_at,
        correlation_id=str(public_id),
        kind=kind,
        issue=pseudonym(event.issue_id, secret),
        event_time=event_time(event),
        category=state.category,
        geohash6=state.geohash6,
        status=state.status,
        reported_at=state.reported_at,
        due_at=state.due_at,
        department=state.department,
        **extra,
    )
