"""The gateway's OpenAPI document tells what the gateway answers, and ``Allow`` tells which methods a path takes.

FastAPI documents what each route declares. What the edge adds around every route, it does
not know: the problem+json errors (``snapfix_shared.problems``, never FastAPI's
``HTTPValidationError``), the rate limiter's 429 and ``RateLimit`` headers, the body cap's 413,
the ``Idempotency-Key`` of every POST with its 400/409/422, the 503 of a dependency down. This
module derives them from each route once, in one place: from its dependencies (a signed-in
user → 401, staff or admin → 403, anything that calls a store or a service → 503), its
parameters (→ 422), its body (→ 400, 413), its method (POST → ``Idempotency-Key``) and its
path parameters (→ 404). A route's own ``responses=`` add to these (a relayed 409, a 410) and
keep their descriptions.

``MethodsMiddleware`` (``openapi_methods``) answers a method a path does not take with 405 and the ``Allow`` of every
route of that path (Starlette names only the first route's methods), choosing, when templates
overlap (``/v1/media/{id}/upload`` and ``/v1/media/{id}/{variant}``), the most specific one, as
the document does.

The fixed parts (problem schemas, headers, descriptions, links) are in ``openapi_parts``.

``make openapi`` writes the document to ``docs/openapi.json``; a unit test keeps it in step.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.openapi.utils import _get_api_route_for_openapi, get_openapi
from pydantic import BaseModel

from snapfix_gateway import deps
from snapfix_gateway.openapi_methods import MethodsMiddleware
from snapfix_gateway.openapi_parts import (
    _CONDITIONAL,
    _DESCRIPTIONS,
    _EVENT,
    _LINKS,
    _LOCAL,
    _OPEN311,
    _PRIVILEGED,
    _RELAYED_ANSWERS,
    _RELAYED_BODIES,
    _SIGNED_IN,
    _STRING,
    HEADERS,
    IDEMPOTENCY_KEY,
    PROBLEM_REF,
    SCHEMAS,
    VALIDATION_PROBLEM_REF,
)
from snapfix_shared.problems import PROBLEM_JSON


@dataclass(frozen=True)
class RouteFacts:
    method: str
    path: str
    calls: frozenset[Callable[..., Any]]
    has_params: bool
    has_body: bool
    has_path_params: bool
    has_cursor: bool = False

    def errors(self) -> set[int]:
        """The problem answers this route can give, whatever it declares itself."""
        statuses = {429}
        if self.calls & _SIGNED_IN:
            statuses.add(401)
        if self.calls & _PRIVILEGED:
            statuses.add(403)
        if self.has_params or self.has_body:
            statuses.add(422)
        if self.has_body:
            statuses |= {400, 413}
        if self.has_path_params:
            statuses.add(404)
        if self.has_cursor:  # a cursor the owner did not give out: 400 or 422, as the owner answers
            statuses |= {400, 422}
        if self.method == "POST":  # Idempotency-Key: invalid, in progress, reused; Redis too busy to claim it
            statuses |= {400, 409, 422, 503}
        if self.calls - _LOCAL:
            statuses.add(503)
        if self.path.startswith(_OPEN311):  # GeoReport v2: 403 and 404 stay, every other refusal is a 400
            statuses |= {400, 403, 404}
        return statuses


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def route_facts(app: FastAPI) -> Iterator[RouteFacts]:
    for context in routing.iter_route_contexts(app.routes):
        route = _get_api_route_for_openapi(context)
        if route is None or not route.include_in_schema:
            continue
        everything = list(_walk(route.dependant))
        # The dependencies' functions; the endpoint's own is not one.
        calls = frozenset(d.call for d in everything[1:] if d.call is not None)
        has_body = any(d.body_params for d in everything) or "requestBody" in (route.openapi_extra or {})
        has_params = any(d.query_params or d.header_params or d.path_params or d.cookie_params for d in everything)
        has_path = any(d.path_params for d in everything)
        # Flattened as FastAPI documents them: a query model's fields count one by one.
        cursor = any(p.alias == "cursor" for p in get_flat_params(route.dependant))
        for method in sorted(route.methods):
            yield RouteFacts(method, route.path_format, calls, has_params, has_body, has_path, cursor)


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app``, with what the edge answers around every route."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(SCHEMAS)
    components["headers"] = HEADERS
    for facts in route_facts(app):
        operation = doc["paths"][facts.path][facts.method.lower()]
        _relayed(operation, (facts.method, facts.path), schemas)
        _complete(operation, facts)
    _link(doc)
    return doc


def _link(doc: dict[str, Any]) -> None:
    for (method, path, status), links in _LINKS.items():
        response = doc["paths"][path][method.lower()]["responses"][status]
        response["links"] = {
            name: {"operationId": doc["paths"][to_path][to_method.lower()]["operationId"], "parameters": parameters}
            for name, (to_method, to_path, parameters) in links.items()
        }


def render(app: FastAPI) -> str:
    """The document as ``docs/openapi.json`` keeps it."""
    return json.dumps(document(app), indent=2, ensure_ascii=False) + "\n"


def _schema_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _relayed(operation: dict[str, Any], route: tuple[str, str], schemas: dict[str, Any]) -> None:
    if (body := _RELAYED_BODIES.get(route)) is not None:
        content = {"application/json": {"schema": _schema_ref(body, schemas)}}
        operation["requestBody"] = {"required": True, "content": content}
    for code, (model, description) in _RELAYED_ANSWERS.get(route, {}).items():
        content = {"application/json": {"schema": _schema_ref(model, schemas)}}
        operation.setdefault("responses", {})[code] = {"description": description, "content": content}


def _header(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _complete(operation: dict[str, Any], facts: RouteFacts) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in facts.errors():
        responses.setdefault(str(status), {})
    if (facts.method, facts.path) in _CONDITIONAL:
        responses.setdefault("304", {"description": "Not modified (`If-None-Match`): no body"})
        if not any(p.get("name", "").lower() == "if-none-match" for p in operation.get("parameters", [])):
            operation.setdefault("parameters", []).append(
                {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}
            )
    if facts.method == "POST":
        operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    if deps.get_optional_principal in facts.calls and deps.get_principal not in facts.calls:
        # Anonymous visitors are welcome; a token, when sent, must be valid.
        operation["security"] = [*operation.get("security", []), {}]
    for code, response in responses.items():
        _complete_response(response, int(code), facts)


def _complete_response(response: dict[str, Any], status: int, facts: RouteFacts) -> None:
    """One answer's description, headers and content as the edge sends it."""
    open311 = facts.path.startswith(_OPEN311)
    if response.get("description") in {None, "", "Validation Error"}:  # FastAPI's own, for its own shape
        response["description"] = _DESCRIPTIONS.get(status) or HTTPStatus(status).phrase
    response.setdefault("headers", {}).update(_headers(facts, status))
    if status >= 400:
        response["content"] = _error_content(status, open311=open311)
    elif open311 and status in {200, 201}:
        response["content"] = {
            "application/json": response.get("content", {}).get("application/json", {"schema": {}}),
            "text/xml": _STRING,
        }
    elif status in {204, 304}:
        response.pop("content", None)
    if (stream := response.get("content", {}).get("text/event-stream")) is not None:
        stream["schema"] = _EVENT


