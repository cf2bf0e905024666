"""What the staff console needs from the API, through the gateway on the real stack: canned
responses kept per category (staff see them, the public catalogue stays lean) and the staff
queue's sorts, paged exactly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.e2e.api import citizen, eventually, sign_in, staff
from tests.e2e.conftest import ADMIN, System

pytestmark = pytest.mark.e2e

CANNED = [
    {"id": "scheduled", "title": "Repair scheduled", "body": "A crew will fix it this week.\nThank you."},
    {"id": "done", "title": "Done", "body": "Fixed. Reopen this report if it comes back."},
]
PRIORITY_ORDER = ("urgent", "high", "normal", "low")
FAR = 2**53


def category_body(department: str, *, sla_hours: int = 48, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Test category",
        "department": department,
        "sla_hours": sla_hours,
        "canned_responses": CANNED,
        **overrides,
    }


@pytest.fixture
async def admin(system: System) -> AsyncIterator[httpx.AsyncClient]:
    client = await sign_in(system, *ADMIN)
    yield client
    await client.aclose()


async def test_staff_see_canned_responses_and_the_public_does_not(system: System, admin: httpx.AsyncClient) -> None:
    code, department = f"canned-{uuid4().hex[:8]}", f"dept-{uuid4().hex[:8]}"
    put = await admin.put(f"/v1/categories/{code}", json=category_body(department))
    assert put.status_code == 201, put.text
    assert put.json()["canned_responses"] == CANNED

    crew, resident = await staff(system, department), await citizen(system)
    try:
        async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as anonymous:
            for client, sees in ((crew, True), (admin, True), (resident, False), (anonymous, False)):
                one = await client.get(f"/v1/categories/{code}")
                assert one.status_code == 200, one.text
                assert ("canned_responses" in one.json()) is sees
                assert one.headers["vary"] == "Authorization"
                assert one.headers["cache-control"].startswith("private" if sees else "public")
                listed = await client.get("/v1/categories")
                assert listed.status_code == 200
                mine = next(c for c in listed.json()["items"] if c["code"] == code)
                assert mine.get("canned_responses") == (CANNED if sees else None)
                assert listed.headers["vary"] == "Authorization"
            # The seeded catalogue ships canned responses too (unless an admin replaced a category).
            seeded = (await crew.get("/v1/categories")).json()["items"]
            assert any(c["canned_responses"] for c in seeded if c["code"] != code)
            # Staff ETags differ from public ones: a conditional GET never crosses the two.
            public_etag = (await anonymous.get(f"/v1/categories/{code}")).headers["etag"]
            again = await crew.get(f"/v1/categories/{code}", headers={"if-none-match": public_etag})
            assert again.status_code == 200
            assert again.json()["canned_responses"] == CANNED
    finally:
        await crew.aclose()
        await resident.aclose()


@pytest.mark.parametrize(
    ("canned", "field"),
    [
        ([{"id": f"r{n}", "title": "T", "body": "B"} for n in range(21)], "canned_responses"),
        ([{"id": "a", "title": "x" * 81, "body": "B"}], "canned_responses.0.title"),
        ([{"id": "a", "title": "T", "body": "x" * 2001}], "canned_responses.0.body"),
        ([{"id": "a", "title": "T", "body": "bell \x07 here"}], "canned_responses.0.body"),
        ([{"id": "a", "title": "nul\x00", "body": "B"}], "canned_responses.0.title"),
        ([{"id": "Not A Slug", "title": "T", "body": "B"}], "canned_responses.0.id"),
        ([{"id": "a", "title": "T", "body": ""}], "canned_responses.0.body"),
        ([{"id": "a", "title": "T", "body": "B", "extra": 1}], "canned_responses.0.extra"),
        ([{"id": "a", "title": "T", "body": "B"}, {"id": "a", "title": "U", "body": "C"}], None),
    ],
    ids=["21-items", "long-title", "long-body", "control-body", "nul-title", "bad-id", "empty-body", "extra", "dup"],
)
async def test_bad_canned_responses_are_refused_with_a_problem(
    admin: httpx.AsyncClient, canned: list[dict[str, Any]], field: str | None
) -> None:
    code = f"bad-{uuid4().hex[:8]}"
    answer = await admin.put(f"/v1/categories/{code}", json=category_body("roads", canned_responses=canned))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 422
    if field is not None:
        assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert (await admin.get(f"/v1/categories/{code}")).status_code == 404


async def test_only_admins_write_canned_responses(system: System) -> None:
    crew = await staff(system, "roads")
    try:
        answer = await crew.put(f"/v1/categories/x-{uuid4().hex[:6]}", json=category_body("roads"))
        assert answer.status_code == 403
    finally:
        await crew.aclose()


def has_priority(priority: str) -> Callable[[dict[str, Any]], bool]:
    return lambda issue: issue["priority"] == priority


def _ms(value: str | None) -> int:
    return FAR if value is None else int(datetime.fromisoformat(value).timestamp() * 1000)


def expected_key(sort: str, item: dict[str, Any]) -> tuple[Any, ...]:
    due, created = _ms(item["due_at"]), _ms(item["created_at"])
    if sort == "priority":
        return (PRIORITY_ORDER.index(item["priority"]), due, item["id"])
    if sort == "due":
        return (due, item["id"])
    return (created, item["id"])


async def walk(client: httpx.AsyncClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params = {"limit": 2, **params}
    for _ in range(200):
        answer = await client.get("/v1/staff/queue", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]
    pytest.fail("the cursor never ended")


async def test_the_staff_queue_sorts_and_pages_exactly(system: System, admin: httpx.AsyncClient) -> None:
    # A department of this test alone, with two categories of different SLAs: the queue holds only these.
    department = f"queue-{uuid4().hex[:8]}"
    slow, fast = f"slow-{uuid4().hex[:6]}", f"fast-{uuid4().hex[:6]}"
    for code, hours in ((slow, 240), (fast, 2)):
        assert (await admin.put(f"/v1/categories/{code}", json=category_body(department, sla_hours=hours))).is_success
    crew, reporter = await staff(system, department), await citizen(system)
    try:
        ids: list[str] = []
        for n in range(7):
            body = {"title": f"Queue test {n}", "category": slow if n % 2 else fast, "lat": 12.97, "lon": 77.59}
            for _ in range(100):  # the gateway's copy of the catalogue learns the new codes moments later
                answer = await reporter.post("/v1/issues", json=body)
                if answer.status_code != 422:
                    break
                await asyncio.sleep(0.1)
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])
        for issue_id in ids:  # a lifecycle command needs the stored issue; the report is applied moments after its 202
            await eventually(crew, f"/v1/issues/{issue_id}", lambda _: True)
        for issue_id, priority in zip(ids[::3], ("urgent", "low", "high"), strict=True):
            assigned = await crew.post(f"/v1/issues/{issue_id}/assignment", json={"priority": priority})
            assert assigned.status_code == 202, assigned.text
        for issue_id, priority in zip(ids[::3], ("urgent", "low", "high"), strict=True):
            await eventually(crew, f"/v1/issues/{issue_id}", has_priority(priority))

        walks: dict[str, list[str]] = {}
        for sort in ("priority", "due", "newest", "oldest"):
            items = await walk(crew, {"sort": sort})
            seen = [i["id"] for i in items]
            assert sorted(seen) == sorted(ids), f"{sort}: every issue exactly once"
            keys = [expected_key(sort, i) for i in items]
            assert keys == sorted(keys, reverse=sort == "newest"), sort  # newest: ties by id, descending
            walks[sort] = seen
        assert walks["priority"][0] == ids[0]  # the urgent one
        assert walks["priority"][-1] == ids[3]  # the low one
        due = await walk(crew, {"sort": "due"})
        fast_ones = {i["id"] for i in due if i["category"] == fast}
        assert {i["id"] for i in due[: len(fast_ones)]} == fast_ones  # due in 2 hours comes before 240
        assert walks["newest"] == walks["oldest"][::-1]
        assert walks["oldest"] == ids  # reported one after the other
        # Filters combine with each sort.
        urgent = await walk(crew, {"sort": "newest", "priority": "urgent"})
        assert [i["id"] for i in urgent] == [ids[0]]
        assert await walk(crew, {"sort": "due", "overdue": "true"}) == []
        # A cursor of one sort is refused by another.
        first = (await crew.get("/v1/staff/queue", params={"sort": "due", "limit": 1})).json()
        other = await crew.get("/v1/staff/queue", params={"sort": "oldest", "cursor": first["next_cursor"]})
        assert other.status_code == 422
        assert other.headers["content-type"].startswith("application/problem+json")
        assert (await crew.get("/v1/staff/queue", params={"sort": "random"})).status_code == 422
    finally:
        await crew.aclose()
        await reporter.aclose()
