"""OpenTelemetry set-up: one tracer provider per process, exported by OTLP when the
standard ``OTEL_*`` variables ask for it, with Mongo, Redis and HTTP client (aiohttp, HTTPX) spans.

Sampling is parent-based and decided where a trace starts (the edge), so a trace is whole
or absent. ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` choose it as the SDK
defines them; unset, a tenth of new traces is kept (``DEFAULT_RATIO``). An unsampled
request still carries its trace id in every log line and in the propagated context, and
errors are counted by the metrics, so a failure stays findable when its trace was not kept.

Spans leave the process through ``RedactingSpanExporter``: the secrets URLs carry in their
query strings (e-mailed tokens, Open311 ``api_key``, upload signatures; ``redaction.py``)
are masked in every span's name, attributes, events and status, whichever instrumentation
recorded them (server spans' ``http.url``/``url.query``, client spans' ``http.url``/``url.full``,
an exception message quoting a URL).
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Scope

from snapfix_shared.redaction import redact
from snapfix_shared.server_span import ServerSpan

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


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes) and any(isinstance(v, str) for v in value):
        return tuple(redact(v) if isinstance(v, str) else v for v in value)
    return value


def _cleaned(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The attributes with secrets masked; None when nothing had to change."""
    if not attributes:
        return None
    cleaned = {key: _clean(value) for key, value in attributes.items()}
    return cleaned if any(cleaned[k] != v for k, v in attributes.items()) else None


def redacted(span: ReadableSpan) -> ReadableSpan:
    """``span``, or a copy of it with the secrets of URL query strings masked."""
    attributes = _cleaned(span.attributes)
    events = [(event, _cleaned(event.attributes)) for event in span.events]
    name = redact(span.name)
    description = span.status.description
    status = Status(span.status.status_code, redact(description)) if description else span.status
    if attributes is None and all(new is None for _, new in events) and name == span.name and status is span.status:
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes if attributes is not None else span.attributes,
        events=[e if new is None else Event(e.name, new, e.timestamp) for e, new in events],
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    """Hands finished spans to ``exporter`` with URL query secrets masked (``redaction.py``).

    A span's attributes cannot change once it ended, and instrumentations set the URL at
    different moments (the ASGI one sets it again after the span started), so the masking
    happens here, on the way out, for every instrumentation at once.
    """

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def export_to(provider: TracerProvider, exporter: SpanExporter) -> None:
    """Export ``provider``'s spans to ``exporter`` in batches, secrets masked."""
    provider.add_span_processor(BatchSpanProcessor(RedactingSpanExporter(exporter)))


# The trace id the next new trace of this context takes (``PresetTraceIds``), set by ``ServerSampling``.
_PRESET_TRACE_ID: ContextVar[int | None] = ContextVar("snapfix_preset_trace_id", default=None)


class PresetTraceIds(RandomIdGenerator):
    """Random ids, except a new trace's id when ``ServerSampling`` decided on it beforehand.

    So the tracing middleware's server span gets the trace id that its sampling was decided
    for, and the sampler (a function of the parent and the trace id) decides the same again.
    """

    def generate_trace_id(self) -> int:
        preset = _PRESET_TRACE_ID.get()
        if preset is None:
            return super().generate_trace_id()
        _PRESET_TRACE_ID.set(None)  # one trace only
        return preset


