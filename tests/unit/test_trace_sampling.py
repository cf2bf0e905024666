"""Trace sampling: a tenth of new traces by default, whole traces only, the standard variables override."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

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
