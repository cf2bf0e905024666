"""The issues service against the real stack: Kafka in, FerretDB and Redis behind, events out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import orjson
import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from snapfix_issues.cache import issue_key
from snapfix_shared.messages import ISSUE_EVENTS, ReportRejected
from snapfix_shared.messages.catalogue import CATALOGUE_RECORDS
from snapfix_shared.topics import Topic
from tests.builders import as_viewer, make_report_command, signed
from tests.integration.issues_app import Issues, for_issue, running_issues, wait_for_issue
from tests.stack import Stack, header, produce, produce_command, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def issues(stack: Stack) -> AsyncIterator[Issues]:
    async with running_issues(stack) as running:
        yield running


async def test_a_report_command_is_stored_and_announced(stack: Stack, issues: Issues) -> None:
    command = make_report_command()
    await produce_command(stack, command)

    view = await wait_for_issue(issues.http, command.issue_id)
    assert view["title"] == command.title
    assert view["status"] == "open"
    assert (view["lat"], view["lon"]) == (command.location.lat, command.location.lon)
    [event] = await read_topic(stack.kafka, Topic.ISSUES_EVENTS, for_issue(command.issue_id))
    assert header(event, "ce_type") == "dev.snapfix.IssueReported.v1"
    assert header(event, "traceparent") is not None


async def test_a_redelivered_command_creates_one_report_and_re_publishes_its_event(
    stack: Stack, issues: Issues
) -> None:
    command = signed(make_report_command())
    body, key = command.model_dump_json().encode(), command.partition_key().encode()
    await produce(stack.kafka, Topic.ISSUES_COMMANDS, body, key=key)
    await wait_for_issue(issues.http, command.issue_id)
    await produce(stack.kafka, Topic.ISSUES_COMMANDS, body, key=key)

    events = await read_topic(stack.kafka, Topic.ISSUES_EVENTS, for_issue(command.issue_id), count=2)
    assert len(events) == 2
    assert header(events[0], "ce_id") == header(events[1], "ce_id")  # the same event, again
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, uuidRepresentation="standard")
    try:
        stored = await mongo[issues.settings.mongo_database]["reports"].count_documents({"_id": str(command.issue_id)})
    finally:
        await mongo.close()
    assert stored == 1


async def test_a_poison_message_is_dead_lettered_and_consuming_goes_on(stack: Stack, issues: Issues) -> None:
    poison_key = f"poison-{uuid4()}".encode()
    await produce(stack.kafka, Topic.ISSUES_COMMANDS, b"\x00 this is not a command", key=poison_key)
    command = make_report_command()
    await produce_command(stack, command)

    await wait_for_issue(issues.http, command.issue_id)
    group = issues.settings.consumer_group
    [dead] = await read_topic(
        stack.kafka,
        Topic.ISSUES_COMMANDS.dlq,
        lambda r: r.key == poison_key and header(r, "dlq_consumer_group") == group,
    )
    assert dead.value == b"\x00 this is not a command"
    assert header(dead, "dlq_reason") == "invalid"
    assert header(dead, "dlq_original_topic") == Topic.ISSUES_COMMANDS
    assert "Invalid JSON" in (header(dead, "dlq_error") or "")


async def test_a_new_report_is_in_the_services_own_read_model_before_any_read(stack: Stack, issues: Issues) -> None:
    command = make_report_command()
    await produce_command(stack, command)
    await read_topic(stack.kafka, Topic.ISSUES_EVENTS, for_issue(command.issue_id))

    redis = Redis.from_url(stack.redis_url)
    try:
        cached = await redis.get(issue_key(command.issue_id))
        assert cached is not None
        assert await redis.ttl(issue_key(command.issue_id)) == -1  # written through: the read model, no expiry
        # The stored issue is cached (rendered per viewer on each read), not a rendered view.
        assert orjson.loads(cached)["issue"]["title"] == command.title
        read = await issues.http.get(f"/v1/issues/{command.issue_id}")
        assert read.json()["title"] == command.title
        # A miss is filled from the store (cache-aside).
        await redis.delete(issue_key(command.issue_id))
        again = await issues.http.get(f"/v1/issues/{command.issue_id}")
        assert again.json() == read.json()
        assert await redis.get(issue_key(command.issue_id)) is not None
    finally:
        await redis.aclose()


async def test_an_unknown_issue_is_a_problem_404(issues: Issues) -> None:
    response = await issues.http.get(f"/v1/issues/{uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


async def test_readiness_checks_every_dependency(issues: Issues) -> None:
    response = await issues.http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"kafka": "ok", "mongo": "ok", "redis": "ok"}


async def test_a_command_id_reused_for_another_issue_is_dead_lettered_as_a_conflict(
    stack: Stack, issues: Issues
) -> None:
    first = make_report_command()
    await produce_command(stack, first)
    await wait_for_issue(issues.http, first.issue_id)
    clash = make_report_command(message_id=first.message_id)  # same command id, another issue
    await produce_command(stack, clash)

    group = issues.settings.consumer_group
    [dead] = await read_topic(
        stack.kafka,
        Topic.ISSUES_COMMANDS.dlq,
        lambda r: r.key == clash.partition_key().encode() and header(r, "dlq_consumer_group") == group,
    )
    assert header(dead, "dlq_reason") == "conflict"
    assert (await issues.http.get(f"/v1/issues/{clash.issue_id}")).status_code == 404


# -- the catalogue on issues.catalogue.v1, and reports refused when applied ---------------------


async def test_the_catalogue_is_published_at_start_and_each_change_at_once(stack: Stack, issues: Issues) -> None:
    # Every instance publishes the whole catalogue at start (the topic keeps the last record of each code).
    *_, pothole = await read_topic(stack.kafka, Topic.ISSUES_CATALOGUE, lambda r: r.key == b"pothole")
    assert header(pothole, "ce_type") == "dev.snapfix.CategoryPublished.v1"
    assert CATALOGUE_RECORDS.validate_json(pothole.value or b"").category.department == "roads"

    code = f"bench_{uuid4().hex[:8]}"
    body = {"name": "Broken bench", "department": "parks", "sla_hours": 48}
    created = await issues.http.put(f"/v1/categories/{code}", json=body, headers=as_viewer("admin-1", "admin"))
    assert created.status_code == 201, created.text
    [published] = await read_topic(stack.kafka, Topic.ISSUES_CATALOGUE, lambda r: r.key == code.encode())
    category = CATALOGUE_RECORDS.validate_json(published.value or b"").category
    assert (category.code, category.name, category.sla_hours) == (code, "Broken bench", 48)


async def test_a_report_refused_when_applied_is_announced_and_its_reporter_reads_why(
    stack: Stack, issues: Issues
) -> None:
    command = make_report_command(category="no_such_category", actor_id="citizen-refused")
    await produce_command(stack, command)

    [event] = await read_topic(stack.kafka, Topic.ISSUES_EVENTS, for_issue(command.issue_id))
    assert header(event, "ce_type") == "dev.snapfix.ReportRejected.v1"
    rejected = ISSUE_EVENTS.validate_json(event.value or b"")
    assert isinstance(rejected, ReportRejected)
    assert [(e.field, e.message) for e in rejected.errors] == [("category", "unknown category no_such_category")]

    gone = await issues.http.get(f"/v1/issues/{command.issue_id}", headers=as_viewer("citizen-refused", "citizen"))
    assert gone.status_code == 410, gone.text
    assert gone.headers["content-type"] == "application/problem+json"
    problem = gone.json()
    assert problem["reason"] == "unknown category no_such_category"
    assert [e["field"] for e in problem["errors"]] == ["category"]
    # Anyone else finds nothing there, as for an id that was never used.
    stranger = await issues.http.get(f"/v1/issues/{command.issue_id}", headers=as_viewer("someone", "citizen"))
    assert stranger.status_code == 404


@pytest.mark.usefixtures("issues")
async def test_a_redelivered_refused_report_re_announces_the_same_rejection(stack: Stack) -> None:
    command = signed(make_report_command(category="no_such_category", actor_id="citizen-refused"))
    body, key = command.model_dump_json().encode(), command.partition_key().encode()
    await produce(stack.kafka, Topic.ISSUES_COMMANDS, body, key=key)
    await read_topic(stack.kafka, Topic.ISSUES_EVENTS, for_issue(command.issue_id))
    await produce(stack.kafka, Topic.ISSUES_COMMANDS, body, key=key)

    events = await read_topic(stack.kafka, Topic.ISSUES_EVENTS, for_issue(command.issue_id), count=2)
    assert len(events) == 2
    assert header(events[0], "ce_id") == header(events[1], "ce_id")
