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
from functools import cached_property
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute, serialize_response

from snapfix_gateway.commands import get_submitter
from snapfix_gateway.deps import get_optional_principal, get_principal, get_request_id, oauth2_scheme
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.verified_email import reporter_verified

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# The endpoint's parameters, in the order FastAPI resolves them.
PARAMETERS = ("_verified", "body", "submit")


class ReportRoute(APIRoute):
    """An ``APIRoute`` (same OpenAPI, same matching) whose handler resolves the report's dependencies itself.

    Its steps are methods, so that the accept lane's direct answer (``accept_direct``) takes the
    same ones: ``parse`` the body, find its ``reporter``, ``accept`` the report.
    """

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        if tuple(inspect.signature(self.endpoint).parameters) != PARAMETERS:
            raise TypeError(f"{self.path}: ReportRoute resolves {PARAMETERS}, the endpoint takes others")

        async def handler(request: Request) -> Response:
            if request.app.dependency_overrides or not is_json(request.headers.get("content-type", "")):
                return await standard(request)
            # The body stays on the request: FastAPI's handler reads it again if it must.
            body = self.parse(await request.body())
            if body is None:
                return await standard(request)
            principal = await self.reporter(request)
            return await self.accept(request, body, principal, request.headers.get("idempotency-key"))

        return handler

    def parse(self, raw: bytes) -> Any | None:
        """The request's body as the endpoint takes it; None when it does not parse or validate
        (FastAPI's own handler then answers, with its own words)."""
        assert self.body_field is not None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        body, errors = self.body_field.validate(value, {}, loc=("body",))
        return None if errors else body

    @staticmethod
    async def reporter(request: Request) -> Principal:
        """The signed-in user, allowed to report (a Problem otherwise)."""
        state = request.app.state
        principal = await get_principal(await get_optional_principal(request, await oauth2_scheme(request)))
        await reporter_verified(principal, state.accounts, state.settings, request)
        return principal

    async def accept(self, request: Request, body: Any, principal: Principal, idempotency_key: str | None) -> Response:
        """The endpoint's answer to a report (a Problem raised when it is refused); its
        ``Idempotency-Key`` header is given (the accept lane has read it already)."""
        assert self.response_field is not None
        state = request.app.state
        sub_response = SubResponse()
        submit = await get_submitter(
            state.runtime,
            state.settings,
            state.issues_http,
            await get_request_id(request),
            principal,
            sub_response,
            state.catalogue,
            state.media_http,
            idempotency_key,
        )
        result = await self.endpoint(_verified=None, body=body, submit=submit)
        if type(result) is self.response_model and self._plain_model:  # its own model: as FastAPI dumps it
            content = result.model_dump_json(by_alias=True).encode()
        else:
            content = await serialize_response(field=self.response_field, response_content=result, dump_json=True)
        status = sub_response.status_code or self.status_code or 200  # as FastAPI: the endpoint's own status wins
        response = Response(content, status_code=status, media_type="application/json")
        response.raw_headers.extend(sub_response.raw_headers)  # the list itself: no MutableHeaders view made
        return response

    @cached_property
    def _plain_model(self) -> bool:
        """Whether FastAPI dumps the route's response model as the model dumps itself (no field
        included, excluded or left out by the route's options): then an instance of exactly that
        model needs neither FastAPI's validation (it is one) nor its filtering."""
        return (
            self.response_model_include is None
            and self.response_model_exclude is None
            and self.response_model_by_alias
            and not (
                self.response_model_exclude_unset
                or self.response_model_exclude_defaults
                or self.response_model_exclude_none
            )
        )


class SubResponse(Response):
    """FastAPI's sub-response: what a route's code sets on the ``Response`` it is given (headers
    such as ``Location``, perhaps a status), nothing else. ``Response()`` would compute a body's
    headers only for them to be deleted again (FastAPI's handler deletes its ``content-length``)."""

    def __init__(self) -> None:  # no body, so none of Response's own work (no super().__init__)
        self.raw_headers = []
        self.status_code = None  # type: ignore[assignment]  # None: the route's own status stands
        self.background = None


def is_json(content_type: str) -> bool:
    """Whether a ``Content-Type`` is JSON's (FastAPI's handler answers every other kind)."""
    return content_type.partition(";")[0].strip().lower() == "application/json"
