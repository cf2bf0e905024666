"""The issues service's HTTP query API (internal: reached through the gateway).

The gateway authenticates and passes the viewer in its internal token
(``snapfix_shared.viewer``); public reads need none (an anonymous viewer), the rest answer
401 without a valid one. Lists answer ``{"items": [...], "next_cursor": str | null}``.

Answers are JSON bytes written here by orjson (or kept rendered: ``rendered.py``), not
FastAPI's serialization: their bodies are documented by the models of ``schemas.py``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from snapfix_issues import rendered
from snapfix_issues.api import categories, issues, listings
from snapfix_issues.api.deps import get_readmodel
from snapfix_issues.service import StoreError
from snapfix_shared.problems import ServiceUnavailable, problem_response

log = logging.getLogger(__name__)


# Paths answered from the read model: the store's circuit guards only their fallbacks (``load_issue``),
# so a slow or failing store does not refuse what Redis can answer.
READ_MODEL_PATHS = ("/v1/issues", "/v1/map/", "/v1/users/", "/v1/staff/")


def needs_store(path: str) -> bool:
    return not path.startswith(READ_MODEL_PATHS)


def install(app: FastAPI) -> None:
    """The routes, and the store's failures as 503 (the client should come back later)."""
    app.state.rendered = rendered.RenderedViews()
    app.include_router(categories.router)
    app.include_router(issues.router)
    app.include_router(listings.router)

    @app.exception_handler(StoreError)
    async def _store_down(request: Request, exc: StoreError) -> JSONResponse:
        problem = ServiceUnavailable(f"The issue store is not answering ({type(exc).__name__}).")
        log.warning("%s %s -> 503: %r", request.method, request.url.path, exc)
        return problem_response(request, 503, problem.title, problem.detail, headers=problem.headers)


__all__ = ["get_readmodel", "install", "needs_store"]
