"""One hop before the 202: a report is checked in the gateway (its copy of the catalogue), and the
issues consumer, still the authority, announces the reports it refuses; the reporter reads why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from snapfix_shared.messages import ISSUE_EVENTS, ReportRejected
from snapfix_shared.topics import Topic
from tests.builders import make_report_body
from tests.e2e.api import citizen, sign_in
from tests.e2e.conftest import ADMIN, System
from tests.stack import header, read_topic

pytestmark = pytest.mark.e2e


@pytest.fixture
async def client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    signed_in = await citizen(system)
    try:
        yield signed_in
    finally:
        await signed_in.aclose()


async def check_calls(system: System) -> float:
    """How many ``POST /v1/commands/check`` the issues service has answered (its own metrics)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{system.urls['issues']}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("snapfix_http_requests_total{") and 'route="/v1/commands/check"' in line
    )


async def until_status(client: httpx.AsyncClient, path: str, wanted: int, timeout_s: float = 60.0) -> httpx.Response:
    """GET ``path`` until it answers ``wanted``; 404 (not applied yet) and 503 (a service coming back) are waited out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = await client.get(path)
        if response.status_code == wanted:
            return response
        assert response.status_code in {404, 503}, response.text
        await asyncio.sleep(0.2)
    pytest.fail(f"{path} did not answer {wanted} within {timeout_s}s")


async def test_a_report_without_photos_is_accepted_with_no_call_to_the_issues_service(
    system: System, client: httpx.AsyncClient
) -> None:
    before = await check_calls(system)
    accepted = await client.post("/v1/issues", json=make_report_body(attributes={"flickering": True}))
    assert accepted.status_code == 202, accepted.text
    assert "snapfix-check" not in accepted.headers

    issue = (await until_status(client, accepted.headers["location"], 200)).json()
    assert issue["attributes"] == {"flickering": True}
    assert await check_calls(system) == before


async def test_an_invalid_category_or_attribute_is_a_422_problem_from_the_gateway(
    system: System, client: httpx.AsyncClient
) -> None:
    before = await check_calls(system)
    bad_attribute = await client.post("/v1/issues", json=make_report_body(attributes={"flickering": "very"}))
    assert bad_attribute.status_code == 422
    assert bad_attribute.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in bad_attribute.json()["errors"]] == ["attributes.flickering"]
    assert await check_calls(system) == before  # decided on the gateway's copy

    # A code the copy does not know may be a category created a moment ago: its owner decides.
    unknown = await client.post("/v1/issues", json=make_report_body(category="no_such_category"))
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in unknown.json()["errors"]] == ["category"]


async def test_a_new_category_is_reportable_at_once_and_checked_by_the_gateway_soon_after(
    system: System, client: httpx.AsyncClient
) -> None:
    code = f"bench_{uuid4().hex[:8]}"
    admin = await sign_in(system, *ADMIN)
    try:
        body = {
            "name": "Broken bench",
            "department": "parks",
            "sla_hours": 48,
            "attributes": [{"code": "seats", "datatype": "number", "required": True}],
        }
        created = await admin.put(f"/v1/categories/{code}", json=body)
        assert created.status_code == 201, created.text
    finally:
        await admin.aclose()

    accepted = await client.post("/v1/issues", json=make_report_body(category=code, attributes={"seats": 3}))
    assert accepted.status_code == 202, accepted.text
    # Once the gateway's copy has it, a bad attribute is refused there, without the owner.
    deadline = time.monotonic() + 30
    while True:
        before = await check_calls(system)
        refused = await client.post("/v1/issues", json=make_report_body(category=code, attributes={"seats": "x"}))
        assert refused.status_code == 422, refused.text
        if await check_calls(system) == before:
            break
        assert time.monotonic() < deadline, "the gateway's copy did not learn the new category"
        await asyncio.sleep(0.2)


async def test_a_report_the_consumer_refuses_is_announced_and_its_reporter_reads_why(
    system: System, client: httpx.AsyncClient
) -> None:
    """With the issues service down, the gateway still accepts a report it can check itself, and
    one it cannot (unknown category) unchecked; the consumer refuses that one after recovery."""
    title = f"While issues is down {uuid4().hex[:6]}"
    system.stop("issues")
    try:
        good = await client.post("/v1/issues", json=make_report_body(title=title))
        assert good.status_code == 202, good.text
        assert "snapfix-check" not in good.headers  # checked here: no call was tried
        bad = await client.post("/v1/issues", json=make_report_body(category="no_such_category"))
        assert bad.status_code == 202, bad.text
        assert bad.headers["snapfix-check"] == "deferred"
    finally:
        system.start("issues")

    assert (await until_status(client, good.headers["location"], 200)).json()["title"] == title
    gone = await until_status(client, bad.headers["location"], 410)
    assert gone.headers["content-type"] == "application/problem+json"
    problem = gone.json()
    assert problem["reason"] == "unknown category no_such_category"
    assert [e["field"] for e in problem["errors"]] == ["category"]

    issue_id = bad.headers["location"].rsplit("/", 1)[-1]
    [record] = await read_topic(system.stack.kafka, Topic.ISSUES_EVENTS, lambda r: r.key == issue_id.encode())
    assert header(record, "ce_type") == "dev.snapfix.ReportRejected.v1"
    event = ISSUE_EVENTS.validate_json(record.value or b"")
    assert isinstance(event, ReportRejected)
    assert event.actor_id == client.headers["x-test-user-id"]
    # Someone else learns nothing about it.
    other = await citizen(system)
    try:
        assert (await other.get(bad.headers["location"])).status_code == 404
    finally:
        await other.aclose()
