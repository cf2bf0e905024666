"""``POST /v1/issues``, the edge's hottest route, with its dependencies resolved by hand.

FastAPI's generic dependency solver cost about a seventh of the gateway's CPU under the accept
benchmark (py-spy: ``solve_dependencies`` 13 % of the process's samples, more than the Kafka
publish). This route's dependencies are the process's singletons and the request's own values,
so for the common request (a JSON object that is a valid report, no dependency overridden) they
are resolved directly: the same dependency functions, called in the same order, then the same
endpoint and FastAPI's own serializer. Every other request (another content type, a body that
does not parse or validate, overrides in tests) goes through FastAPI's handler, so every
refusal is FastAPI's, word for word.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute, serialize_response

from snapfix_gateway.commands import get_submitter
from snapfix_gateway.deps import get_optional_principal, get_principal, get_request_id, oauth2_scheme
from snapfix_gateway.verified_email import reporter_verified

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# The endpoint's parameters, in the order FastAPI resolves them.
PARAMETERS = ("_verified", "body", "submit")


class ReportRoute(APIRoute):
    """An ``APIRoute`` (same OpenAPI, same matching) whose handler resolves the report's dependencies itself."""

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        if tuple(inspect.signature(self.endpoint).parameters) != PARAMETERS:
            raise TypeError(f"{self.path}: ReportRoute resolves {PARAMETERS}, the endpoint takes others")
        assert self.body_field is not None
        assert self.response_field is not None
        body_field, response_field, endpoint = self.body_field, self.response_field, self.endpoint

        async def handler(request: Request) -> Response:
            if request.app.dependency_overrides or not _json(request):
                return await standard(request)
            raw = await request.body()  # kept on the request: FastAPI's handler reads it again if it must
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return await standard(request)
            body, errors = body_field.validate(value, {}, loc=("body",))
            if errors:
                return await standard(request)
            state = request.app.state
            principal = await get_principal(await get_optional_principal(request, await oauth2_scheme(request)))
            await reporter_verified(principal, state.accounts, state.settings, request)
            sub_response = Response()  # as FastAPI gives a route: headers the endpoint sets, no status of its own
            del sub_response.headers["content-length"]
            sub_response.status_code = None  # type: ignore[assignment]
            submit = await get_submitter(
                state.runtime,
                state.settings,
                state.issues_http,
                await get_request_id(request),
                principal,
                sub_response,
                state.catalogue,
                state.media_http,
                request.headers.get("idempotency-key"),
            )
            result = await endpoint(_verified=None, body=body, submit=submit)
            content = await serialize_response(field=response_field, response_content=result, dump_json=True)
            status = sub_response.status_code or self.status_code or 200  # as FastAPI: the endpoint's own status wins
            response = Response(content, status_code=status, media_type="application/json")
            response.headers.raw.extend(sub_response.headers.raw)
            return response

        return handler


def _json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.partition(";")[0].strip().lower() == "application/json"
