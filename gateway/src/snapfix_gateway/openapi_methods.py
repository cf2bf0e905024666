"""405 with the right ``Allow``: the method of a request against the path templates of the gateway's routes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI, routing
from fastapi.openapi.utils import _get_api_route_for_openapi
from starlette.types import ASGIApp, Receive, Scope, Send

from snapfix_shared.problems import send_problem

# -- 405 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Template:
    pattern: re.Pattern[str]
    params: int
    methods: frozenset[str]


def _templates(app: FastAPI) -> dict[int, list[_Template]]:
    """Every route's path template, by its number of segments (a few to try per request)."""
    by_path: dict[str, set[str]] = {}
    for context in routing.iter_route_contexts(app.routes):
        route = _get_api_route_for_openapi(context)
        path = route.path_format if route is not None else getattr(context.route, "path", None)
        methods = route.methods if route is not None else getattr(context.route, "methods", None)
        if path and methods:
            by_path.setdefault(path, set()).update(methods)
    grouped: dict[int, list[_Template]] = {}
    for path, methods in by_path.items():
        regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"
        allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())
        template = _Template(re.compile(regex), path.count("{"), frozenset(allowed))
        grouped.setdefault(path.count("/"), []).append(template)
    return grouped


class MethodsMiddleware:
    """405 with the ``Allow`` of the path's most specific template, for a method it does not take."""

    def __init__(self, app: ASGIApp, *, fastapi: FastAPI) -> None:
        self.app, self.fastapi = app, fastapi
        self._grouped: dict[int, list[_Template]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._grouped is None:  # the routes are all included once the first request arrives
            self._grouped = _templates(self.fastapi)
        path: str = scope["path"]
        matching = [t for t in self._grouped.get(path.count("/"), ()) if t.pattern.match(path)]
        if matching:
            fewest = min(t.params for t in matching)
            allowed = frozenset().union(*(t.methods for t in matching if t.params == fewest))
            if scope["method"] not in allowed:
                allow = ", ".join(sorted(allowed))
                detail = f"{scope['method']} is not allowed here; this path takes {allow}."
                headers = [(b"allow", allow.encode())]
                await send_problem(scope, send, 405, "Method Not Allowed", detail, headers=headers)
                return
        await self.app(scope, receive, send)