def _headers(facts: RouteFacts, status: int) -> dict[str, dict[str, str]]:
    """The headers an answer with this status may carry (none of them on every one: all optional)."""
    names = ["RateLimit", "RateLimit-Policy"]
    if status in {409, 429, 503}:
        names.append("Retry-After")
    if status == 401:
        names.append("WWW-Authenticate")
    if status in {201, 202}:
        names.append("Location")
    if (facts.method, facts.path) in _CONDITIONAL and status in {200, 304}:
        names.append("ETag")
    if facts.method == "POST" and 200 <= status < 300:
        names.append("Idempotent-Replayed")
    return {name: _header(name) for name in names}


def _error_content(status: int, *, open311: bool) -> dict[str, Any]:
    content: dict[str, Any] = {PROBLEM_JSON: {"schema": VALIDATION_PROBLEM_REF if status == 422 else PROBLEM_REF}}
    if open311:  # GeoReport v2 answers its errors in the format asked for
        content |= {"application/json": {"schema": {"$ref": "#/components/schemas/Open311Errors"}}, "text/xml": _STRING}
    return content


def install(app: FastAPI) -> None:
    """The complete document at ``/openapi.json`` (and the docs), and 405 with the right ``Allow``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(MethodsMiddleware, fastapi=app)


def main() -> None:
    """``python -m snapfix_gateway.openapi PATH``: write the document (``make openapi``)."""
    from pathlib import Path

    from snapfix_gateway.app import create_app

    Path(sys.argv[1]).write_text(render(create_app()), encoding="utf-8")


if __name__ == "__main__":
    main()
