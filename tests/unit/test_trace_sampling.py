"""Trace sampling: a tenth of new traces by default, whole traces only, the standard variables override."""

from __future__ import annotations

import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, set_span_in_context

from snapfix_shared import telemetry

pytestmark = pytest.mark.unit


def _kept(sampler: Sampler, trace_ids: range, parent_sampled: bool | None = None) -> int:
    kept = 0
    for trace_id in trace_ids:
        context = None
        if parent_sampled is not None:
            flags = TraceFlags(TraceFlags.SAMPLED if parent_sampled else TraceFlags.DEFAULT)
            parent = SpanContext(trace_id, 0xABCDEF, is_remote=True, trace_flags=flags)
            context = set_span_in_context(NonRecordingSpan(parent))
        result = sampler.should_sample(context, trace_id, "GET /v1/issues")
        kept += result.decision == Decision.RECORD_AND_SAMPLE
    return kept


def test_without_the_variable_a_tenth_of_new_traces_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    sampler = telemetry.sampler()
    assert sampler is not None
    # Trace ids spread over the whole 64-bit range the ratio sampler compares.
    ids = range(1, 2**64, 2**64 // 10_000)
    assert 800 <= _kept(sampler, ids) <= 1200


def test_a_child_follows_its_parents_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    sampler = telemetry.sampler()
    assert sampler is not None
    ids = range(1, 2**64, 2**64 // 1_000)
    assert _kept(sampler, ids, parent_sampled=True) == len(ids)  # never a trace with holes
    assert _kept(sampler, ids, parent_sampled=False) == 0


def test_the_standard_variable_decides_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    assert telemetry.sampler() is None  # the SDK reads OTEL_TRACES_SAMPLER itself


def test_the_decision_taken_before_the_middleware_is_the_one_its_span_gets() -> None:
    """``ServerSampling`` decides for a request before the tracing middleware; the middleware's
    span, started after it (a new trace), must be kept exactly when that decision kept it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5)), id_generator=telemetry.PresetTraceIds())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sampling = telemetry.ServerSampling(provider, "POST /v1/issues")
    middleware = provider.get_tracer("the tracing middleware")
    kept_here, dropped_here = [], []
    for _ in range(400):
        unsampled = sampling.unsampled({})
        if unsampled is None:  # kept: the middleware starts the server span
            span = middleware.start_span("POST /v1/issues", kind=SpanKind.SERVER)
            span.end()
            kept_here.append(span.get_span_context().trace_id)
        else:  # the request's context: a span of a new trace, not recorded
            span_context = trace.get_current_span(unsampled).get_span_context()
            assert span_context.is_valid
            assert not span_context.trace_flags.sampled
            dropped_here.append(span_context.trace_id)
    exported = [span.context.trace_id for span in exporter.get_finished_spans()]
    assert exported == kept_here  # every kept request's span was recorded, with its preset trace id
    assert 120 < len(kept_here) < 280  # about half, as the ratio says: each decided once, not twice
    assert len(set(kept_here + dropped_here)) == 400  # and a new trace for every request
    # The preset id is taken once: the next new trace has an id of its own.
    sampling.unsampled({})
    first = middleware.start_span("a").get_span_context().trace_id
    assert middleware.start_span("b").get_span_context().trace_id != first


def test_the_decision_follows_the_callers_trace() -> None:
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5)), id_generator=telemetry.PresetTraceIds())
    sampling = telemetry.ServerSampling(provider, "POST /v1/issues")
    trace_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736
    sampled = f"00-{trace_id:032x}-00f067aa0ba902b7-01"
    assert sampling.unsampled({"traceparent": sampled}) is None
    unsampled = sampling.unsampled({"traceparent": sampled[:-2] + "00"})
    assert unsampled is not None
    span_context = trace.get_current_span(unsampled).get_span_context()
    assert span_context.trace_id == trace_id
    assert span_context.span_id != 0x00F067AA0BA902B7  # the server's own span, under the caller's


def test_a_dropped_trace_keeps_the_callers_trace_state_and_baggage_as_the_sdk_would() -> None:
    """The context a dropped request gets is the SDK's own for it: the one its tracer gives a span
    started under the caller's context (same trace, state and flags; baggage kept)."""
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5)), id_generator=telemetry.PresetTraceIds())
    sampling = telemetry.ServerSampling(provider, "POST /v1/issues")
    trace_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736
    headers = {
        "traceparent": f"00-{trace_id:032x}-00f067aa0ba902b7-00",
        "tracestate": "vendor=opaque",
        "baggage": "ward=17",
    }
    unsampled = sampling.unsampled(headers)
    assert unsampled is not None
    ours = trace.get_current_span(unsampled).get_span_context()
    caller = propagate.extract(headers, context=otel_context.Context())
    sdks = provider.get_tracer("sdk").start_span("POST /v1/issues", context=caller, kind=SpanKind.SERVER)
    theirs = sdks.get_span_context()
    assert not sdks.is_recording()
    assert not trace.get_current_span(unsampled).is_recording()
    assert (ours.trace_id, ours.trace_flags, ours.trace_state, ours.is_remote) == (
        theirs.trace_id,
        theirs.trace_flags,
        theirs.trace_state,
        theirs.is_remote,
    )
    assert ours.trace_state.get("vendor") == "opaque"
    assert baggage.get_baggage("ward", unsampled) == "17"
    # Baggage alone (no caller's trace) is still read: a new trace, the caller's baggage.
    dropping = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)), id_generator=telemetry.PresetTraceIds())
    only_baggage = telemetry.ServerSampling(dropping, "POST /v1/issues").unsampled({"baggage": "ward=18"})
    assert only_baggage is not None
    assert trace.get_current_span(only_baggage).get_span_context().trace_id != trace_id
    assert baggage.get_baggage("ward", only_baggage) == "18"


def test_deciding_beforehand_needs_the_preset_trace_ids() -> None:
    # With random ids only, the middleware's span would be decided again on another trace id.
    with pytest.raises(TypeError, match="PresetTraceIds"):
        telemetry.ServerSampling(TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5))), "POST /v1/issues")
