"""The staff queue's sorts in the real Redis and the real store: every page walk sees each issue
once, in the sort's order, and the read model and the store's fallback agree page for page.

Reports are made with creation times spread over ten days (so some are overdue) and with
different priorities; the order each sort must give is computed here from the items' own fields.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from snapfix_issues.api import get_readmodel
from snapfix_issues.domain import PRIORITY_ORDER
from snapfix_issues.readmodel import BUILT, PREFIX
from snapfix_shared.messages import AssignIssue, Location
from snapfix_shared.messages.base import utcnow
from snapfix_shared.topics import Topic
from tests.builders import as_viewer, make_command, make_report_command, staff_of
from tests.integration.issues_app import Issues, events_of, running_issues
from tests.stack import Stack, produce_command, read_topic

pytestmark = pytest.mark.integration

ROADS = as_viewer("roads-staff", "staff", "roads")
SORTS = ("priority", "due", "newest", "oldest")
FAR = 2**53


@pytest.fixture(scope="module")
async def issues(stack: Stack) -> AsyncIterator[Issues]:
    async with running_issues(stack) as running:
        yield running


@pytest.fixture(scope="module")
async def reported(stack: Stack, issues: Issues) -> set[str]:  # noqa: ARG001 - issues applies the commands produced here
    """18 roads reports, created over the last ten days, a third of them given another priority."""
    now = utcnow()
    commands = [
        make_report_command(
            actor_id=f"citizen-{uuid4().hex[:8]}",
            category=random.choice(["pothole", "sidewalk"]),
            occurred_at=now - timedelta(hours=random.uniform(0, 240)),
            location=Location(lat=random.uniform(-50, 50), lon=random.uniform(-170, 170)),
        )
        for _ in range(18)
    ]
    # Two reports at the very same moment: ties are broken by id.
    commands[1] = commands[1].model_copy(update={"occurred_at": commands[0].occurred_at})
    for command in commands:
        await produce_command(stack, command)
    wanted = {str(c.issue_id).encode() for c in commands}
    found = await read_topic(stack.kafka, Topic.ISSUES_EVENTS, lambda r: r.key in wanted, count=len(wanted))
    assert {r.key for r in found} == wanted
    for command, priority in zip(commands[::3], ["urgent", "high", "low", "urgent", "high", "low"], strict=True):
        assign = make_command(AssignIssue, issue_id=command.issue_id, priority=priority, **staff_of("roads"))
        await produce_command(stack, assign)
    for command in commands[::3]:
        await events_of(stack, command.issue_id, "IssueAssigned")
    return {str(c.issue_id) for c in commands}


def _ms(value: str | None) -> int:
    return FAR if value is None else int(datetime.fromisoformat(value).timestamp() * 1000)


def expected_key(sort: str, item: dict[str, Any]) -> tuple[Any, ...]:
    due, created = _ms(item["due_at"]), _ms(item["created_at"])
    match sort:
        case "priority":
            return (PRIORITY_ORDER.index(item["priority"]), due, item["id"])
        case "due":
            return (due, item["id"])
        case "newest":
            return (-created, _Reversed(item["id"]))
    return (created, item["id"])


class _Reversed(str):
    """Ids compare backwards (``newest`` breaks ties by id, descending)."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)

    def __gt__(self, other: str) -> bool:
        return str.__lt__(self, other)


@contextmanager
def from_the_store(issues: Issues) -> Iterator[None]:
    """Lists answered by the store's fallback queries, as while the read model is rebuilt."""

    async def no_model() -> None:
        return None

    issues.app.dependency_overrides[get_readmodel] = no_model
    try:
        yield
    finally:
        issues.app.dependency_overrides.pop(get_readmodel, None)


async def walk(issues: Issues, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params = {"limit": 4, **params}
    for _ in range(1000):
        answer = await issues.http.get("/v1/staff/queue", params=params, headers=ROADS)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["items"]) <= params["limit"]
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]
    pytest.fail("the cursor never ended")


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize(
    "filters",
    [{}, {"overdue": "true"}, {"overdue": "false"}, {"priority": "urgent"}, {"status": "open,acknowledged"}],
    ids=["all", "overdue", "not-overdue", "urgent", "statuses"],
)
async def test_every_page_walk_sees_each_issue_once_in_order(
    issues: Issues, reported: set[str], sort: str, filters: dict[str, str]
) -> None:
    params = {"sort": sort, **filters}
    items = await walk(issues, params)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), "an issue was seen twice"
    assert [expected_key(sort, i) for i in items] == sorted(expected_key(sort, i) for i in items)
    if "overdue" in filters:
        assert {i["overdue"] for i in items} <= {filters["overdue"] == "true"}
    if "priority" in filters:
        assert {i["priority"] for i in items} <= {filters["priority"]}
    mine = [i for i in items if i["id"] in reported]
    if not filters or "status" in filters:
        assert {i["id"] for i in mine} == reported  # none was left out
    assert mine, "no report of this test in the queue"
    # The store's fallback (bounded, in memory) gives the same walk.
    with from_the_store(issues):
        assert [i["id"] for i in await walk(issues, params)] == ids


async def test_the_sorts_differ_and_some_reports_are_overdue(issues: Issues, reported: set[str]) -> None:
    walks = {sort: [i["id"] for i in await walk(issues, {"sort": sort}) if i["id"] in reported] for sort in SORTS}
    assert walks["newest"] == walks["oldest"][::-1]
    assert walks["priority"] != walks["due"]  # urgent ones came first
    overdue = await walk(issues, {"sort": "due", "overdue": "true"})
    assert any(i["id"] in reported for i in overdue)


@pytest.mark.usefixtures("reported")
async def test_a_cursor_of_another_sort_is_refused(issues: Issues) -> None:
    first = await issues.http.get("/v1/staff/queue", params={"sort": "due", "limit": 1}, headers=ROADS)
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    for sort in ("priority", "newest"):
        answer = await issues.http.get("/v1/staff/queue", params={"sort": sort, "cursor": cursor}, headers=ROADS)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "cursor"
    bad = await issues.http.get("/v1/staff/queue", params={"sort": "sideways"}, headers=ROADS)
    assert bad.status_code == 422


async def test_a_model_built_before_the_creation_sets_is_filled_in(
    stack: Stack, issues: Issues, reported: set[str]
) -> None:
    """A read model of the older layout (rows, no ``queue-created`` sets, the old ``built`` mark)
    is rebuilt over the rows it keeps: the sets are filled in from them."""
    redis = Redis.from_url(stack.redis_url, socket_timeout=5)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{PREFIX}queue-created:*", count=1000)]
        assert keys
        await redis.delete(*keys, BUILT)
        issues.app.state.readmodel.forget_ready()
        for _ in range(300):  # the keeper (checking every second here) rebuilds it
            if await redis.exists(BUILT):
                break
            await asyncio.sleep(0.1)
        assert await redis.exists(BUILT), "the read model was not rebuilt"
        assert await redis.exists(*keys) == len(keys)
    finally:
        await redis.aclose()
    newest = [i["id"] for i in await walk(issues, {"sort": "newest"})]
    assert reported <= set(newest)
