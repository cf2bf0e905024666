"""An issue's detail through the gateway carries an ETag: unchanged it answers 304 with no body,
a change gives a new tag, and viewers who may see different things never share one."""

from __future__ import annotations

import httpx
import pytest

from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually, staff
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e


async def test_an_unchanged_issue_answers_304_and_a_change_a_new_tag(system: System) -> None:
    reporter, neighbour, roads = await citizen(system), await citizen(system), await staff(system, "roads")
    try:
        body = make_report_body(category="pothole", lat=52.52, lon=13.405, anonymous=True)
        accepted = await reporter.post("/v1/issues", json=body)
        assert accepted.status_code == 202, accepted.text
        path = accepted.headers["location"]
        await eventually(reporter, path, lambda _: True)

        first = await reporter.get(path)
        tag = first.headers["etag"]
        assert first.status_code == 200
        assert first.headers["cache-control"] == "private, no-cache"
        again = await reporter.get(path, headers={"if-none-match": tag})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
        assert (await reporter.get(path, headers={"if-none-match": '"stale"'})).status_code == 200

        # The anonymous reporter is hidden from a neighbour, shown to staff: three views, three tags.
        seen = await neighbour.get(path)
        by_staff = await roads.get(path)
        assert seen.json()["reporter_id"] is None
        assert by_staff.json()["reporter_id"] == first.json()["reporter_id"] is not None
        assert len({tag, seen.headers["etag"], by_staff.headers["etag"]}) == 3
        assert (await neighbour.get(path, headers={"if-none-match": tag})).status_code == 200

        step = await roads.post(f"{path}/transitions", json={"to": "acknowledged", "note": "Crew scheduled"})
        assert step.status_code == 202, step.text
        changed = await eventually(reporter, path, lambda issue: issue["status"] == "acknowledged")
        assert changed["history"][0]["note"] == "Crew scheduled"
        after = await reporter.get(path, headers={"if-none-match": tag})
        assert after.status_code == 200
        assert after.headers["etag"] != tag
    finally:
        for client in (reporter, neighbour, roads):
            await client.aclose()


async def test_an_anonymous_visitors_view_is_public_kept_at_the_edge_and_follows_changes(system: System) -> None:
    """Every anonymous visitor sees the same view: the issues service marks it public for a few
    seconds, and the gateway answers repeated anonymous reads from memory (``Age``), 304 for
    the kept tag; signed-in viewers still read through, and a change reaches visitors within the max-age."""
    reporter, roads = await citizen(system), await staff(system, "roads")
    anonymous = httpx.AsyncClient(base_url=system.gateway, timeout=10)
    try:
        accepted = await reporter.post("/v1/issues", json=make_report_body(category="pothole"))
        assert accepted.status_code == 202, accepted.text
        path = accepted.headers["location"]
        await eventually(reporter, path, lambda _: True)

        first = await anonymous.get(path)
        assert first.status_code == 200
        assert first.headers["cache-control"] == "public, max-age=5"
        assert first.headers["vary"] == "Authorization"
        kept = await anonymous.get(path)
        assert kept.headers["etag"] == first.headers["etag"]
        assert kept.content == first.content
        assert int(kept.headers["age"]) <= 5  # answered by the gateway's edge cache
        # ... before the rate-limit middleware, yet counted against the anonymous limit
        assert kept.headers["ratelimit-policy"].startswith('"anonymous";')
        assert kept.headers["ratelimit"].startswith('"anonymous";r=')
        assert kept.headers["x-request-id"] != first.headers["x-request-id"]
        revalidated = await anonymous.get(path, headers={"if-none-match": first.headers["etag"]})
        assert (revalidated.status_code, revalidated.content) == (304, b"")

        mine = await reporter.get(path)
        assert mine.headers["cache-control"] == "private, no-cache"
        assert "age" not in mine.headers

        step = await roads.post(f"{path}/transitions", json={"to": "acknowledged", "note": "Crew scheduled"})
        assert step.status_code == 202, step.text
        await eventually(reporter, path, lambda issue: issue["status"] == "acknowledged")
        seen = await eventually(anonymous, path, lambda issue: issue["status"] == "acknowledged", timeout_s=10)
        assert seen["history"][0]["note"] == "Crew scheduled"
    finally:
        for client in (reporter, roads, anonymous):
            await client.aclose()


async def test_a_conditional_get_of_an_unknown_issue_is_still_404(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.gateway) as anonymous:
        response = await anonymous.get(
            "/v1/issues/01a214af-7a77-7585-be5b-41d730f90259", headers={"if-none-match": '"x"'}
        )
    assert response.status_code == 404
