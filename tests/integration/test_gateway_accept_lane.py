"""The accept lane (``accept_lane``) against the real stack: a report whose trace is not sampled
skips the router and the tracing middleware, and is answered exactly as the whole stack answers.

Which way a request goes is decided by the real sampler: a ``traceparent`` whose flags say
"not sampled" makes the parent-based sampler drop the trace (the lane); one that says "sampled"
keeps it (the whole stack, with its server span).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from snapfix_shared.messages.catalogue import CategoryPublished, CategorySpec
from snapfix_shared.topics import Topic
from tests.integration.gateway_app import bearer, gateway_settings, new_email, register, running_app, sign_in
from tests.integration.test_gateway_catalogue import until_known
from tests.stack import Stack, header, produce, read_topic

pytestmark = pytest.mark.integration

CATEGORY = CategorySpec(code="lane_bench", name="Broken bench (lane)", department="parks", sla_hours=48)


def traceparent(*, sampled: bool, trace_id: str | None = None, span_id: str | None = None) -> str:
    return f"00-{trace_id or uuid4().hex}-{span_id or uuid4().hex[:16]}-{'01' if sampled else '00'}"


def report(**overrides: Any) -> dict[str, Any]:
    return {"title": "Bench broken", "category": CATEGORY.code, "lat": 52.52, "lon": 13.405, **overrides}


def lane_count() -> float:
    return REGISTRY.get_sample_value("snapfix_gateway_accept_lane_requests_total") or 0.0


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, dict[str, str]]]:
    message = CategoryPublished(correlation_id="test", category=CATEGORY)
    await produce(stack.kafka, Topic.ISSUES_CATALOGUE, message.model_dump_json().encode(), key=CATEGORY.code.encode())
    async for app, gw in running_app(gateway_settings(stack, rate_limit_user="10000/minute")):
        await until_known(app.state.catalogue, CATEGORY.code, CATEGORY.name)  # checked by the gateway's own copy
        email = new_email()
        await register(gw, email)
        yield app, gw, bearer(await sign_in(gw, email))


def _shape(response: httpx.Response) -> tuple[int, Any, set[str]]:
    """What must not differ between the two ways: the status, the body (ids and the request's
    own values left out) and which headers are sent."""
    body: Any = response.json() if response.content else None
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in {"id", "instance", "request_id"}}
    return response.status_code, body, set(response.headers) - {"date"}


async def test_an_unsampled_report_takes_the_lane_and_gets_the_answer_the_whole_stack_gives(
    gateway: tuple[FastAPI, httpx.AsyncClient, dict[str, str]],
) -> None:
    _, gw, auth = gateway
    json_type = {"content-type": "application/json"}
    requests: list[tuple[str, dict[str, str], bytes]] = [
        ("accepted", auth | json_type, orjson.dumps(report())),
        ("attributes refused", auth | json_type, orjson.dumps(report(attributes={"colour": 3}))),
        ("body invalid", auth | json_type, orjson.dumps({"title": "?"})),
        ("not JSON", auth | json_type, b"{not json"),
        ("a form", auth | {"content-type": "application/x-www-form-urlencoded"}, b"title=x"),
        ("no token", json_type, orjson.dumps(report())),
        ("a bad token", {"authorization": "Bearer nope"} | json_type, orjson.dumps(report())),
        ("too large", auth | json_type, orjson.dumps(report(description="x" * 200_000))),
    ]
    for name, headers, content in requests:
        before = lane_count()
        whole = await gw.post(
            "/v1/issues", content=content, headers=headers | {"traceparent": traceparent(sampled=True)}
        )
        assert lane_count() == before, f"{name}: a sampled report went through the lane"
        lane = await gw.post(
            "/v1/issues", content=content, headers=headers | {"traceparent": traceparent(sampled=False)}
        )
        assert lane_count() == before + 1, f"{name}: an unsampled report did not take the lane"
        assert _shape(lane) == _shape(whole), name
        assert lane.headers["x-request-id"] != whole.headers["x-request-id"]
        if name == "accepted":  # two reports, each at its own address
            assert lane.headers["location"] != whole.headers["location"]


async def test_the_lane_publishes_the_report_in_the_callers_trace_not_sampled(
    stack: Stack, gateway: tuple[FastAPI, httpx.AsyncClient, dict[str, str]]
) -> None:
    _, gw, auth = gateway
    trace_id, caller_span = uuid4().hex, uuid4().hex[:16]
    before = lane_count()
    accepted = await gw.post(
        "/v1/issues",
        json=report(),
        headers=auth | {"traceparent": traceparent(sampled=False, trace_id=trace_id, span_id=caller_span)},
    )
    assert accepted.status_code == 202, accepted.text
    assert lane_count() == before + 1
    issue_id = accepted.json()["id"]
    assert accepted.headers["location"] == f"/v1/issues/{issue_id}"
    # 202 only after the broker's ack: the command is on the topic, in the caller's trace.
    [command] = await read_topic(
        stack.kafka, Topic.ISSUES_COMMANDS, lambda r: orjson.loads(r.value).get("issue_id") == issue_id
    )
    version, carried_trace, span_id, flags = (header(command, "traceparent") or "").split("-")
    assert (version, carried_trace, flags) == ("00", trace_id, "00")
    assert span_id != caller_span  # the gateway's own (not recorded) server span is the parent
    assert orjson.loads(command.value)["correlation_id"] == accepted.headers["x-request-id"]


async def test_the_lane_counts_reports_against_the_rate_limit_and_refuses_past_it(stack: Stack) -> None:
    async for _, gw in running_app(gateway_settings(stack, rate_limit_user="2/minute")):
        email = new_email()
        await register(gw, email)
        auth = bearer(await sign_in(gw, email))
        before = lane_count()
        answers = [
            await gw.post("/v1/issues", json={"title": "?"}, headers=auth | {"traceparent": traceparent(sampled=False)})
            for _ in range(3)
        ]
        assert lane_count() == before + 3
        assert [a.status_code for a in answers] == [422, 422, 429]
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
        assert refused.headers["ratelimit"].startswith('"user";r=0;')
