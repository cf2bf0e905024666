"""A citizen reports an issue and reads it back, through all five real processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from snapfix_shared.schemas.issues import IssueDetail, MapCells, Page
from snapfix_shared.topics import Topic
from tests.builders import make_report_body
from tests.e2e.api import citizen
from tests.e2e.conftest import APPS, System
from tests.stack import ROOT, header, read_topic, wait_caught_up

pytestmark = pytest.mark.e2e


async def read_back(client: httpx.AsyncClient, location: str, timeout_s: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = await client.get(location)
        if response.status_code == 200:
            return response
        assert response.status_code == 404, response.text
        await asyncio.sleep(0.05)
    pytest.fail(f"{location} was not readable within {timeout_s}s")


@pytest.fixture
async def client(system: System) -> Any:
    """A citizen, signed in."""
    signed_in = await citizen(system)
    try:
        yield signed_in
    finally:
        await signed_in.aclose()


async def test_every_process_is_live_and_ready(system: System) -> None:
    async with httpx.AsyncClient() as client:
        for app in APPS:
            assert (await client.get(f"{system.urls[app]}/livez")).status_code == 200
            assert (await client.get(f"{system.urls[app]}/readyz")).status_code == 200
            metrics = await client.get(f"{system.urls[app]}/metrics")
            assert "snapfix_http_requests_total" in metrics.text


async def test_reporting_needs_a_signed_in_user(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.gateway) as anonymous:
        response = await anonymous.post("/v1/issues", json=make_report_body())
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_report_is_accepted_then_readable_through_the_gateway(client: httpx.AsyncClient) -> None:
    body = make_report_body(address="Rue de Rivoli 1", attributes={"pole_number": "A-17"})
    accepted = await client.post("/v1/issues", json=body)
    assert accepted.status_code == 202, accepted.text
    issue_id = accepted.json()["id"]
    assert accepted.headers["location"] == f"/v1/issues/{issue_id}"

    issue = (await read_back(client, accepted.headers["location"])).json()

    assert {k: issue[k] for k in ("id", "title", "description", "category", "lat", "lon", "status", "address")} == {
        "id": issue_id,
        "title": body["title"],
        "description": body["description"],
        "category": body["category"],
        "lat": body["lat"],
        "lon": body["lon"],
        "status": "open",
        "address": body["address"],
    }
    assert issue["attributes"] == {"pole_number": "A-17"}
    assert issue["reporter_id"] == client.headers["x-test-user-id"]
    assert (issue["department"], issue["history"], issue["comments"]) == ("lighting", [], [])
    assert issue["created_at"].endswith("+00:00")
    # The answer is what the OpenAPI document says it is.
    IssueDetail.model_validate(issue)
    nearby = await client.get("/v1/issues", params={"lat": body["lat"], "lon": body["lon"], "radius_m": 50})
    assert issue_id in [i["id"] for i in Page.model_validate(nearby.json()).model_dump(mode="json")["items"]]
    # On the map: in a viewport around it, and counted in its cell at a low zoom level.
    lat, lon = body["lat"], body["lon"]
    bbox = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    viewport = await client.get("/v1/map/issues", params={"bbox": bbox})
    assert issue_id in [i["id"] for i in Page.model_validate(viewport.json()).model_dump(mode="json")["items"]]
    cells = MapCells.model_validate((await client.get("/v1/map/cells", params={"bbox": bbox, "level": 8})).json())
    assert len(cells.cells) == 1
    assert cells.cells[0].count >= 1
    west, south, east, north = cells.cells[0].bbox
    assert west <= lon < east
    assert south <= lat < north
    bad = await client.get("/v1/map/issues", params={"bbox": "1,2,3"})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lat": 123.0}, "lat"),
        ({"title": ""}, "title"),
        ({"category": "Not A Code!"}, "category"),
        ({"owner": "someone"}, "owner"),
        # Checked against the catalogue by the issues service, before anything is published:
        ({"category": "no_such_category"}, "category"),
        ({"attributes": {"flickering": "very"}}, "attributes.flickering"),
        ({"attributes": {"colour": "red"}}, "attributes.colour"),
    ],
)
async def test_an_invalid_report_is_a_problem_422_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/issues", json=make_report_body(**change))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert field in [error["field"] for error in problem["errors"]], problem


async def test_an_unknown_issue_is_a_problem_404(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.gateway) as client:
        response = await client.get(f"/v1/issues/{uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_one_request_is_one_trace_from_the_gateway_to_the_issues_service(
    system: System, client: httpx.AsyncClient
) -> None:
    accepted = await client.post("/v1/issues", json=make_report_body())
    await read_back(client, accepted.headers["location"])
    request_id = accepted.headers["x-request-id"]

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        spans = system.traces.snapshot()
        # The issues service announces IssueReported for this request (correlation id = request id).
        announced = [
            s
            for s in spans
            if s.service == "snapfix-issues"
            and Topic.ISSUES_EVENTS in s.name
            and s.attributes.get("messaging.message.conversation_id") == request_id
        ]
        if announced:
            trace_id = announced[0].trace_id
            gateway_http = [
                s
                for s in spans
                if s.trace_id == trace_id and (s.service, s.name) == ("snapfix-gateway", "POST /v1/issues")
            ]
            if gateway_http:
                # The gateway's HTTP server span and the issues service's work share one trace.
                assert {s.service for s in spans if s.trace_id == trace_id} >= {"snapfix-gateway", "snapfix-issues"}
                return
        await asyncio.sleep(0.2)
    pytest.fail("no trace joined the gateway's HTTP span and the issues service's event for the request")


def _kafka(verb: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "deploy/local/stack.py",
            verb,
            "kafka",
            "--profile",
            os.environ.get("SNAPFIX_STACK_PROFILE", "test"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_while_kafka_is_down_a_report_is_refused_with_503_and_never_appears_later(
    system: System, client: httpx.AsyncClient
) -> None:
    """Runs last in this module: it stops and restarts the test stack's broker."""
    refused = make_report_body(title=f"Refused while Kafka is down {uuid4().hex[:8]}")
    _kafka("stop")
    try:
        response = await client.post("/v1/issues", json=refused)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["retry-after"]) > 0
    finally:
        _kafka("start")

    # The system recovers: a new report goes through end to end...
    deadline = time.monotonic() + 60
    while (accepted := await client.post("/v1/issues", json=make_report_body())).status_code != 202:
        assert accepted.status_code == 503, accepted.text
        assert time.monotonic() < deadline, "the gateway did not recover after Kafka came back"
        await asyncio.sleep(0.5)
    await read_back(client, accepted.headers["location"], timeout_s=60)

    # ...and once the issues consumer has caught up, the refused report is nowhere.
    await wait_caught_up(system.stack.kafka, "issues", Topic.ISSUES_COMMANDS, timeout_s=60)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.stack.mongo_url)
    try:
        stored = await mongo["snapfix_issues"]["reports"].count_documents({"title": refused["title"]})
    finally:
        await mongo.close()
    assert stored == 0
    # The producer may still deliver the refused command once the broker is back; if it
    # did, the consumer saw it was appended after its accept_by and dead-lettered it.
    title = refused["title"].encode()
    late = await read_topic(system.stack.kafka, Topic.ISSUES_COMMANDS, lambda r: title in r.value, timeout_s=3)
    if late:
        [expired] = await read_topic(
            system.stack.kafka,
            Topic.ISSUES_COMMANDS.dlq,
            lambda r: title in r.value and header(r, "dlq_consumer_group") == "issues",
        )
        assert header(expired, "dlq_reason") == "expired"
