"""OpenTelemetry set-up: one tracer provider per process, exported by OTLP when the
standard ``OTEL_*`` variables ask for it, with Mongo, Redis and HTTP client (aiohttp, HTTPX) spans.

Sampling is parent-based and decided where a trace starts (the edge), so a trace is whole
or absent. ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` choose it as the SDK
defines them; unset, a tenth of new traces is kept (``DEFAULT_RATIO``). An unsampled
request still carries its trace id in every log line and in the propagated context, and
errors are counted by the metrics, so a failure stays findable when its trace was not kept.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased

_provider: TracerProvider | None = None

HEALTH_URLS = "livez,readyz,metrics"
# The share of new traces kept when OTEL_TRACES_SAMPLER does not say.
DEFAULT_RATIO = 0.1


def _otlp_requested() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower() == "none":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def sampler() -> Sampler | None:
    """None when OTEL_TRACES_SAMPLER is set (the SDK reads it); else parent-based, DEFAULT_RATIO."""
    if os.environ.get("OTEL_TRACES_SAMPLER"):
        return None
    return ParentBased(TraceIdRatioBased(DEFAULT_RATIO))


def setup_tracing(service: str) -> TracerProvider:
    """The process's tracer provider (created once), exporting over OTLP/HTTP if configured."""
    global _provider  # noqa: PLW0603 - one provider per process, set once
    if _provider is not None:
        return _provider
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", f"snapfix-{service}")})
    provider = TracerProvider(resource=resource, sampler=sampler())
    if _otlp_requested():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(timeout=5)))
    trace.set_tracer_provider(provider)
    PymongoInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    AioHttpClientInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    # One server span per request; the ASGI receive/send sub-spans cost more than they tell.
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=HEALTH_URLS, exclude_spans=["receive", "send"]
    )


def flush() -> None:
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)
