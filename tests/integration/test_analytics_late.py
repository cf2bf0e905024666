"""Late events on the real stack: within the allowed lateness they update their window, which is
published again; beyond it they are counted in the late counter of that window size, not lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pygeohash
import pytest
from pydantic import TypeAdapter

from snapfix_analytics.schemas import LateCounts, Summary, TimeSeries
from snapfix_shared.messages import IssueReported, Location
from snapfix_shared.messages.analytics import ISSUE_STATS, IssueWindowStats
from snapfix_shared.topics import Topic
from tests.integration.analytics_app import (
    analytics_settings,
    caught_up,
    end_offsets,
    publish_events,
    running_analytics,
    start_group_at,
)
from tests.stack import Stack, read_topic

pytestmark = pytest.mark.integration
WHERE = Location(lat=52.52, lon=13.405)


def _report(category: str, at: datetime) -> IssueReported:
    return IssueReported(
        correlation_id="late-test",
        issue_id=uuid4(),
        title="Broken light",
        category=category,
        location=WHERE,
        reported_at=at,
    )


async def test_late_events_update_open_windows_and_are_counted_apart_once_windows_closed(stack: Stack) -> None:
    category = f"late{uuid4().hex[:8]}"
    area = pygeohash.encode(WHERE.lat, WHERE.lon, 5)
    base = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    first, newest = (
        _report(category, base + timedelta(minutes=30, seconds=10)),
        _report(category, base + timedelta(minutes=40)),
    )
    within = _report(category, base + timedelta(minutes=30, seconds=20))  # same minute as `first`, 10 min behind
    beyond = _report(category, base + timedelta(minutes=5))  # its minute closed at 10:06 < watermark 10:30

    settings = analytics_settings(stack, lateness_s=600)
    await start_group_at(stack, settings.consumer_group, await end_offsets(stack))
    async with running_analytics(settings) as analytics:
        # One partition, so one clock: the watermark becomes newest - 10 min = base + 30 min.
        await publish_events(stack, [first, newest], partition=0)
        await caught_up(stack, analytics)
        await publish_events(stack, [within, beyond, within], partition=0)  # `within` twice: counted once
        await caught_up(stack, analytics)

        span = {"category": category, "from": base.isoformat(), "to": (base + timedelta(hours=1)).isoformat()}
        minutes = await analytics.http.get("/v1/analytics/timeseries", params={**span, "window": "1m"})
        assert minutes.status_code == 200, minutes.text
        TimeSeries.model_validate_json(minutes.content)  # the bodies its OpenAPI document names (schemas.py)
        assert {p["start"]: p["value"] for p in minutes.json()["points"]} == {
            (base + timedelta(minutes=30)).isoformat(): 2,
            (base + timedelta(minutes=40)).isoformat(): 1,
        }
        hours = await analytics.http.get("/v1/analytics/timeseries", params={**span, "window": "1h"})
        assert [p["value"] for p in hours.json()["points"]] == [4]  # the hour was still open for all four

        late_answer = await analytics.http.get("/v1/analytics/late", params={"category": category})
        TypeAdapter(list[LateCounts]).validate_json(late_answer.content)
        late = late_answer.json()
        assert late == [{"window": "1m", "geohash5": area, "category": category, "counts": {"reported": 1}}]
        summary_answer = await analytics.http.get("/v1/analytics/summary", params=span)
        Summary.model_validate_json(summary_answer.content)
        summary = summary_answer.json()
        assert summary["late"] == {"1m": {"reported": 1}, "1h": {}, "1d": {}}
        assert summary["counts"]["reported"] == 4

    key = f"1m|{base + timedelta(minutes=30):%Y-%m-%dT%H:%MZ}|{area}|{category}"
    records = await read_topic(stack.kafka, Topic.ANALYTICS_ISSUE_STATS, lambda r: r.key == key.encode(), count=2)
    emitted = [ISSUE_STATS.validate_json(r.value) for r in sorted(records, key=lambda r: r.offset)]
    assert all(isinstance(m, IssueWindowStats) for m in emitted)
    # emitted with the first event, and again when the late one within the lateness landed in it
    assert [(m.revision, m.counts["reported"]) for m in emitted] == [(1, 1), (2, 2)]  # type: ignore[union-attr]
