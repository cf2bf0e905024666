"""Window assignment, the per-partition watermark, sketch merging and what an event counts as."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from snapfix_analytics import sketches
from snapfix_analytics.effects import IssueState, effects
from snapfix_analytics.windows import PartitionClock, window_end, window_start
from snapfix_shared.messages import IssueReported, IssueStatusChanged, Location

pytestmark = pytest.mark.unit
SECRET = b"x" * 32
LATENESS = timedelta(minutes=10)
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "size", "start"),
    [
        (datetime(2026, 11, 25, 10, 17, 59, 999999, tzinfo=UTC), "1m", datetime(2026, 11, 25, 10, 17, tzinfo=UTC)),
        (datetime(2026, 11, 25, 10, 17, 0, tzinfo=UTC), "1m", datetime(2026, 11, 25, 10, 17, tzinfo=UTC)),
        (datetime(2026, 11, 25, 10, 59, 59, tzinfo=UTC), "1h", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        (datetime(2026, 11, 25, 23, 59, 59, tzinfo=UTC), "1d", datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
        # another zone is the same instant: windows are UTC
        (datetime.fromisoformat("2026-11-26T00:30:00+02:00"), "1d", datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
    ],
)
def test_an_instant_falls_in_the_window_that_starts_at_or_before_it(at: datetime, size: str, start: datetime) -> None:
    assert window_start(at, size) == start  # type: ignore[arg-type]
    assert window_end(at, size) > at  # type: ignore[arg-type]


def test_the_watermark_trails_the_newest_event_time_of_its_partition() -> None:
    clock = PartitionClock()
    assert not clock.is_late(T0 - timedelta(days=300), "1m", LATENESS)  # nothing seen yet: nothing is late
    clock.observe(T0 + timedelta(minutes=30))
    clock.observe(T0 + timedelta(minutes=5))  # an older event never moves the clock back
    assert clock.watermark(LATENESS) == T0 + timedelta(minutes=20)
    # the 1m window [10:19, 10:20) ended at the watermark: closed; [10:20, 10:21) is still open
    assert clock.is_late(T0 + timedelta(minutes=19, seconds=30), "1m", LATENESS)
    assert not clock.is_late(T0 + timedelta(minutes=20), "1m", LATENESS)
    # the same old event is late for its minute but on time for its hour and day
    assert clock.is_late(T0 + timedelta(minutes=5), "1m", LATENESS)
    assert not clock.is_late(T0 + timedelta(minutes=5), "1h", LATENESS)
    assert not clock.is_late(T0 + timedelta(minutes=5), "1d", LATENESS)


def _counters(values: list[float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values:
        for name, inc in sketches.increments(value).items():
            out[name] = out.get(name, 0) + inc
    return out


def test_sketches_merged_from_stored_counters_answer_like_one_sketch_of_everything() -> None:
    rng = random.Random(3)
    parts = [[rng.expovariate(1 / 3600) for _ in range(n)] for n in (500, 1, 300, 0, 1200)]
    merged = sketches.merged(_counters(p) for p in parts)
    everything = sorted(v for p in parts for v in p)
    assert merged.count == len(everything)
    for q in (0.5, 0.9, 0.99):
        exact = everything[int(q * (len(everything) - 1))]
        assert abs(merged.get_quantile_value(q) - exact) <= sketches.RELATIVE_ACCURACY * exact
    summary = sketches.distribution(merged)
    assert summary.mean_s == pytest.approx(sum(everything) / len(everything), rel=1e-6)


def test_an_empty_sketch_has_no_percentiles_and_zero_durations_count() -> None:
    assert sketches.distribution(sketches.from_counters(None)).p50_s is None
    zero = sketches.from_counters(_counters([0.0, 0.0, -3.0]))  # clock skew never makes a negative duration
    assert zero.count == 3
    assert zero.get_quantile_value(0.99) == 0


def _reported(at: datetime, due: datetime | None = None) -> IssueReported:
    return IssueReported(
        correlation_id="r",
        issue_id=uuid4(),
        title="Hole",
        category="pothole",
        location=Location(lat=52.52, lon=13.405),
        reported_at=at,
        due_at=due,
    )


def _moved(state: IssueState, frm: str, to: str, at: datetime) -> IssueStatusChanged:
    return IssueStatusChanged(
        correlation_id="r",
        issue_id=state.issue_id,
        from_status=frm,  # type: ignore[arg-type]
        to_status=to,  # type: ignore[arg-type]
        category=state.category,
        changed_at=at,
    )


def test_a_lifecycle_counts_each_move_times_the_first_acknowledgement_and_resolution_and_keeps_the_backlog() -> None:
    clock = PartitionClock()
    report = effects(_reported(T0, due=T0 + timedelta(hours=1)), None, clock, LATENESS, SECRET)
    state = report.state
    assert state is not None
    assert state.geohash5 == "u33dc"
    assert {c.collection for c in report.cells} == {"windows_1m", "windows_1h", "windows_1d", "backlog"}
    steps = [
        ("open", "acknowledged", 600, {"counts.acknowledged", "tta.n"}, 0),
        ("acknowledged", "resolved", 7200, {"counts.resolved", "ttr.n", "counts.sla_breached"}, -1),
        ("resolved", "reopened", 7300, {"counts.reopened"}, +1),
        ("reopened", "acknowledged", 7400, {"counts.acknowledged"}, 0),  # not a first acknowledgement
        ("acknowledged", "resolved", 7500, {"counts.resolved"}, -1),  # not a first resolution
    ]
    for frm, to, after_s, measures, backlog in steps:
        effect = effects(_moved(state, frm, to, T0 + timedelta(seconds=after_s)), state, clock, LATENESS, SECRET)
        hour = next(c for c in effect.cells if c.collection == "windows_1h")
        assert {k for k in hour.inc if k.startswith("counts.") or k.endswith(".n")} == measures
        gauges = [c.inc["open"] for c in effect.cells if c.collection == "backlog"]
        assert gauges == ([backlog] if backlog else [])
        assert effect.state is not None
        state = effect.state
    assert state.acknowledged_at == T0 + timedelta(seconds=600)
    assert state.resolved_at == T0 + timedelta(seconds=7200)


def test_an_event_behind_the_watermark_goes_to_the_late_counter_of_each_closed_window_size() -> None:
    clock = PartitionClock()
    clock.observe(T0 + timedelta(minutes=40))
    effect = effects(_reported(T0 + timedelta(minutes=5)), None, clock, LATENESS, SECRET)
    late = [c for c in effect.cells if c.collection == "late"]
    assert [(c.key, c.inc) for c in late] == [("1m|u33dc|pothole", {"counts.reported": 1})]
    assert {c.collection for c in effect.cells} == {"late", "windows_1h", "windows_1d", "backlog"}
