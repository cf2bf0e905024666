"""The tracing middleware's server span, made for one route without the middleware's other work.

OpenTelemetry's ASGI middleware, for every request it traces, also sets each of the span's
attributes a second time (they were given when it started), wraps ``receive``, reads headers
by scanning them all for each name, and keeps its HTTP metrics (request and response sizes,
durations, active requests: two sets of attributes each). For a sampled report in the accept
lane that was most of what tracing it cost: 0.24 ms more than an unsampled one, in process,
a tenth of reports at the default ratio.

``ServerSpan`` makes the span that middleware makes, with its own parts (its tracer, span
names, semantic-convention mode, captured headers and hooks, the instrumentation's
``collect_request_attributes`` and ``_start_internal_or_server_span``), and sets its status as
the middleware does when the response starts. It leaves out the middleware's OpenTelemetry
HTTP metrics: no meter provider is configured (the processes' metrics are Prometheus's,
which count every request), as for an unsampled report in the lane, which skips the
middleware altogether.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import (
    OpenTelemetryMiddleware,
    asgi_getter,
    asgi_setter,
    collect_custom_headers_attributes,
    collect_request_attributes,
)
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.instrumentation.utils import _start_internal_or_server_span, is_http_instrumentation_enabled
from opentelemetry.util.http import normalise_request_header_name
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerSpan:
    """``tracing``'s server span around ``app``, for the HTTP requests of a route the middleware
    traces (not one of its excluded URLs)."""

    def __init__(self, tracing: OpenTelemetryMiddleware, app: ASGIApp) -> None:
        self.tracing, self.app = tracing, app
        self.mode: Any = tracing._sem_conv_opt_in_mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracing = self.tracing
        if scope["type"] != "http" or not is_http_instrumentation_enabled():  # as the middleware: not traced
            await self.app(scope, receive, send)
            return
        name, route_attributes = tracing.default_span_details(scope)  # type: ignore[arg-type]
        attributes = collect_request_attributes(scope, self.mode)  # type: ignore[no-untyped-call]
        attributes.update(route_attributes)
        span, token = _start_internal_or_server_span(  # type: ignore[no-untyped-call]
            tracer=tracing.tracer,
            span_name=name,
            start_time=None,
            context_carrier=scope,
            context_getter=asgi_getter,
            attributes=attributes,
        )
        try:
            with trace.use_span(span, end_on_exit=False):
                captured = tracing.http_capture_headers_server_request
                if captured and span.is_recording() and span.kind == trace.SpanKind.SERVER:
                    sanitize = tracing.http_capture_headers_sanitize_fields
                    headers = collect_custom_headers_attributes(
                        dict(scope), sanitize, captured, normalise_request_header_name
                    )
                    span.set_attributes(headers)
                if callable(tracing.server_request_hook):
                    tracing.server_request_hook(span, scope)
                await self.app(scope, receive, self._sending(span, send))
        finally:
            if token:
                otel_context.detach(token)
            if span.is_recording():
                span.end()

    def _sending(self, span: trace.Span, send: Send) -> Send:
        tracing = self.tracing

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The status (and captured response headers), as the middleware sets them.
                tracing._set_server_span(span, message, message["status"], {})  # type: ignore[no-untyped-call]
                propagator = get_global_response_propagator()  # type: ignore[no-untyped-call]
                if propagator:
                    propagator.inject(
                        message, context=trace.set_span_in_context(span, otel_context.Context()), setter=asgi_setter
                    )
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                span.end()

        return sending
