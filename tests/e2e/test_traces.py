"""One user action is one trace, across every process it touches.

The five real processes export their spans by OTLP (configured by the standard ``OTEL_*``
variables) to a receiver in the test. A report goes gateway HTTP → Kafka → the issues
consumer (and its Mongo calls) → IssueReported → the notify consumer (the reporter is told)
and the analytics consumer (the statistics move).

The consumers take records in batches, so, as OpenTelemetry's messaging conventions say for
batches, a consumer's processing span *links* the trace of each message it processed (a
batch serves many traces), its own calls are its children, and the events it publishes
carry the originating message's trace. The test follows exactly that chain.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from snapfix_shared.topics import Topic
from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually
from tests.e2e.conftest import System
from tests.otlp import ReceivedSpan

pytestmark = pytest.mark.e2e


def _in(spans: list[ReceivedSpan], service: str, *, name_has: str = "", **attributes: str) -> list[ReceivedSpan]:
    return [
        s
        for s in spans
        if s.service == service and name_has in s.name and all(s.attributes.get(k) == v for k, v in attributes.items())
    ]


async def test_a_report_is_one_trace_from_the_gateway_through_kafka_to_every_consumer(system: System) -> None:
    client = await citizen(system)
    # Every span of this report's trace (and of the batches that link it) arrives after this
    # point: the passes below read only those, not the whole session's (hundreds of thousands
    # at the end of the suite, where one pass over them all took longer than the deadline).
    since = system.traces.count()
    try:
        accepted = await client.post("/v1/issues", json=make_report_body())
        assert accepted.status_code == 202, accepted.text
        await eventually(client, accepted.headers["location"], lambda _: True)
    finally:
        await client.aclose()
    request_id = accepted.headers["x-request-id"]

    deadline = time.monotonic() + 60
    missing: list[str] = ["the gateway's HTTP span"]
    while time.monotonic() < deadline:
        spans = system.traces.snapshot(since=since)
        # The request's traces: those of a span that carries its id as the conversation id.
        requested = {t.trace_id for t in spans if t.attributes.get("messaging.message.conversation_id") == request_id}
        roots = [s for s in _in(spans, "snapfix-gateway", name_has="POST /v1/issues") if s.trace_id in requested]
        if roots:
            trace_id = roots[0].trace_id
            trace = [s for s in spans if s.trace_id == trace_id]
            # A batch consumer's spans: in this trace, or in a trace whose span links this one.
            serving = {s.trace_id for s in spans if trace_id in s.linked_traces}
            consumed = [s for s in spans if s.trace_id == trace_id or s.trace_id in serving]
            issues_consumer = _in(consumed, "snapfix-issues", name_has=Topic.ISSUES_COMMANDS)
            issues_traces = {s.trace_id for s in issues_consumer}
            hops = {
                "the gateway's publish of the command": _in(trace, "snapfix-gateway", name_has=Topic.ISSUES_COMMANDS),
                "the issues consumer": issues_consumer,
                "the issues consumer's Mongo calls": [
                    s for s in _in(spans, "snapfix-issues", **{"db.system": "mongodb"}) if s.trace_id in issues_traces
                ],
                "the issues service's IssueReported": _in(trace, "snapfix-issues", name_has=Topic.ISSUES_EVENTS),
                "the notify consumer": _in(consumed, "snapfix-notify", name_has=Topic.ISSUES_EVENTS),
                "the analytics consumer": _in(consumed, "snapfix-analytics", name_has=Topic.ISSUES_EVENTS),
            }
            missing = [hop for hop, found in hops.items() if not found]
            if not missing:
                ids = {s.span_id for s in trace}
                # The gateway's server span may have a parent in the caller (an instrumented client).
                orphans = [
                    s for s in trace if s.parent_span_id and s.parent_span_id not in ids and s.name != "POST /v1/issues"
                ]
                # Spans still in flight in another process's exporter may arrive a little later.
                if not orphans:
                    return
                missing = [f"the parents of {[(o.service, o.name) for o in orphans]}"]
        await asyncio.sleep(0.5)
    pytest.fail(f"the report's trace lacks {', '.join(missing)}")
