"""``GET /v1/issues/{id}/viewer``: what the signed-in caller has done about an issue (voted,
follows, reported), apart from the shared detail view; never cached; 401 without a session."""

from __future__ import annotations

import httpx
import pytest

from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

UNKNOWN = "01a214af-7a77-7585-be5b-41d730f90259"


async def test_votes_and_follows_show_for_their_author_alone(system: System) -> None:
    reporter, neighbour, other = await citizen(system), await citizen(system), await citizen(system)
    try:
        body = make_report_body(category="pothole", lat=52.52, lon=13.405, anonymous=True)
        accepted = await reporter.post("/v1/issues", json=body)
        assert accepted.status_code == 202, accepted.text
        path = accepted.headers["location"]
        await eventually(reporter, path, lambda _: True)
        viewer = f"{path}/viewer"

        mine = await reporter.get(viewer)
        assert mine.status_code == 200, mine.text
        assert mine.headers["cache-control"] == "private, no-store"
        assert mine.json() == {"voted": False, "following": False, "is_reporter": True}
        fresh = await neighbour.get(viewer)
        assert fresh.json() == {"voted": False, "following": False, "is_reporter": False}

        assert (await neighbour.post(f"{path}/vote")).status_code == 202
        await eventually(neighbour, viewer, lambda s: s["voted"] and not s["following"])
        assert (await neighbour.put(f"{path}/follow")).status_code == 202
        await eventually(neighbour, viewer, lambda s: s == {"voted": True, "following": True, "is_reporter": False})

        # Someone else's state is theirs: the issue's detail did change, the other citizen's state did not.
        await eventually(other, path, lambda issue: issue["votes"] == 1 and issue["followers"] == 1)
        assert (await other.get(viewer)).json() == {"voted": False, "following": False, "is_reporter": False}
        assert (await reporter.get(viewer)).json() == {"voted": False, "following": False, "is_reporter": True}

        assert (await neighbour.delete(f"{path}/vote")).status_code == 202
        await eventually(neighbour, viewer, lambda s: not s["voted"] and s["following"])
        assert (await neighbour.delete(f"{path}/follow")).status_code == 202
        await eventually(neighbour, viewer, lambda s: s == {"voted": False, "following": False, "is_reporter": False})
    finally:
        for client in (reporter, neighbour, other):
            await client.aclose()


async def test_anonymous_callers_are_refused_and_unknown_issues_are_404(system: System) -> None:
    someone = await citizen(system)
    try:
        unknown = await someone.get(f"/v1/issues/{UNKNOWN}/viewer")
        assert unknown.status_code == 404, unknown.text
        assert unknown.headers["content-type"] == "application/problem+json"
        async with httpx.AsyncClient(base_url=system.gateway, timeout=10) as anonymous:
            refused = await anonymous.get(f"/v1/issues/{UNKNOWN}/viewer")
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    finally:
        await someone.aclose()
