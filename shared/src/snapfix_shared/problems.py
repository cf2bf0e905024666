"""RFC 9457 problem details: every HTTP error SnapFix returns is ``application/problem+json``."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error with a status, a short title and a human-readable detail."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.type = status, title, detail, type_
        self.headers = headers or {}
        self.extra = extra or {}


class ServiceUnavailable(Problem):
    """Overload or a dependency down: the client should retry after a while."""

    def __init__(self, detail: str, *, retry_after_s: int = 2) -> None:
        super().__init__(503, "Service Unavailable", detail, headers={"Retry-After": str(retry_after_s)})


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "instance": request.url.path}
    if detail:
        body["detail"] = detail
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    title: str,
    detail: str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """The same problem from a pure ASGI middleware, which answers before any route or handler."""
    body = orjson.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": scope.get("path", "")}
    )
    start = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*start, *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        if exc.status >= 500:  # our side failed: visible in the logs, with its cause
            cause = exc.__cause__
            log.warning(
                "%s %s -> %d: %s (%s)", request.method, request.url.path, exc.status, exc.detail, repr(cause)[:300]
            )
        return problem_response(
            request, exc.status, exc.title, exc.detail, type_=exc.type, headers=exc.headers, extra=exc.extra
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large"}.get(
            exc.status_code, "HTTP Error"
        )
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(request, exc.status_code, title, detail, headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                # The field as the client named it (``title``, ``attributes.depth``), then the full location.
                "field": ".".join(str(p) for p in err.get("loc", ())[1:]) or str(err.get("loc", ("",))[0]),
                "location": [str(p) for p in err.get("loc", ())],
                "message": err.get("msg", ""),
                "type": err.get("type"),
            }
            for err in exc.errors()
        ]
        return problem_response(
            request, 422, "Unprocessable Content", "The request is not valid.", extra={"errors": errors}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(request, 500, "Internal Server Error", "An unexpected error occurred.")
