"""A published message carries its trace context; a producer span is made only for a sampled trace."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from snapfix_shared import kafka
from snapfix_shared.topics import Topic
from tests.builders import make_report_command

pytestmark = pytest.mark.unit

TRACE_ID, PARENT_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7


class Producer:
    """Takes messages as aiokafka's producer does (a future of the broker's answer), keeping their headers."""

    def __init__(self) -> None:
        self.headers: list[dict[str, bytes]] = []
        self.client = SimpleNamespace(cluster=SimpleNamespace(partitions_for_topic=lambda _topic: {0, 1, 2}))

    async def send(
        self, _topic: str, *, value: bytes, key: bytes, partition: int | None, headers: list[tuple[str, bytes]]
    ) -> Any:
        assert value
        assert key
        assert partition in {0, 1, 2}
        self.headers.append(dict(headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    provider, memory = TracerProvider(), InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(kafka, "_tracer", provider.get_tracer("test"))
    yield memory
    provider.shutdown()


def parent(sampled: bool) -> Any:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    context = SpanContext(TRACE_ID, PARENT_ID, is_remote=True, trace_flags=flags)
    return trace.set_span_in_context(NonRecordingSpan(context))


async def test_a_sampled_trace_gets_a_producer_span_and_passes_it_on(spans: InMemorySpanExporter) -> None:
    producer = Producer()
    await kafka._send(producer, Topic.ISSUES_COMMANDS, make_report_command(), parent(True), "/test")  # type: ignore[arg-type]
    (span,) = spans.get_finished_spans()
    assert span.name == f"{Topic.ISSUES_COMMANDS} publish"
    assert span.context is not None
    assert span.context.trace_id == TRACE_ID
    assert span.parent is not None
    assert span.parent.span_id == PARENT_ID
    sent = producer.headers[0]["traceparent"].decode()
    assert sent == f"00-{TRACE_ID:032x}-{span.context.span_id:016x}-01"


async def test_a_trace_not_sampled_passes_its_context_on_without_a_span(spans: InMemorySpanExporter) -> None:
    producer = Producer()
    await kafka._send(producer, Topic.ISSUES_COMMANDS, make_report_command(), parent(False), "/test")  # type: ignore[arg-type]
    assert spans.get_finished_spans() == ()
    assert producer.headers[0]["traceparent"].decode() == f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-00"
    assert producer.headers[0]["ce_type"]  # the CloudEvents headers go either way