class ServerSampling:
    """Whether a request's trace is kept, decided before the tracing middleware runs.

    A request whose trace is dropped (not even recorded) needs nothing of the tracing middleware
    but the context it would make current (the propagated trace id, the not-sampled flag); a route can then
    serve it without that middleware (``snapfix_gateway.accept_lane``). ``unsampled`` gives that
    context, as the SDK makes it; for a kept trace it gives None and presets the trace id the
    middleware's span will take, so the decision is the one the SDK makes there.
    """

    def __init__(self, provider: TracerProvider, span_name: str) -> None:
        if not isinstance(provider.id_generator, PresetTraceIds):  # else a kept trace is decided twice
            raise TypeError("ServerSampling needs a tracer provider whose id generator is PresetTraceIds")
        self.provider, self.span_name = provider, span_name
        self.ids: PresetTraceIds = provider.id_generator
        self._textmap: Any = None
        self._fields: tuple[str, ...] = ()

    def unsampled(self, headers: Mapping[str, str]) -> otel_context.Context | None:
        parent = otel_context.Context()
        textmap = propagate.get_global_textmap()
        if textmap is not self._textmap:  # the headers the process's propagators read
            self._textmap, self._fields = textmap, tuple(textmap.fields)
        if any(field in headers for field in self._fields):  # none: nothing to extract (a phone's request)
            parent = textmap.extract(headers, context=parent)
        parent_span = trace.get_current_span(parent).get_span_context()
        new_trace = not parent_span.is_valid
        trace_id = self.ids.generate_trace_id() if new_trace else parent_span.trace_id
        decided = self.provider.sampler.should_sample(parent, trace_id, self.span_name, SpanKind.SERVER)
        if decided.decision is not Decision.DROP:  # recorded (and maybe exported): the middleware's span
            _PRESET_TRACE_ID.set(trace_id if new_trace else None)
            return None
        # What the SDK's tracer makes of a dropped decision (``Tracer.start_span``, which would
        # sample again to learn it): a span recording nothing, with a span id of its own, in this
        # trace, with the state the sampler gave, not sampled.
        span_context = trace.SpanContext(
            trace_id,
            self.ids.generate_span_id(),
            is_remote=False,
            trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
            trace_state=decided.trace_state,
        )
        return trace.set_span_in_context(trace.NonRecordingSpan(span_context), parent)


def setup_tracing(service: str) -> TracerProvider:
    """The process's tracer provider (created once), exporting over OTLP/HTTP if configured."""
    global _provider  # noqa: PLW0603 - one provider per process, set once
    if _provider is not None:
        return _provider
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", f"snapfix-{service}")})
    provider = TracerProvider(resource=resource, sampler=sampler(), id_generator=PresetTraceIds())
    if _otlp_requested():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        export_to(provider, OTLPSpanExporter(timeout=5))
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
    instrumented = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        stack = instrumented()
        server = getattr(stack, "app", None)  # the instrumentation's outermost error handler wraps its middleware
        if isinstance(server, OpenTelemetryMiddleware):
            server.default_span_details = RouteNames(app, server.default_span_details)
        return stack

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


def tracing_layers(stack: ASGIApp, inner: ASGIApp) -> ASGIApp:
    """The tracing layers the instrumentation built around the app's middleware (``instrument_app``),
    around ``inner``: for a route that serves some requests without the app's router.

    The instrumented stack is: an error middleware of its own, the tracing middleware (the server
    span), the app's error middleware, the instrumentation's exception recorder, then the app's
    middleware. Copies of the two error layers keep what each was given and wrap ``inner``
    instead (``inner`` has the app's error middleware of its own); the tracing middleware's span
    is made by ``ServerSpan`` from that middleware's own parts, without its other work.
    """
    errors, tracing = stack, getattr(stack, "app", None)
    app_errors = getattr(tracing, "app", None)
    recorder = getattr(app_errors, "app", None)
    if not (
        isinstance(errors, ServerErrorMiddleware)
        and isinstance(tracing, OpenTelemetryMiddleware)
        and isinstance(app_errors, ServerErrorMiddleware)
        and recorder is not None
    ):
        raise TypeError("the app's stack is not the one the FastAPI instrumentation builds")
    recording = copy.copy(recorder)
    recording.app = inner
    outer = copy.copy(errors)
    outer.app = ServerSpan(tracing, recording)  # the tracing middleware's span, without its other work
    return outer


SpanDetails = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]


class RouteNames:
    """A server span's name and ``http.route``, looked up once per method and path (the last 4,096 kept).

    The FastAPI instrumentation finds a request's route template by matching the request against
    the app's routes, one by one, for every request (before the router does the same): 7.5 % of the
    gateway's CPU under the accept benchmark. An app's routes do not change once it serves, so
    the answer for a method and path is the same every time.
    """

    def __init__(self, app: Any, lookup: SpanDetails) -> None:
        self.app, self.lookup = app, lookup
        self.named = functools.lru_cache(maxsize=4096)(self._named)

    def __call__(self, scope: Scope) -> tuple[str, dict[str, Any]]:
        name, attributes = self.named(scope["type"], scope.get("method", ""), scope.get("root_path", ""), scope["path"])
        return name, dict(attributes)

    def _named(self, kind: str, method: str, root_path: str, path: str) -> tuple[str, dict[str, Any]]:
        scope = {"type": kind, "method": method, "root_path": root_path, "path": path, "app": self.app, "headers": []}
        return self.lookup(scope)


def flush() -> None:
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)
