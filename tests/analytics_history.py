"""A seeded, generated history of issue events and its aggregates counted the plain way.

The expected numbers are computed here with dictionaries and sorted lists, independently
of the analytics service's windows, ledger and sketches, by the definitions written in
``snapfix_analytics.effects`` (what counts, in which window, what is late).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pygeohash
from uuid_utils.compat import uuid7

from snapfix_shared.messages import IssueCommented, IssueEvent, IssueReported, IssueStatusChanged, Location

CENTRES = [(52.52, 13.405), (48.8566, 2.3522), (40.4168, -3.7038), (41.9028, 12.4964)]
OPEN_LIKE = {"open", "acknowledged", "in_progress", "reopened"}


def _envelope(at: datetime) -> dict[str, Any]:
    return {"occurred_at": at, "correlation_id": f"req-{uuid4().hex[:12]}", "actor_id": f"user-{uuid4().hex[:8]}"}


@dataclass
class History:
    events: list[IssueEvent]
    categories: list[str]
    day: datetime  # every event lies in [day, day + 1 day)


def make_history(seed: int, *, issues: int, categories: list[str], day: datetime, pace: float = 1.0) -> History:
    """``pace`` < 1 compresses every duration (a busier city: more events per window)."""
    rng = random.Random(seed)
    per_issue: list[list[IssueEvent]] = []
    for _ in range(issues):
        issue_id = UUID(bytes=rng.randbytes(16), version=4)
        lat, lon = rng.choice(CENTRES)
        location = Location(lat=lat + rng.uniform(-0.03, 0.03), lon=lon + rng.uniform(-0.03, 0.03))
        category = rng.choice(categories)
        reported = day + timedelta(hours=6) + timedelta(seconds=rng.uniform(0, 3 * 3600) * pace)
        due = reported + timedelta(hours=2) if rng.random() < 0.7 else None
        events: list[IssueEvent] = [
            IssueReported(
                **_envelope(reported),
                message_id=uuid7(),
                issue_id=issue_id,
                title="Pothole by the school",
                description="Deep and wide",
                category=category,
                location=location,
                reported_at=reported,
                due_at=due,
            )
        ]
        flow = _Flow(events, issue_id, category, reported, rng, pace)
        move = flow.move
        roll = rng.random()
        if roll < 0.1:
            move("rejected", (60, 1800))
        elif roll < 0.85:
            move("acknowledged", (60, 2400))
            if rng.random() < 0.3:
                move("in_progress", (60, 1800))
            if rng.random() < 0.75:
                move("resolved", (300, 3 * 3600))
                if rng.random() < 0.25:
                    move("reopened", (60, 1800))
                    if rng.random() < 0.5:
                        move("resolved", (300, 3600))
        if rng.random() < 0.2:
            events.append(
                IssueCommented(
                    **_envelope(flow.at),
                    issue_id=issue_id,
                    comment_id=uuid4(),
                    body="Still there",
                    commented_at=flow.at + timedelta(seconds=1),
                )
            )
        per_issue.append(events)
    # Published in event-time order; one issue's events keep their order (they share a key).
    ordered = sorted((e for events in per_issue for e in events), key=_time)
    return History(ordered, categories, day)


class _Flow:
    """One issue's lifecycle as it is generated: each move a status change some time later."""

    def __init__(
        self, events: list[IssueEvent], issue_id: UUID, category: str, at: datetime, rng: random.Random, pace: float
    ) -> None:
        self.events, self.issue_id, self.category, self.at, self.rng = events, issue_id, category, at, rng
        self.pace = pace
        self.status = "open"

    def move(self, to: str, after_s: tuple[float, float]) -> None:
        self.at += timedelta(seconds=self.rng.uniform(*after_s) * self.pace)
        self.events.append(
            IssueStatusChanged(
                **_envelope(self.at),
                issue_id=self.issue_id,
                from_status=self.status,  # type: ignore[arg-type]
                to_status=to,  # type: ignore[arg-type]
                category=self.category,
                changed_at=self.at,
            )
        )
        self.status = to


def _time(event: IssueEvent) -> datetime:
    if isinstance(event, IssueReported):
        return event.reported_at
    if isinstance(event, IssueStatusChanged):
        return event.changed_at
    if isinstance(event, IssueCommented):
        return event.commented_at
    return event.occurred_at


@dataclass
class Expected:
    """Totals by (geohash5, category), by (1h window start, geohash5, category), and gauges."""

    counts: dict[tuple[str, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    hourly: dict[tuple[datetime, str, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    tta: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    ttr: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    backlog: Counter[tuple[str, str]] = field(default_factory=Counter)

    def total(self, category: str, area: str = "") -> Counter[str]:
        out: Counter[str] = Counter()
        for (gh, cat), counts in self.counts.items():
            if cat == category and gh.startswith(area):
                out.update(counts)
        return out

    def durations(self, which: str, category: str, area: str = "") -> list[float]:
        source = self.tta if which == "tta" else self.ttr
        return sorted(
            v for (gh, cat), values in source.items() if cat == category and gh.startswith(area) for v in values
        )


def expected(events: list[IssueEvent]) -> Expected:
    out = Expected()
    issues: dict[UUID, dict[str, Any]] = {}
    for event in events:
        if isinstance(event, IssueReported):
            gh = pygeohash.encode(event.location.lat, event.location.lon, 5)
            issues[event.issue_id] = {
                "gh": gh,
                "reported": event.reported_at,
                "due": event.due_at,
                "acked": False,
                "resolved": False,
            }
            key = (gh, event.category)
            out.counts[key]["reported"] += 1
            out.hourly[(_hour(event.reported_at), *key)]["reported"] += 1
            out.backlog[key] += 1
        elif isinstance(event, IssueStatusChanged):
            issue = issues[event.issue_id]
            key = (issue["gh"], event.category)
            hour = (_hour(event.changed_at), *key)
            out.counts[key][event.to_status] += 1
            out.hourly[hour][event.to_status] += 1
            if not issue["acked"] and event.to_status in {"acknowledged", "in_progress"}:
                issue["acked"] = True
                out.tta[key].append((event.changed_at - issue["reported"]).total_seconds())
            if not issue["resolved"] and event.to_status == "resolved":
                issue["resolved"] = True
                out.ttr[key].append((event.changed_at - issue["reported"]).total_seconds())
                if issue["due"] is not None and event.changed_at > issue["due"]:
                    out.counts[key]["sla_breached"] += 1
                    out.hourly[hour]["sla_breached"] += 1
            was, now = event.from_status in OPEN_LIKE, event.to_status in OPEN_LIKE
            if was != now:
                out.backlog[key] += 1 if now else -1
    return out


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def exact_quantile(values: list[float], q: float) -> float:
    """The value DDSketch approximates: the one at rank q * (n - 1), rounded down."""
    return values[int(q * (len(values) - 1))]
