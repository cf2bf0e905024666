"""The issue lifecycle against the real stack: commands on Kafka, FerretDB and Redis behind, events out."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import orjson
import pytest
from uuid_utils.compat import uuid7

from snapfix_shared.messages import (
    AssignIssue,
    ChangeIssueStatus,
    CommentOnIssue,
    FollowIssue,
    Location,
    ReportIssue,
    VoteOnIssue,
)
from snapfix_shared.topics import Topic
from tests.builders import ADMIN, as_viewer, citizen, make_command, make_report_command, signed, staff_of
from tests.integration.issues_app import Issues, events_of, running_issues, wait_for_issue, wait_for_listing
from tests.stack import Stack, header, produce, produce_command, read_topic

pytestmark = pytest.mark.integration

ROADS_STAFF = staff_of("roads")
ROADS_HEADERS = as_viewer(ROADS_STAFF["actor_id"], "staff", "roads")


@pytest.fixture(scope="module")
async def issues(stack: Stack) -> AsyncIterator[Issues]:
    async with running_issues(stack) as running:
        yield running


async def reported(stack: Stack, issues: Issues, **overrides: Any) -> ReportIssue:
    command = make_report_command(**{"actor_id": f"citizen-{uuid4().hex[:8]}", "actor_role": "citizen", **overrides})
    await produce_command(stack, command)
    await wait_for_issue(issues.http, command.issue_id)
    await wait_for_listing(issues.http, command.issue_id, command.actor_id)  # the lists below read the read model
    return command


async def check(issues: Issues, body: str) -> Any:
    """Ask the service as the gateway does: with the internal token of the command's actor."""
    actor = orjson.loads(body)
    viewer = as_viewer(actor.get("actor_id"), actor.get("actor_role"), *actor.get("actor_departments", ()))
    headers = {"content-type": "application/json", **viewer}
    return await issues.http.post("/v1/commands/check", content=body, headers=headers)


def somewhere() -> Location:
    """A place no other test reports at."""
    return Location(lat=random.uniform(-60, 60), lon=random.uniform(-170, 170))


async def test_staff_move_an_issue_on_and_the_change_is_announced_with_its_history(
    stack: Stack, issues: Issues
) -> None:
    report = await reported(stack, issues)
    change = make_command(
        ChangeIssueStatus, issue_id=report.issue_id, to="acknowledged", note="Crew informed", **ROADS_STAFF
    )
    await produce_command(stack, change)

    [record] = await events_of(stack, report.issue_id, "IssueStatusChanged")
    event = orjson.loads(record.value)
    assert (event["from_status"], event["to_status"], event["note"]) == ("open", "acknowledged", "Crew informed")
    assert event["causation_id"] == str(change.message_id)
    view = await wait_for_issue(issues.http, report.issue_id)
    assert view["status"] == "acknowledged"
    assert [(h["from"], h["to"], h["note"], h["actor_id"]) for h in view["history"]] == [
        ("open", "acknowledged", "Crew informed", ROADS_STAFF["actor_id"])
    ]


async def test_a_redelivered_status_change_re_publishes_the_same_event_and_records_history_once(
    stack: Stack, issues: Issues
) -> None:
    report = await reported(stack, issues)
    change = signed(make_command(ChangeIssueStatus, issue_id=report.issue_id, to="in_progress", **ROADS_STAFF))
    body, key = change.model_dump_json().encode(), change.partition_key().encode()
    await produce(stack.kafka, Topic.ISSUES_COMMANDS, body, key=key)
    await events_of(stack, report.issue_id, "IssueStatusChanged")
    await produce(stack.kafka, Topic.ISSUES_COMMANDS, body, key=key)

    first, again = await events_of(stack, report.issue_id, "IssueStatusChanged", count=2)
    assert header(first, "ce_id") == header(again, "ce_id")
    assert first.value == again.value
    view = await wait_for_issue(issues.http, report.issue_id)
    assert [h["to"] for h in view["history"]] == ["in_progress"]


async def test_a_command_refused_when_applied_goes_to_the_dead_letter_topic(stack: Stack, issues: Issues) -> None:
    report = await reported(stack, issues)
    # Accepted by no check: an open issue cannot be closed. The consumer refuses it too.
    refused = make_command(ChangeIssueStatus, issue_id=report.issue_id, to="closed", **ROADS_STAFF)
    await produce_command(stack, refused)

    group = issues.settings.consumer_group
    [dead] = await read_topic(
        stack.kafka,
        Topic.ISSUES_COMMANDS.dlq,
        lambda r: str(refused.message_id).encode() in (r.value or b"") and header(r, "dlq_consumer_group") == group,
    )
    assert header(dead, "dlq_reason") == "rejected"
    assert (header(dead, "dlq_error") or "").startswith("409")
    assert (await wait_for_issue(issues.http, report.issue_id))["status"] == "open"


