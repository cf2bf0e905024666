"""The accept lane (``accept_lane``) against the real stack: a report skips the router and is
answered exactly as the whole stack answers; a plain one (``accept_direct``) without FastAPI's
request machinery, again with the same answer.

Whether the tracing middleware records it is decided by the real sampler: a ``traceparent``
whose flags say "not sampled" makes the parent-based sampler drop the trace (no tracing layers);
one that says "sampled" keeps it (the app's tracing layers around the lane, with the server span
the whole stack records). The whole stack's own answer, to compare with, is had the way the lane
steps aside for tests: while a dependency is overridden.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from snapfix_gateway.commands import Submitter
from snapfix_shared.messages.catalogue import CategoryPublished, CategorySpec
from snapfix_shared.tally import flush_all
from snapfix_shared.topics import Topic
from tests.builders import http_scope
from tests.integration.gateway_app import bearer, gateway_settings, new_email, register, running_app, sign_in
from tests.integration.test_gateway_catalogue import until_known
from tests.stack import Stack, header, produce, read_topic

pytestmark = pytest.mark.integration

CATEGORY = CategorySpec(code="lane_bench", name="Broken bench (lane)", department="parks", sla_hours=48)


def traceparent(*, sampled: bool, trace_id: str | None = None, span_id: str | None = None) -> str:
    return f"00-{trace_id or uuid4().hex}-{span_id or uuid4().hex[:16]}-{'01' if sampled else '00'}"


def report(**overrides: Any) -> dict[str, Any]:
    return {"title": "Bench broken", "category": CATEGORY.code, "lat": 52.52, "lon": 13.405, **overrides}


def _issue_id(value: bytes) -> Any:
    """The ``issue_id`` of a command (None for other tests' poison: not JSON, or not an object)."""
    try:
        command = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return command.get("issue_id") if isinstance(command, dict) else None


def lane_count(*, traced: bool = False) -> float:
    labels = {"traced": "true" if traced else "false"}
    flush_all()
    return REGISTRY.get_sample_value("snapfix_gateway_accept_lane_requests_total", labels) or 0.0


def _not_a_dependency() -> None:
    """Overridden to have the whole stack answer (no route depends on it)."""


@contextlib.contextmanager
def whole_stack(app: FastAPI) -> Iterator[None]:
    """While a test overrides a dependency, the lane steps aside: the app's whole stack answers."""
    app.dependency_overrides[_not_a_dependency] = _not_a_dependency
    try:
        yield
    finally:
        del app.dependency_overrides[_not_a_dependency]


def going(app: FastAPI, way: str) -> contextlib.AbstractContextManager[None]:
    """Where a request goes: through the whole stack ("whole"), else as the lane takes it."""
    return whole_stack(app) if way == "whole" else contextlib.nullcontext()


def direct_count() -> float:
    flush_all()
    return REGISTRY.get_sample_value("snapfix_gateway_accept_direct_total") or 0.0


def accepted_count(status: int = 202) -> float:
    labels = {"service": "gateway", "method": "POST", "route": "/v1/issues", "status": str(status)}
    flush_all()
    return REGISTRY.get_sample_value("snapfix_http_requests_total", labels) or 0.0


def timed_count() -> float:
    labels = {"service": "gateway", "method": "POST", "route": "/v1/issues"}
    return REGISTRY.get_sample_value("snapfix_http_request_duration_seconds_count", labels) or 0.0


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


async def test_a_report_takes_the_lane_traced_or_not_and_gets_the_answer_the_whole_stack_gives(
    gateway: tuple[FastAPI, httpx.AsyncClient, dict[str, str]],
) -> None:
    app, gw, auth = gateway
    json_type = {"content-type": "application/json"}
    # (what, headers, body, answered directly): a plain report is, and so is one its route refuses
    # once counted; everything else the direct answer leaves to the lane's stack, untouched.
    requests: list[tuple[str, dict[str, str], bytes, bool]] = [
        ("accepted", auth | json_type, orjson.dumps(report()), True),
        ("attributes refused", auth | json_type, orjson.dumps(report(attributes={"colour": 3})), True),
        ("backdated by a citizen", auth | json_type, orjson.dumps(report(reported_at="2026-01-01T00:00:00Z")), True),
        ("with a key", auth | json_type, orjson.dumps(report()), True),
        ("with a key not valid", auth | json_type | {"idempotency-key": "k" * 300}, orjson.dumps(report()), False),
        ("body invalid", auth | json_type, orjson.dumps({"title": "?"}), False),
        ("not JSON", auth | json_type, b"{not json", False),
        ("a form", auth | {"content-type": "application/x-www-form-urlencoded"}, b"title=x", False),
        ("no token", json_type, orjson.dumps(report()), False),
        ("a bad token", {"authorization": "Bearer nope"} | json_type, orjson.dumps(report()), False),
        ("too long", auth | json_type, orjson.dumps(report(description="x" * 200_000)), False),
        ("over the cap", auth | json_type, orjson.dumps(report(description="x" * 300_000)), False),
    ]
    for name, headers, content, direct in requests:

        def sent(sampled: bool, headers: dict[str, str] = headers, name: str = name) -> dict[str, str]:
            key = {"idempotency-key": str(uuid4())} if name == "with a key" else {}
            return headers | key | {"traceparent": traceparent(sampled=sampled)}

        counts = lane_count(), lane_count(traced=True), direct_count()
        with whole_stack(app):
            whole = await gw.post("/v1/issues", content=content, headers=sent(False))
        assert (lane_count(), lane_count(traced=True), direct_count()) == counts, f"{name}: not the whole stack"
        lane = await gw.post("/v1/issues", content=content, headers=sent(False))
        assert lane_count() == counts[0] + 1, f"{name}: an unsampled report did not take the lane"
        traced = await gw.post("/v1/issues", content=content, headers=sent(True))
        assert lane_count(traced=True) == counts[1] + 1, f"{name}: a sampled report did not take the lane"
        assert direct_count() == counts[2] + 2 * direct, f"{name}: answered directly: {not direct}"
        assert _shape(lane) == _shape(whole), name
        assert _shape(traced) == _shape(whole), name
        assert len({lane.headers["x-request-id"], traced.headers["x-request-id"], whole.headers["x-request-id"]}) == 3
        if name == "accepted":  # three reports, each at its own address
            assert len({lane.headers["location"], traced.headers["location"], whole.headers["location"]}) == 3


async def test_a_keyed_report_answered_directly_is_replayed_as_the_stack_replays_it(
    gateway: tuple[FastAPI, httpx.AsyncClient, dict[str, str]],
) -> None:
    app, gw, auth = gateway
    answers: dict[str, list[httpx.Response]] = {}
    before_direct = direct_count()
    for way in ("whole", "lane", "traced"):
        key = {"idempotency-key": str(uuid4()), "traceparent": traceparent(sampled=way == "traced")}
        with going(app, way):
            answers[way] = [await gw.post("/v1/issues", json=report(), headers=auth | key) for _ in range(2)]
            # The same key with another body: refused, the same way.
            answers[way].append(await gw.post("/v1/issues", json=report(title="Another"), headers=auth | key))
    assert direct_count() == before_direct + 6
    for whole, lane, traced in zip(answers["whole"], answers["lane"], answers["traced"], strict=True):
        assert _shape(lane) == _shape(whole)
        assert _shape(traced) == _shape(whole)
    for way in ("lane", "traced"):
        first, again, other = answers[way]
        assert (first.status_code, again.status_code, other.status_code) == (202, 202, 422)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"]


@pytest.fixture
def spans(gateway: tuple[FastAPI, httpx.AsyncClient, dict[str, str]]) -> Iterator[InMemorySpanExporter]:
    """What the gateway's tracer provider records from now on."""
    app, _, _ = gateway
    exporter = InMemorySpanExporter()
    app.state.runtime.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the provider is the process's: what it records later is no longer kept


_OWN = (".port", ".message.id", ".conversation_id")


def _traced_as(spans: list[ReadableSpan]) -> list[tuple[str, SpanKind, Any, dict[str, Any], str | None]]:
    """What must not differ between the ways: each span's name, kind, status, attributes (less the
    request's own values: the client's port, the message and request ids) and its parent's name."""
    names = {span.context.span_id: span.name for span in spans}
    return sorted(
        (
            span.name,
            span.kind,
            span.status.status_code,
            {k: v for k, v in (span.attributes or {}).items() if not k.endswith(_OWN)},
            names.get(span.parent.span_id) if span.parent else None,
        )
        for span in spans
    )


async def test_a_sampled_report_in_the_lane_is_traced_as_the_whole_stack_traces_it(
    gateway: tuple[FastAPI, httpx.AsyncClient, dict[str, str]], spans: InMemorySpanExporter
) -> None:
    app, gw, auth = gateway
    for body, status in ((report(), 202), ({"title": "?"}, 422)):  # answered directly, and by the lane's stack
        traces: dict[str, str] = {}
        for way in ("whole", "lane"):
            traces[way] = uuid4().hex
            headers = auth | {"traceparent": traceparent(sampled=True, trace_id=traces[way])}
            with going(app, way):
                answer = await gw.post("/v1/issues", json=body, headers=headers)
            assert answer.status_code == status, answer.text
        recorded = spans.get_finished_spans()
        whole, lane = (
            [s for s in recorded if f"{s.context.trace_id:032x}" == traces[way]] for way in ("whole", "lane")
        )
        [server] = [s for s in lane if s.kind is SpanKind.SERVER]
        assert server.name == "POST /v1/issues"
        assert (server.attributes or {}).get("http.route") == "/v1/issues"
        if status == 202:  # the command's publish, inside the server span
            [producer] = [s for s in lane if s.kind is SpanKind.PRODUCER]
            assert producer.parent is not None
            assert producer.parent.span_id == server.context.span_id
        assert _traced_as(lane) == _traced_as(whole)


async def test_an_unexpected_failure_in_a_direct_answer_is_the_apps_500_as_in_the_stack(
    gateway: tuple[FastAPI, httpx.AsyncClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _, auth = gateway

    async def broken(_self: Submitter, _command: Any) -> None:
        raise RuntimeError("the publish broke unexpectedly")

    monkeypatch.setattr(Submitter, "__call__", broken)
    before_direct = direct_count()
    # The failure is raised on to the server after the answer (as Starlette's error middleware does).
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

        async def post(sampled: bool) -> httpx.Response:
            headers = auth | {"traceparent": traceparent(sampled=sampled)}
            return await client.post("/v1/issues", json=report(), headers=headers)

        with whole_stack(app):
            whole = await post(False)
        lane, traced = await post(False), await post(True)
    assert direct_count() == before_direct + 2
    assert whole.status_code == 500
    assert whole.headers["content-type"] == "application/problem+json"
    assert _shape(lane) == _shape(whole)
    assert _shape(traced) == _shape(whole)


async def test_a_direct_answer_is_counted_as_the_stack_counts_it(
    gateway: tuple[FastAPI, httpx.AsyncClient, dict[str, str]],
) -> None:
    """The route's request metrics and the rate limit's headers, as the stack's layers give them."""
    _, gw, auth = gateway
    before, before_direct = accepted_count(), direct_count()
    answers = [
        await gw.post("/v1/issues", json=report(), headers=auth | {"traceparent": traceparent(sampled=False)})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert direct_count() == before_direct + 3
    assert accepted_count() == before + 3
    remaining = [int(a.headers["ratelimit"].split(";r=")[1].split(";")[0]) for a in answers]
    assert remaining[0] - remaining[2] == 2  # each counted once
    assert answers[0].headers["ratelimit-policy"].startswith('"user";q=10000;')


async def test_a_refusal_in_the_direct_answer_is_counted_and_timed_as_the_stack_counts_it(
    gateway: tuple[FastAPI, httpx.AsyncClient, dict[str, str]],
) -> None:
    """A report its route refuses (its attributes) is counted under its status and timed, once,
    whether the whole stack's layers or the direct answer handled it."""
    app, gw, auth = gateway
    refused = report(attributes={"colour": 3})
    for way in ("whole", "direct"):
        before, before_timed, before_direct = accepted_count(422), timed_count(), direct_count()
        with going(app, way):
            answer = await gw.post("/v1/issues", json=refused, headers=auth)
        assert answer.status_code == 422, way
        assert direct_count() == before_direct + (way == "direct")
        assert accepted_count(422) == before + 1, way
        assert timed_count() == before_timed + 1, way


async def _asgi_post(app: FastAPI, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, dict[str, str], bytes]:
    """``POST /v1/issues`` straight to the ASGI app, its body in ``chunks`` (as a client streams it)."""
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope("POST", "/v1/issues", [(k.encode(), v.encode()) for k, v in headers.items()])
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


async def test_a_body_in_chunks_is_read_whole_and_one_past_the_cap_is_left_to_the_stack(
    gateway: tuple[FastAPI, httpx.AsyncClient, dict[str, str]],
) -> None:
    app, _, auth = gateway
    content = orjson.dumps(report())
    chunks = [content[:10], content[10:20], content[20:]]
    headers = auth | {"content-type": "application/json", "content-length": str(len(content))}
    before_direct = direct_count()
    status, answered, body = await _asgi_post(app, headers | {"traceparent": traceparent(sampled=False)}, chunks)
    assert status == 202, body
    assert direct_count() == before_direct + 1
    assert answered["location"] == f"/v1/issues/{orjson.loads(body)['id']}"
    # A body longer than it said, past the cap: read up to the cap, then handed on as it came.
    big = orjson.dumps(report(description="x" * 300_000))
    chunks = [big[i : i + 65536] for i in range(0, len(big), 65536)]
    with whole_stack(app):
        whole = await _asgi_post(app, headers | {"traceparent": traceparent(sampled=False)}, list(chunks))
    lane = await _asgi_post(app, headers | {"traceparent": traceparent(sampled=False)}, list(chunks))
    assert direct_count() == before_direct + 1
    (whole_status, whole_headers, whole_body), (lane_status, lane_headers, lane_body) = whole, lane
    assert whole_status == lane_status == 413
    assert set(whole_headers) == set(lane_headers)
    assert orjson.loads(whole_body)["detail"] == orjson.loads(lane_body)["detail"]


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
    [command] = await read_topic(stack.kafka, Topic.ISSUES_COMMANDS, lambda r: _issue_id(r.value) == issue_id)
    version, carried_trace, span_id, flags = (header(command, "traceparent") or "").split("-")
    assert (version, carried_trace, flags) == ("00", trace_id, "00")
    assert span_id != caller_span  # the gateway's own (not recorded) server span is the parent
    assert orjson.loads(command.value)["correlation_id"] == accepted.headers["x-request-id"]


@pytest.mark.parametrize("plain", [False, True], ids=["by the stack", "directly"])
async def test_the_lane_counts_reports_against_the_rate_limit_and_refuses_past_it(stack: Stack, plain: bool) -> None:
    message = CategoryPublished(correlation_id="test", category=CATEGORY)
    await produce(stack.kafka, Topic.ISSUES_CATALOGUE, message.model_dump_json().encode(), key=CATEGORY.code.encode())
    async for app, gw in running_app(gateway_settings(stack, rate_limit_user="2/minute")):
        await until_known(app.state.catalogue, CATEGORY.code, CATEGORY.name)
        email = new_email()
        await register(gw, email)
        auth = bearer(await sign_in(gw, email))
        before, before_direct = lane_count(), direct_count()
        body = report() if plain else {"title": "?"}  # a plain report is answered directly, an invalid one by the stack
        answers = [
            await gw.post("/v1/issues", json=body, headers=auth | {"traceparent": traceparent(sampled=False)})
            for _ in range(3)
        ]
        assert lane_count() == before + 3
        assert direct_count() == before_direct + (3 if plain else 0)
        assert [a.status_code for a in answers] == ([202, 202, 429] if plain else [422, 422, 429])
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
        assert refused.headers["ratelimit"].startswith('"user";r=0;')
        assert refused.headers["x-request-id"]
        assert refused.json()["status"] == 429
