"""Analytics against ground truth: a generated history published to issues.events.v1 on the
real stack, the service restarted halfway, duplicates published, then a full replay into an
empty database; every number compared with plain counting (``tests.analytics_history``)."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from snapfix_analytics.schemas import Heatmap, Summary, TimeSeries
from snapfix_analytics.sketches import RELATIVE_ACCURACY
from snapfix_shared.messages.analytics import ISSUE_STATS, IssueWindowStats
from snapfix_shared.topics import Topic
from tests.analytics_history import Expected, exact_quantile, expected, make_history
from tests.integration.analytics_app import (
    Analytics,
    analytics_settings,
    caught_up,
    end_offsets,
    publish_events,
    running_analytics,
    start_group_at,
)
from tests.stack import Stack, read_topic

pytestmark = pytest.mark.integration
# Lateness plays no part here (tests/integration/test_analytics_late.py): other suites publish
# events stamped "now" into the same partitions, which must not make this history late.
NO_LATENESS = 10 * 365 * 86400


def _params(category: str, day: datetime, **extra: Any) -> dict[str, Any]:
    return {"category": category, "from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat(), **extra}


async def _summary(analytics: Analytics, category: str, day: datetime, **extra: Any) -> dict[str, Any]:
    response = await analytics.http.get("/v1/analytics/summary", params=_params(category, day, **extra))
    assert response.status_code == 200, response.text
    Summary.model_validate_json(response.content)  # the body its OpenAPI document names (schemas.py)
    return response.json()  # type: ignore[no-any-return]


def _check_summary(body: dict[str, Any], truth: Expected, category: str, area: str = "") -> None:
    want = truth.total(category, area)
    for measure in ("reported", "acknowledged", "in_progress", "resolved", "reopened", "rejected", "sla_breached"):
        assert body["counts"][measure] == want[measure], (category, area, measure, body["counts"], want)
    for which, field in (("tta", "time_to_acknowledge"), ("ttr", "time_to_resolve")):
        values = truth.durations(which, category, area)
        got = body[field]
        assert got["count"] == len(values), (which, got, len(values))
        if not values:
            continue
        for q, name in ((0.5, "p50_s"), (0.9, "p90_s"), (0.99, "p99_s")):
            exact = exact_quantile(values, q)
            assert abs(got[name] - exact) <= RELATIVE_ACCURACY * exact + 0.01, (which, name, got[name], exact)
    backlog = sum(n for (gh, cat), n in truth.backlog.items() if cat == category and gh.startswith(area))
    assert body["open_backlog"] == backlog


async def test_counts_match_ground_truth_across_a_restart_duplicates_and_a_full_replay(stack: Stack) -> None:
    run = uuid4().hex[:6]
    categories = [f"gt{run}{c}" for c in "abc"]
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    history = make_history(20261125, issues=60, categories=categories, day=day)
    truth = expected(history.events)
    half = len(history.events) // 2
    duplicates = random.Random(7).sample(history.events[:half], 25)  # the same message ids again

    settings = analytics_settings(stack, lateness_s=NO_LATENESS)
    start = await end_offsets(stack)
    await start_group_at(stack, settings.consumer_group, start)
    await publish_events(stack, history.events[:half])
    async with running_analytics(settings) as first:
        await caught_up(stack, first)
    # Restarted halfway: the second instance resumes from the first one's commits and state.
    await publish_events(stack, [*history.events[half:], *duplicates])
    async with running_analytics(settings) as restarted:
        await caught_up(stack, restarted)
        answers = {}
        for category in categories:
            answers[category] = await _summary(restarted, category, day)
            _check_summary(answers[category], truth, category)
            for area in {gh for (gh, cat) in truth.counts if cat == category}:
                _check_summary(await _summary(restarted, category, day, area=area), truth, category, area)
        await _check_timeseries(restarted, truth, categories[0], day)
        await _check_csv(restarted, truth, categories[1], day)
        await _check_heatmap(restarted, truth, categories[2], day)

    # A full replay: a new database and a new consumer group read the topic from the start.
    replay_settings = analytics_settings(stack, lateness_s=NO_LATENESS)
    await start_group_at(stack, replay_settings.consumer_group, start)
    async with running_analytics(replay_settings) as replay:
        await caught_up(stack, replay)
        for category in categories:
            again = await _summary(replay, category, day)
            assert again == answers[category]

    await _check_stats_stream(stack, truth, categories)


async def _check_timeseries(analytics: Analytics, truth: Expected, category: str, day: datetime) -> None:
    params = _params(category, day, window="1h", measure="reported")
    response = await analytics.http.get("/v1/analytics/timeseries", params=params)
    assert response.status_code == 200, response.text
    TimeSeries.model_validate_json(response.content)
    got = {datetime.fromisoformat(p["start"]): p["value"] for p in response.json()["points"]}
    want: dict[datetime, int] = {}
    for (hour, _gh, cat), counts in truth.hourly.items():
        if cat == category and counts["reported"]:
            want[hour] = want.get(hour, 0) + counts["reported"]
    assert {k: v for k, v in got.items() if v} == want


async def _check_csv(analytics: Analytics, truth: Expected, category: str, day: datetime) -> None:
    response = await analytics.http.get("/v1/analytics/export.csv", params=_params(category, day, window="1h"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == sum(1 for (_h, _gh, cat) in truth.hourly if cat == category)
    assert sum(int(r["resolved"]) for r in rows) == truth.total(category)["resolved"]


async def _check_heatmap(analytics: Analytics, truth: Expected, category: str, day: datetime) -> None:
    bbox = "13.2,52.3,13.6,52.7"  # around Berlin, one of the generated centres
    response = await analytics.http.get("/v1/analytics/heatmap", params=_params(category, day, bbox=bbox))
    assert response.status_code == 200, response.text
    Heatmap.model_validate_json(response.content)
    cells = response.json()["cells"]
    assert cells, "no cell in the box"
    want = {gh: c["reported"] for (gh, cat), c in truth.counts.items() if cat == category and gh.startswith("u33")}
    assert {c["geohash"]: c["value"] for c in cells} == want


async def _check_stats_stream(stack: Stack, truth: Expected, categories: list[str]) -> None:
    """The compacted stream's latest value per 1h key equals the ground truth of that window."""
    ours = set(categories)
    records = await read_topic(
        stack.kafka,
        Topic.ANALYTICS_ISSUE_STATS,
        lambda r: r.key is not None and r.key.decode().startswith("1h|") and r.key.decode().rsplit("|", 1)[1] in ours,
        count=10**9,
        timeout_s=8,
    )
    latest: dict[str, IssueWindowStats] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        message = ISSUE_STATS.validate_json(record.value)
        assert isinstance(message, IssueWindowStats)
        latest[record.key.decode()] = message  # later offsets of a key win, as compaction keeps them
    want = {
        f"1h|{hour:%Y-%m-%dT%H:%MZ}|{gh}|{cat}": counts
        for (hour, gh, cat), counts in truth.hourly.items()
        if cat in ours
    }
    assert set(latest) == set(want)
    for key, message in latest.items():
        assert {k: v for k, v in message.counts.items() if v} == {k: v for k, v in want[key].items() if v}, key
