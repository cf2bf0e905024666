"""The issue lifecycle through the gateway: who may do what, what each one sees, live updates."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually, read_events, staff, user_id
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

# A pothole belongs to the roads department (see the seeded catalogue).
POTHOLE = {"category": "pothole", "lat": 52.5200, "lon": 13.4050}


async def report(client: httpx.AsyncClient, **overrides: Any) -> str:
    response = await client.post("/v1/issues", json=make_report_body(**(POTHOLE | overrides)))
    assert response.status_code == 202, response.text
    issue_id: str = response.json()["id"]
    await eventually(client, f"/v1/issues/{issue_id}", lambda _: True)
    return issue_id


@pytest.fixture
async def people(system: System) -> Any:
    clients = (
        await citizen(system),
        await citizen(system),
        await staff(system, "roads"),
        await staff(system, "lighting"),
    )
    try:
        yield clients  # reporter, neighbour, roads staff, lighting staff
    finally:
        for client in clients:
            await client.aclose()


async def test_staff_of_the_owning_department_move_an_issue_along(people: Any) -> None:
    reporter, neighbour, roads, lighting = people
    issue_id = await report(reporter)
    path = f"/v1/issues/{issue_id}"

    # Object-level authorization: only roads staff (or admins) transition a pothole.
    for outsider in (reporter, neighbour, lighting):
        refused = await outsider.post(f"{path}/transitions", json={"to": "acknowledged"})
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"

    step = await roads.post(f"{path}/transitions", json={"to": "acknowledged", "note": "Crew scheduled"})
    assert step.status_code == 202, step.text
    issue = await eventually(neighbour, path, lambda i: i["status"] == "acknowledged")
    assert [(h["from"], h["to"], h["note"]) for h in issue["history"]] == [("open", "acknowledged", "Crew scheduled")]

    invalid = await roads.post(f"{path}/transitions", json={"to": "closed"})
    assert invalid.status_code == 409
    no_reason = await roads.post(f"{path}/transitions", json={"to": "rejected"})
    assert no_reason.status_code == 422

    for to in ("in_progress", "resolved"):
        assert (await roads.post(f"{path}/transitions", json={"to": to, "note": to})).status_code == 202
    resolved = await eventually(reporter, path, lambda i: i["status"] == "resolved")
    assert [h["to"] for h in resolved["history"]] == ["acknowledged", "in_progress", "resolved"]

    # Only the reporter may reopen it.
    assert (await neighbour.post(f"{path}/transitions", json={"to": "reopened"})).status_code == 403
    assert (
        await reporter.post(f"{path}/transitions", json={"to": "reopened", "note": "Still there"})
    ).status_code == 202
    await eventually(reporter, path, lambda i: i["status"] == "reopened")


async def test_citizens_change_only_their_own_reports(people: Any) -> None:
    reporter, neighbour, _, _ = people
    issue_id = await report(reporter)
    path = f"/v1/issues/{issue_id}"

    assert (await neighbour.patch(path, json={"title": "Hijacked title"})).status_code == 403
    assert (await neighbour.post(f"{path}/transitions", json={"to": "withdrawn"})).status_code == 403
    assert (await neighbour.post(f"{path}/assignment", json={"priority": "urgent"})).status_code == 403

    assert (await reporter.patch(path, json={"title": "Deep pothole, corrected"})).status_code == 202
    edited = await eventually(neighbour, path, lambda i: i["title"] == "Deep pothole, corrected")
    assert edited["status"] == "open"
    assert (await reporter.post(f"{path}/transitions", json={"to": "withdrawn"})).status_code == 202
    await eventually(reporter, path, lambda i: i["status"] == "withdrawn")
    assert (await reporter.patch(path, json={"title": "Too late now"})).status_code == 409


async def test_an_anonymous_reporter_is_hidden_from_everyone_but_staff(people: Any) -> None:
    reporter, neighbour, roads, _ = people
    issue_id = await report(reporter, anonymous=True)
    path = f"/v1/issues/{issue_id}"
    assert (await reporter.post(f"{path}/comments", json={"body": "I saw it happen"})).status_code == 202

    seen_by_neighbour = await eventually(neighbour, path, lambda i: len(i["comments"]) == 1)
    assert seen_by_neighbour["reporter_id"] is None
    assert seen_by_neighbour["comments"][0]["author_id"] is None
    assert user_id(reporter) not in str(seen_by_neighbour)
    async with httpx.AsyncClient(base_url=str(reporter.base_url)) as anonymous:
        public = (await anonymous.get(path)).json()
    assert user_id(reporter) not in str(public)
    nearby = (await neighbour.get("/v1/issues", params={"lat": POTHOLE["lat"], "lon": POTHOLE["lon"]})).json()
    assert user_id(reporter) not in str(nearby)

    assert (await eventually(roads, path, lambda _: True))["reporter_id"] == user_id(reporter)
    mine = (await reporter.get("/v1/me/issues")).json()["items"]
    assert issue_id in [i["id"] for i in mine]


async def test_internal_comments_never_reach_citizens(people: Any) -> None:
    reporter, neighbour, roads, _ = people
    issue_id = await report(reporter)
    path = f"/v1/issues/{issue_id}"
    assert (await reporter.post(f"{path}/comments", json={"body": "secret?", "internal": True})).status_code == 403
    assert (
        await roads.post(f"{path}/comments", json={"body": "Needs a second crew", "internal": True})
    ).status_code == 202
    assert (await roads.post(f"{path}/comments", json={"body": "Fixing it Tuesday"})).status_code == 202

    as_staff = await eventually(roads, path, lambda i: len(i["comments"]) == 2)
    assert sorted(c["internal"] for c in as_staff["comments"]) == [False, True]
    for citizen_client in (reporter, neighbour):
        seen = (await citizen_client.get(path)).json()
        assert [c["body"] for c in seen["comments"]] == ["Fixing it Tuesday"]
        assert "second crew" not in str(seen)


async def test_one_vote_per_user(people: Any) -> None:
    reporter, neighbour, roads, _ = people
    issue_id = await report(reporter)
    path = f"/v1/issues/{issue_id}"
    for voter in (neighbour, neighbour, roads):
        assert (await voter.post(f"{path}/vote")).status_code == 202
    await eventually(reporter, path, lambda i: i["votes"] == 2)
    assert (await neighbour.delete(f"{path}/vote")).status_code == 202
    await eventually(reporter, path, lambda i: i["votes"] == 1)


async def test_a_retried_report_with_its_idempotency_key_is_one_report(people: Any, system: System) -> None:
    reporter = people[0]
    body = make_report_body(**POTHOLE, title=f"Retried {uuid4().hex[:8]}")
    key = f"phone-{uuid4()}"
    first = await reporter.post("/v1/issues", json=body, headers={"idempotency-key": key})
    again = await reporter.post("/v1/issues", json=body, headers={"idempotency-key": key})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    changed = await reporter.post("/v1/issues", json=body | {"title": "Another"}, headers={"idempotency-key": key})
    assert changed.status_code == 422

    await eventually(reporter, f"/v1/issues/{first.json()['id']}", lambda _: True)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.stack.mongo_url)
    try:
        assert await mongo["snapfix_issues"]["reports"].count_documents({"title": body["title"]}) == 1
    finally:
        await mongo.close()


async def test_nearby_search_and_duplicate_suggestions(people: Any) -> None:
    reporter, neighbour, _, _ = people
    # Somewhere nobody else reports: a random spot in the Atlantic.
    lat, lon = 30 + (uuid4().int % 1000) / 100, -40 - (uuid4().int % 1000) / 100
    near = await report(reporter, lat=lat, lon=lon + 0.002)  # about 190 m east
    far = await report(reporter, lat=lat + 0.05, lon=lon)  # about 5.6 km north

    page = (await neighbour.get("/v1/issues", params={"lat": lat, "lon": lon, "radius_m": 500})).json()
    assert [i["id"] for i in page["items"]] == [near]
    assert 150 < page["items"][0]["distance_m"] < 250
    wide = (await neighbour.get("/v1/issues", params={"lat": lat, "lon": lon, "radius_m": 10_000})).json()
    assert [i["id"] for i in wide["items"]] == [near, far]
    one_by_one = (
        await neighbour.get("/v1/issues", params={"lat": lat, "lon": lon, "radius_m": 10_000, "limit": 1})
    ).json()
    assert [i["id"] for i in one_by_one["items"]] == [near]
    rest = (
        await neighbour.get(
            "/v1/issues",
            params={"lat": lat, "lon": lon, "radius_m": 10_000, "limit": 1, "cursor": one_by_one["next_cursor"]},
        )
    ).json()
    assert [i["id"] for i in rest["items"]] == [far]

    suggested = (
        await neighbour.get(
            "/v1/issues/suggestions", params={"lat": lat, "lon": lon, "category": "pothole", "radius_m": 300}
        )
    ).json()
    assert [i["id"] for i in suggested["items"]] == [near]
    other_category = (
        await neighbour.get("/v1/issues/suggestions", params={"lat": lat, "lon": lon, "category": "graffiti"})
    ).json()
    assert other_category["items"] == []


async def test_the_staff_queue_is_scoped_to_the_staff_members_departments(people: Any) -> None:
    reporter, neighbour, roads, lighting = people
    issue_id = await report(reporter)
    assert (await roads.post(f"/v1/issues/{issue_id}/assignment", json={"priority": "urgent"})).status_code == 202
    await eventually(roads, f"/v1/issues/{issue_id}", lambda i: i["priority"] == "urgent")
    queued: list[dict[str, Any]] = []
    params: dict[str, Any] = {"department": "roads", "status": "open", "priority": "urgent", "limit": 100}
    while True:  # every page of the queue
        page = (await roads.get("/v1/staff/queue", params=params)).json()
        queued += page["items"]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert issue_id in [i["id"] for i in queued]
    assert {(i["department"], i["priority"], i["status"]) for i in queued} == {("roads", "urgent", "open")}
    assert (await lighting.get("/v1/staff/queue", params={"department": "roads"})).status_code == 403
    assert (await neighbour.get("/v1/staff/queue")).status_code == 403


async def test_the_catalogue_is_public_and_managed_by_admins(system: System, people: Any) -> None:
    from tests.e2e.api import sign_in
    from tests.e2e.conftest import ADMIN

    reporter = people[0]
    listed = await reporter.get("/v1/categories")
    assert listed.status_code == 200
    codes = {c["code"]: c for c in listed.json()["items"]}
    assert codes["pothole"]["department"] == "roads"
    assert listed.headers.get("etag")

    code = f"bench_{uuid4().hex[:6]}"
    category = {
        "name": "Broken bench",
        "group": "Parks",
        "keywords": ["bench"],
        "department": "parks",
        "sla_hours": 96,
        "attributes": [],
    }
    assert (await reporter.put(f"/v1/categories/{code}", json=category)).status_code == 403
    admin = await sign_in(system, *ADMIN)
    try:
        created = await admin.put(f"/v1/categories/{code}", json=category)
        assert created.status_code in {200, 201}, created.text
    finally:
        await admin.aclose()
    got = await eventually(reporter, f"/v1/categories/{code}", lambda _: True)
    assert got["department"] == "parks"


async def test_live_updates_reach_reporter_and_followers_and_resume(people: Any) -> None:
    reporter, neighbour, roads, _ = people
    issue_id = await report(reporter)
    path = f"/v1/issues/{issue_id}"
    assert (await neighbour.put(f"{path}/follow")).status_code == 202
    await eventually(neighbour, "/v1/me/following", lambda page: issue_id in [i["issue_id"] for i in page["items"]])

    started = asyncio.Event()
    listening = asyncio.create_task(read_events(neighbour, 1, started=started))
    await asyncio.wait_for(started.wait(), 10)
    assert (await roads.post(f"{path}/transitions", json={"to": "acknowledged", "note": "On it"})).status_code == 202
    [first] = await listening
    assert (first["event"], first["data"]["issue_id"], first["data"]["to"]) == (
        "status_changed",
        issue_id,
        "acknowledged",
    )

    # While the follower is away: a status change, an internal comment and a public one.
    assert (await roads.post(f"{path}/transitions", json={"to": "in_progress"})).status_code == 202
    assert (await roads.post(f"{path}/comments", json={"body": "internal only", "internal": True})).status_code == 202
    assert (await roads.post(f"{path}/comments", json={"body": "Crew arrives at noon"})).status_code == 202
    await eventually(roads, path, lambda i: len(i["comments"]) == 2)

    missed = await read_events(neighbour, 2, last_event_id=first["id"])
    assert [(e["event"], e["data"].get("to"), e["data"].get("body")) for e in missed] == [
        ("status_changed", "in_progress", None),
        ("comment", None, "Crew arrives at noon"),
    ]
    # The reporter hears of it too, without following.
    everything = await read_events(reporter, 3, last_event_id="0-0")
    assert [e["event"] for e in everything] == ["status_changed", "status_changed", "comment"]
    # A bad Last-Event-ID is a clear error; signing out ends access to the stream.
    assert (await neighbour.get("/v1/events", headers={"last-event-id": "yesterday"})).status_code == 400
    assert (await neighbour.post("/v1/auth/logout")).status_code == 204
    assert (await neighbour.get("/v1/events")).status_code == 401