async def test_internal_comments_are_shown_to_staff_only(stack: Stack, issues: Issues) -> None:
    report = await reported(stack, issues)
    public = make_command(CommentOnIssue, issue_id=report.issue_id, comment_id=uuid7(), body="Still there", **citizen())
    internal = make_command(
        CommentOnIssue, issue_id=report.issue_id, comment_id=uuid7(), body="Crew Tuesday", internal=True, **ROADS_STAFF
    )
    await produce_command(stack, public)
    await produce_command(stack, internal)
    await events_of(stack, report.issue_id, "IssueCommented", count=2)

    as_public = await issues.http.get(f"/v1/issues/{report.issue_id}")
    as_staff = await issues.http.get(f"/v1/issues/{report.issue_id}", headers=ROADS_HEADERS)
    assert [c["body"] for c in as_public.json()["comments"]] == ["Still there"]
    assert [c["body"] for c in as_staff.json()["comments"]] == ["Still there", "Crew Tuesday"]


async def test_each_user_votes_once(stack: Stack, issues: Issues) -> None:
    report = await reported(stack, issues)
    alice, bob = citizen(), citizen()
    for voter in (alice, bob, alice):  # alice's second vote is a new command, not a second vote
        await produce_command(stack, make_command(VoteOnIssue, issue_id=report.issue_id, vote=True, **voter))
    records = await events_of(stack, report.issue_id, "IssueVoted", count=3)

    assert orjson.loads(records[-1].value)["votes"] == 2
    assert (await wait_for_issue(issues.http, report.issue_id))["votes"] == 2


async def test_nearby_search_finds_the_near_report_and_not_the_far_one(stack: Stack, issues: Issues) -> None:
    here = somewhere()
    near = await reported(stack, issues, location=Location(lat=here.lat + 0.002, lon=here.lon))  # ~222 m
    far = await reported(stack, issues, location=Location(lat=here.lat + 0.05, lon=here.lon))  # ~5.6 km

    response = await issues.http.get("/v1/issues", params={"lat": here.lat, "lon": here.lon, "radius_m": 1000})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["id"] for i in items] == [str(near.issue_id)]
    assert items[0]["distance_m"] == pytest.approx(222.4, abs=1.0)
    assert str(far.issue_id) not in {i["id"] for i in items}

    wide = await issues.http.get("/v1/issues", params={"lat": here.lat, "lon": here.lon, "radius_m": 10_000})
    assert [i["id"] for i in wide.json()["items"]] == [str(near.issue_id), str(far.issue_id)]


async def test_a_paged_nearby_search_returns_every_report_once(stack: Stack, issues: Issues) -> None:
    here = somewhere()
    ids = set()
    for step in range(5):
        command = await reported(stack, issues, location=Location(lat=here.lat + 0.0005 * step, lon=here.lon))
        ids.add(str(command.issue_id))
    seen: list[str] = []
    params: dict[str, Any] = {"lat": here.lat, "lon": here.lon, "radius_m": 500, "limit": 2, "sort": "recent"}
    while True:
        page = (await issues.http.get("/v1/issues", params=params)).json()
        seen += [i["id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == sorted(ids)


async def test_the_check_answers_409_for_a_transition_that_cannot_happen(stack: Stack, issues: Issues) -> None:
    report = await reported(stack, issues)
    closing = make_command(ChangeIssueStatus, issue_id=report.issue_id, to="closed", **ROADS_STAFF)
    response = await check(issues, closing.model_dump_json())
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"

    acknowledging = make_command(ChangeIssueStatus, issue_id=report.issue_id, to="acknowledged", **ROADS_STAFF)
    assert (await check(issues, acknowledging.model_dump_json())).status_code == 204
    by_citizen = make_command(ChangeIssueStatus, issue_id=report.issue_id, to="acknowledged", **citizen())
    assert (await check(issues, by_citizen.model_dump_json())).status_code == 403


async def test_the_check_answers_422_naming_a_bad_attribute(issues: Issues) -> None:
    command = make_report_command(category="garbage", attributes={"bin_type": "furniture"})
    response = await check(issues, command.model_dump_json())
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["attributes.bin_type"]

    fine = make_report_command(category="garbage", attributes={"bin_type": "organic"})
    assert (await check(issues, fine.model_dump_json())).status_code == 204


async def test_the_check_answers_404_for_an_unknown_issue(issues: Issues) -> None:
    vote = make_command(VoteOnIssue, issue_id=uuid7(), vote=True, **citizen())
    assert (await check(issues, vote.model_dump_json())).status_code == 404


async def test_the_staff_queue_shows_a_department_its_own_issues_urgent_first(stack: Stack, issues: Issues) -> None:
    # A category owned by a department of this test alone, created through the admin API.
    department, code = f"dept-{uuid4().hex[:8]}", f"cat-{uuid4().hex[:8]}"
    created = await issues.http.put(
        f"/v1/categories/{code}",
        json={"name": "Test category", "department": department, "sla_hours": 24},
        headers=as_viewer("admin-1", "admin"),
    )
    assert created.status_code == 201, created.text
    first = await reported(stack, issues, category=code)
    second = await reported(stack, issues, category=code)
    await reported(stack, issues)  # a pothole: roads, not this department
    await produce_command(stack, make_command(AssignIssue, issue_id=second.issue_id, priority="urgent", **ADMIN))
    await events_of(stack, second.issue_id, "IssueAssigned")

    mine = as_viewer("s-1", "staff", department)
    queue = await issues.http.get("/v1/staff/queue", headers=mine)
    assert queue.status_code == 200, queue.text
    assert [i["id"] for i in queue.json()["items"]] == [str(second.issue_id), str(first.issue_id)]
    assert {i["department"] for i in queue.json()["items"]} == {department}

    other = await issues.http.get("/v1/staff/queue", params={"department": "roads"}, headers=mine)
    assert other.status_code == 403
    assert (await issues.http.get("/v1/staff/queue")).status_code == 401  # no internal token
    assert (await issues.http.get("/v1/staff/queue", headers=as_viewer("c-1", "citizen"))).status_code == 403


async def test_categories_are_public_cacheable_and_only_admins_edit_them(issues: Issues) -> None:
    listing = await issues.http.get("/v1/categories")
    assert listing.status_code == 200
    assert {"pothole", "streetlight", "garbage"} <= {c["code"] for c in listing.json()["items"]}
    assert listing.headers["cache-control"] == "public, max-age=60"
    again = await issues.http.get("/v1/categories", headers={"if-none-match": listing.headers["etag"]})
    assert again.status_code == 304

    body = {"name": "Pothole", "department": "roads", "sla_hours": 48}
    refused = await issues.http.put("/v1/categories/pothole", json=body, headers=as_viewer("s-1", "staff", "roads"))
    assert refused.status_code == 403
    forged = await issues.http.put("/v1/categories/pothole", json=body, headers={"x-snapfix-role": "admin"})
    assert forged.status_code == 401


async def test_the_audience_is_the_reporter_and_the_followers(stack: Stack, issues: Issues) -> None:
    report = await reported(stack, issues)
    follower = citizen()
    await produce_command(stack, make_command(FollowIssue, issue_id=report.issue_id, follow=True, **follower))
    await events_of(stack, report.issue_id, "IssueFollowed")

    audience = await issues.http.get(f"/v1/issues/{report.issue_id}/audience", headers=as_viewer())
    assert audience.json() == {"user_ids": [report.actor_id, follower["actor_id"]]}
    following = await issues.http.get(
        f"/v1/users/{follower['actor_id']}/following", headers=as_viewer(follower["actor_id"], "citizen")
    )
    assert [f["issue_id"] for f in following.json()["items"]] == [str(report.issue_id)]


async def test_followers_of_a_duplicate_follow_the_original(stack: Stack, issues: Issues) -> None:
    original = await reported(stack, issues)
    duplicate = await reported(stack, issues)
    follower = citizen()
    await produce_command(stack, make_command(FollowIssue, issue_id=duplicate.issue_id, follow=True, **follower))
    await events_of(stack, duplicate.issue_id, "IssueFollowed")
    marking = make_command(
        ChangeIssueStatus, issue_id=duplicate.issue_id, to="duplicate", duplicate_of=original.issue_id, **ROADS_STAFF
    )
    await produce_command(stack, marking)
    [event] = await events_of(stack, duplicate.issue_id, "IssueStatusChanged")
    assert orjson.loads(event.value)["duplicate_of"] == str(original.issue_id)

    audience = (await issues.http.get(f"/v1/issues/{original.issue_id}/audience", headers=as_viewer())).json()[
        "user_ids"
    ]
    assert audience[0] == original.actor_id
    assert sorted(audience[1:]) == sorted([follower["actor_id"], duplicate.actor_id])
    assert (await wait_for_issue(issues.http, original.issue_id))["followers"] == 2


async def test_suggestions_are_unresolved_reports_of_the_category_nearby(stack: Stack, issues: Issues) -> None:
    here = somewhere()
    close = await reported(stack, issues, location=Location(lat=here.lat + 0.0005, lon=here.lon))  # ~56 m
    await reported(stack, issues, location=Location(lat=here.lat + 0.0003, lon=here.lon), category="graffiti")
    await reported(stack, issues, location=Location(lat=here.lat + 0.003, lon=here.lon))  # ~334 m: too far

    response = await issues.http.get(
        "/v1/issues/suggestions", params={"lat": here.lat, "lon": here.lon, "category": "pothole"}
    )
    assert response.status_code == 200, response.text
    assert [i["id"] for i in response.json()["items"]] == [str(close.issue_id)]


async def test_a_user_pages_through_their_own_reports_newest_first(stack: Stack, issues: Issues) -> None:
    user = f"citizen-{uuid4().hex[:8]}"
    commands = [await reported(stack, issues, actor_id=user, anonymous=n == 1) for n in range(3)]
    me = as_viewer(user, "citizen")
    first = (await issues.http.get(f"/v1/users/{user}/issues", params={"limit": 2}, headers=me)).json()
    second = await issues.http.get(
        f"/v1/users/{user}/issues", params={"limit": 2, "cursor": first["next_cursor"]}, headers=me
    )
    ids = [i["id"] for i in first["items"] + second.json()["items"]]
    assert ids == [str(c.issue_id) for c in reversed(commands)]
    assert second.json()["next_cursor"] is None
