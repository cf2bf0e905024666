"""The issues read model in the real Redis: written through by the consumer, exact, rebuilt when lost.

Every list is checked against ground truth computed here from the reports' own positions.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from snapfix_issues.readmodel import BUILT, cell_index, cell_score
from snapfix_shared import geo
from snapfix_shared.messages import ChangeIssueStatus, CommentOnIssue, FollowIssue, Location, ReportIssue
from snapfix_shared.topics import Topic
from tests.builders import as_viewer, citizen, make_command, make_report_command, staff_of
from tests.integration.issues_app import Issues, events_of, running_issues, wait_for_issue
from tests.stack import Stack, produce_command, read_topic

pytestmark = pytest.mark.integration

ROADS = as_viewer("roads-staff", "staff", "roads")


@pytest.fixture(scope="module")
async def issues(stack: Stack) -> AsyncIterator[Issues]:
    async with running_issues(stack) as running:
        yield running


@pytest.fixture(scope="module")
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url, socket_timeout=5)
    yield client
    await client.aclose()


async def report_all(stack: Stack, places: list[tuple[float, float]], **overrides: Any) -> list[ReportIssue]:
    """Report at each place and wait until every report is announced (so it is in the read model)."""
    commands = [
        make_report_command(
            **{"actor_id": f"citizen-{uuid4().hex[:8]}", **overrides, "location": Location(lat=lat, lon=lon)}
        )
        for lat, lon in places
    ]
    for command in commands:
        await produce_command(stack, command)
    wanted = {str(c.issue_id).encode() for c in commands}
    found = await read_topic(stack.kafka, Topic.ISSUES_EVENTS, lambda r: r.key in wanted, count=len(wanted))
    assert {r.key for r in found} == wanted
    return commands


async def all_pages(
    issues: Issues, path: str, params: dict[str, Any], headers: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params = dict(params)
    for _ in range(1000):
        answer = await issues.http.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]
    pytest.fail("the cursor never ended")


def around(lat: float, lon: float, spread: float, n: int) -> list[tuple[float, float]]:
    return [(lat + random.uniform(-spread, spread), lon + random.uniform(-spread, spread)) for _ in range(n)]


async def test_the_geo_grid_is_redis_own(redis: Redis) -> None:
    key = f"test:grid:{uuid4().hex}"
    for lat, lon in [(12.97, 77.59), (-33.87, 151.21), (52.52, 13.405), (0.0, -179.99)]:
        await redis.geoadd(key, (lon, lat, "p"))
        x, y = cell_index(26, lat, lon)
        assert int(await redis.zscore(key, "p")) == cell_score(26, x, y)
    await redis.delete(key)


async def test_nearby_pages_are_exact_and_complete(stack: Stack, issues: Issues) -> None:
    lat, lon = random.uniform(-50, 50), random.uniform(-170, 170)
    commands = await report_all(stack, around(lat, lon, 0.02, 60))
    for radius in (500, 1500, 3000):
        truth = sorted(
            (geo.distance_m(lat, lon, c.location.lat, c.location.lon), str(c.issue_id))
            for c in commands
            if geo.distance_m(lat, lon, c.location.lat, c.location.lon) <= radius
        )
        items = await all_pages(issues, "/v1/issues", {"lat": lat, "lon": lon, "radius_m": radius, "limit": 7})
        assert [i["id"] for i in items] == [issue_id for _, issue_id in truth]
        assert [i["distance_m"] for i in items] == [round(d, 1) for d, _ in truth]


async def test_nearby_is_exact_across_a_cell_boundary_and_the_antimeridian(stack: Stack, issues: Issues) -> None:
    # Two reports 22 m apart on either side of the antimeridian (every cell's edge), and two on either
    # side of the equator (another edge of Redis's grid), each pair searched from its middle.
    lat = random.uniform(-60, 60)
    east, west = await report_all(stack, [(lat, 179.9999), (lat, -179.9999)])
    lon = random.uniform(-170, 170)
    north, south = await report_all(stack, [(0.0001, lon), (-0.0001, lon)])
    pairs = {(lat, 180.0): (east, west), (lat, -180.0): (east, west), (0.0, lon): (north, south)}
    for (at_lat, at_lon), pair in pairs.items():
        found = await all_pages(issues, "/v1/issues", {"lat": at_lat, "lon": at_lon, "radius_m": 50})
        assert {str(c.issue_id) for c in pair} <= {i["id"] for i in found}
    box = await all_pages(issues, "/v1/map/issues", {"bbox": f"179.999,{lat - 0.001},-179.999,{lat + 0.001}"})
    assert {str(east.issue_id), str(west.issue_id)} <= {i["id"] for i in box}
    one_side = await all_pages(issues, "/v1/map/issues", {"bbox": f"179.999,{lat - 0.001},180,{lat + 0.001}"})
    assert str(east.issue_id) in {i["id"] for i in one_side}
    assert str(west.issue_id) not in {i["id"] for i in one_side}


async def test_a_viewport_lists_exactly_its_reports_and_cells_count_them(stack: Stack, issues: Issues) -> None:
    lat, lon = random.uniform(-50, 50), random.uniform(-170, 170)
    commands = await report_all(stack, around(lat, lon, 0.05, 40))
    west, south, east, north = lon - 0.03, lat - 0.02, lon + 0.03, lat + 0.02
    inside = {str(c.issue_id) for c in commands if west <= c.location.lon <= east and south <= c.location.lat <= north}
    bbox = f"{west},{south},{east},{north}"
    items = await all_pages(issues, "/v1/map/issues", {"bbox": bbox, "limit": 5})
    assert sorted(i["id"] for i in items) == sorted(inside)
    assert len(items) == len({i["id"] for i in items})  # no duplicates across pages

    # Each cell counts at least our reports inside its bounds, and together they count them all.
    wide = f"{lon - 0.06},{lat - 0.06},{lon + 0.06},{lat + 0.06}"
    cells = (await issues.http.get("/v1/map/cells", params={"bbox": wide, "level": 14})).json()["cells"]
    counted = 0
    for cell in cells:
        w, s, e, n = cell["bbox"]
        ours = sum(1 for c in commands if w <= c.location.lon < e and s <= c.location.lat < n)
        assert cell["count"] >= ours >= 0
        counted += ours
    assert counted == len(commands)
    too_many = await issues.http.get("/v1/map/cells", params={"bbox": "-180,-80,180,80", "level": 12})
    assert too_many.status_code == 422
    assert (await issues.http.get("/v1/map/cells", params={"bbox": "1,2,3", "level": 3})).status_code == 422


async def test_a_change_is_readable_as_soon_as_it_is_announced(stack: Stack, issues: Issues) -> None:
    (command,) = await report_all(stack, [(random.uniform(-50, 50), random.uniform(-170, 170))])
    await wait_for_issue(issues.http, command.issue_id)  # the entry is read once before the change
    change = make_command(ChangeIssueStatus, issue_id=command.issue_id, to="acknowledged", **staff_of("roads"))
    comment = make_command(CommentOnIssue, issue_id=command.issue_id, body="On it", comment_id=uuid4(), **citizen())
    await produce_command(stack, change)
    await produce_command(stack, comment)
    await events_of(stack, command.issue_id, "IssueStatusChanged")
    await events_of(stack, command.issue_id, "IssueCommented")

    detail = (await issues.http.get(f"/v1/issues/{command.issue_id}")).json()
    assert detail["status"] == "acknowledged"
    assert [c["body"] for c in detail["comments"]] == ["On it"]
    near = await issues.http.get(
        "/v1/issues", params={"lat": command.location.lat, "lon": command.location.lon, "radius_m": 10}
    )
    assert [(i["id"], i["status"]) for i in near.json()["items"]] == [(str(command.issue_id), "acknowledged")]
    open_only = await issues.http.get(
        "/v1/issues",
        params={"lat": command.location.lat, "lon": command.location.lon, "radius_m": 10, "status": "open"},
    )
    assert open_only.json()["items"] == []
    queue = await all_pages(issues, "/v1/staff/queue", {"status": "acknowledged", "limit": 100}, headers=ROADS)
    assert str(command.issue_id) in {i["id"] for i in queue}


async def test_after_redis_lost_the_read_model_it_is_rebuilt_from_the_store(
    stack: Stack, issues: Issues, redis: Redis
) -> None:
    lat, lon = random.uniform(-50, 50), random.uniform(-170, 170)
    reporter = citizen()
    commands = await report_all(stack, around(lat, lon, 0.005, 5), **reporter)
    follower = citizen()
    await produce_command(stack, make_command(FollowIssue, issue_id=commands[0].issue_id, follow=True, **follower))
    await events_of(stack, commands[0].issue_id, "IssueFollowed")

    keys = [k async for k in redis.scan_iter(match="issues:*", count=1000)]
    await redis.delete(*keys)  # Redis lost everything of this service's
    assert not await redis.exists(BUILT)

    keeper = issues.app.state.readmodel_keeper
    for _ in range(600):  # the watcher (checking every second here) rebuilds it
        if await redis.exists(BUILT):
            break
        await asyncio.sleep(0.1)
    assert await redis.exists(BUILT), "the read model was not rebuilt"
    assert keeper.rebuilds >= 1

    near = await all_pages(issues, "/v1/issues", {"lat": lat, "lon": lon, "radius_m": 2000})
    assert {str(c.issue_id) for c in commands} <= {i["id"] for i in near}
    mine = await all_pages(
        issues, f"/v1/users/{reporter['actor_id']}/issues", {"limit": 2}, as_viewer(reporter["actor_id"], "citizen")
    )
    assert sorted(i["id"] for i in mine) == sorted(str(c.issue_id) for c in commands)
    followed = await all_pages(
        issues, f"/v1/users/{follower['actor_id']}/following", {}, as_viewer(follower["actor_id"], "citizen")
    )
    assert [f["issue_id"] for f in followed] == [str(commands[0].issue_id)]
    audience = (await issues.http.get(f"/v1/issues/{commands[0].issue_id}/audience", headers=as_viewer())).json()[
        "user_ids"
    ]
    assert audience == [reporter["actor_id"], follower["actor_id"]]
    assert await redis.exists(f"issues:{{{commands[0].issue_id}}}:issue")  # whole issues too
