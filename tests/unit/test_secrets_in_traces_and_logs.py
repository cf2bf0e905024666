"""No secret a URL's query string carries leaves a process in a span or a log line: the server
span of a request, the client spans of HTTPX and aiohttp calls, an exception quoting a URL,
and every JSON log line. The spans go through the exporter the processes use
(``telemetry.export_to``), here into memory."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from snapfix_shared import telemetry
from snapfix_shared.logs import configure_logging
from snapfix_shared.redaction import redact
from tests.stack import free_port

pytestmark = pytest.mark.unit

SECRET = "s3cr3t-value-never-exported"
SECRET_QUERIES = [
    f"token={SECRET}",  # verify-email, password reset, unsubscribe
    f"api_key={SECRET}",  # Open311
    f"expires=1767225600&signature={SECRET}",  # upload URLs
]


def exported_text(spans: tuple[ReadableSpan, ...]) -> str:
    """Everything an exporter would send of these spans, as one string."""
    parts: list[Any] = []
    for span in spans:
        parts += [span.name, dict(span.attributes or {}), span.status.description]
        parts += [(e.name, dict(e.attributes or {})) for e in span.events]
    return repr(parts)


@pytest.fixture
def exported() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    telemetry.export_to(provider, memory)
    yield provider, memory
    provider.shutdown()


@pytest.mark.parametrize("query", SECRET_QUERIES)
async def test_a_server_span_keeps_no_secret_of_the_query_string(
    exported: tuple[TracerProvider, InMemorySpanExporter], query: str
) -> None:
    provider, memory = exported
    app = FastAPI()

    @app.get("/v1/auth/verify-email")
    async def verify() -> dict[str, str]:
        return {"ok": "yes"}

    telemetry.instrument_app(app, provider)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        assert (await client.get(f"/v1/auth/verify-email?{query}")).status_code == 200
    provider.force_flush()

    spans = memory.get_finished_spans()
    [server] = [s for s in spans if s.name.startswith("GET")]
    assert server.attributes is not None
    assert "REDACTED" in str(server.attributes.get("http.url", "")) + str(server.attributes.get("url.query", ""))
    assert SECRET not in exported_text(spans)
    if "expires" in query:  # what is not secret stays readable
        assert "expires=1767225600" in exported_text(spans)


@pytest.mark.parametrize("query", SECRET_QUERIES)
async def test_client_spans_of_httpx_and_aiohttp_keep_no_secret(
    exported: tuple[TracerProvider, InMemorySpanExporter], query: str
) -> None:
    provider, memory = exported

    async def answer(_request: web.Request) -> web.Response:
        return web.Response(status=403, text="no")

    upstream = web.Application()
    upstream.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(upstream, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/v1/media/m1/upload?{query}"
    try:
        transport = AsyncOpenTelemetryTransport(httpx.AsyncHTTPTransport(), tracer_provider=provider)
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.put(url, content=b"x")).status_code == 403
        traced = [create_trace_config(tracer_provider=provider)]
        async with aiohttp.ClientSession(trace_configs=traced) as session, session.put(url, data=b"x") as answered:
            assert answered.status == 403
    finally:
        await runner.cleanup()
    provider.force_flush()

    spans = memory.get_finished_spans()
    assert len(spans) == 2
    for span in spans:
        assert span.attributes is not None
        assert "REDACTED" in str(span.attributes.get("http.url", "")) + str(span.attributes.get("url.full", ""))
    assert SECRET not in exported_text(spans)


def test_an_exception_event_quoting_a_url_keeps_no_secret(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = exported
    tracer = provider.get_tracer("test")
    with pytest.raises(RuntimeError), tracer.start_as_current_span("call"):
        raise RuntimeError(f"403, message='Forbidden', url='http://media:8002/v1/uploads/1?signature={SECRET}'")
    provider.force_flush()

    [span] = memory.get_finished_spans()
    assert span.events
    assert SECRET not in exported_text((span,))
    assert "signature=REDACTED" in exported_text((span,))


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    configure_logging("test")
    stream = io.StringIO()
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    root.handlers[:], root.level = saved, level


@pytest.mark.parametrize("query", SECRET_QUERIES)
def test_a_log_line_keeps_no_secret_of_a_url(log_lines: io.StringIO, query: str) -> None:
    log = logging.getLogger("snapfix.test")
    log.warning("webhook to %s failed", f"https://hooks.example/in?{query}")
    # An access-log record as uvicorn writes one (client, method, path with query, version, status).
    logging.getLogger("uvicorn.error").warning(
        '%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", f"/v1/notifications/unsubscribe?{query}", "1.1", 200
    )
    try:
        raise ValueError(f"upstream refused https://media/v1/x?{query}")
    except ValueError:
        log.exception("call failed")

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert len(lines) == 3
    assert SECRET not in log_lines.getvalue()
    assert "REDACTED" in lines[0]["message"]
    assert "REDACTED" in lines[1]["message"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/v1/auth/verify-email?token=abc", "/v1/auth/verify-email?token=REDACTED"),
        ("token=abc&x=1", "token=REDACTED&x=1"),  # url.query
        ("/u?expires=17&signature=ab%2Fc", "/u?expires=17&signature=REDACTED"),
        ("/r.xml?API_KEY=k1&status=open", "/r.xml?API_KEY=REDACTED&status=open"),
        ('{"url": "https://h/x?sig=zz", "n": 1}', '{"url": "https://h/x?sig=REDACTED", "n": 1}'),
        ("/v1/issues?page_token=kept&monkey=kept", "/v1/issues?page_token=kept&monkey=kept"),
        ("no query at all", "no query at all"),
    ],
)
def test_only_the_values_of_secret_parameters_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected
