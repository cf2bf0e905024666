"""The gateway's OpenAPI document tells the truth (issue 15, item 3), and stays what the code generates.

The document is checked here for what schemathesis cannot see for itself (every operation's
problem answers and headers); tests/e2e/test_schemathesis.py checks the gateway against it.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from pydantic import BaseModel

from snapfix_gateway.identity.passwords import MAX_LENGTH, WeakPassword, check_strength
from snapfix_gateway.openapi import render
from tests.stack import ROOT

pytestmark = pytest.mark.unit


def test_a_long_password_up_to_the_limit_is_judged_not_a_server_error() -> None:
    # zxcvbn refuses more than 72 characters with a ValueError (a 500 on register, found by schemathesis).
    check_strength(secrets.token_urlsafe(96)[:MAX_LENGTH], user_inputs=["ada@example.org"], min_score=3)
    with pytest.raises(WeakPassword):
        check_strength("a" * MAX_LENGTH, user_inputs=["ada@example.org"], min_score=3)


def test_the_gateway_names_the_moments_and_channels_notify_takes() -> None:
    from typing import get_args

    from snapfix_gateway.routes.notifications import Channel, Moment
    from snapfix_notify.preferences import CHANNELS, MOMENTS

    assert (get_args(Moment), get_args(Channel)) == (MOMENTS, CHANNELS)


# -- the document ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> Any:
    from snapfix_gateway.app import create_app

    return create_app()


@pytest.fixture(scope="module")
def doc(app: Any) -> dict[str, Any]:
    return json.loads(render(app))


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_the_committed_openapi_document_matches_the_code(app: Any) -> None:
    committed = (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert committed == render(app), (
        "docs/openapi.json is out of date with the gateway's routes: regenerate it with `make openapi` and commit it"
    )


def test_every_error_is_documented_as_the_problem_that_is_sent(doc: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in json.dumps(doc)
    for method, path, op in _operations(doc):
        for code, response in op["responses"].items():
            if int(code) < 400:
                continue
            schema = response["content"]["application/problem+json"]["schema"]["$ref"]
            expected = "ValidationProblem" if code == "422" else "Problem"
            assert schema == f"#/components/schemas/{expected}", (method, path, code)
        # Every route is behind the rate limiter, and reads a parameter or nothing.
        assert {"429"} <= set(op["responses"]), (method, path)


def test_the_edge_headers_are_documented(doc: dict[str, Any]) -> None:
    for method, path, op in _operations(doc):
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == (method == "POST"), (method, path)
        too_many = op["responses"]["429"]["headers"]
        assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= set(too_many), (method, path)
        for code in {"201", "202"} & set(op["responses"]):
            assert "Location" in op["responses"][code]["headers"], (method, path)
        if "503" in op["responses"]:
            assert "Retry-After" in op["responses"]["503"]["headers"], (method, path)
    issue = doc["paths"]["/v1/issues/{issue_id}"]["get"]["responses"]
    assert "ETag" in issue["200"]["headers"]
    assert "ETag" in issue["304"]["headers"]
    assert "content" not in issue["304"]


def test_answers_follow_from_each_route_dependencies(doc: dict[str, Any]) -> None:
    def codes(method: str, path: str) -> set[str]:
        return set(doc["paths"][path][method]["responses"])

    assert {"401", "403", "413", "422", "503"} <= codes("post", "/v1/admin/users")  # admin, body, accounts
    assert "403" not in codes("get", "/v1/me")  # signed in, nothing more
    assert {"401", "400", "422"} <= codes("get", "/v1/me/notifications")  # a cursor it did not give out
    assert "401" not in codes("get", "/open311/v2/services.{fmt}")  # public, no token read
    assert {} in doc["paths"]["/v1/categories"]["get"]["security"]  # a token optional: staff see canned responses
    assert "503" not in codes("get", "/open311/v2/discovery.{fmt}")  # answered from settings alone
    # A token is optional where anonymous visitors are served, required elsewhere.
    assert {} in doc["paths"]["/v1/issues"]["get"]["security"]
    assert {} not in doc["paths"]["/v1/me/issues"]["get"]["security"]


class Thing(BaseModel):
    title: str


def test_the_problems_sent_conform_to_the_documented_schemas(doc: dict[str, Any]) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from jsonschema import Draft202012Validator

    from snapfix_shared.problems import Problem, install_problem_handlers

    tiny = FastAPI()
    install_problem_handlers(tiny)

    @tiny.post("/things")
    async def things(body: Thing) -> None:
        raise Problem(409, "Conflict", f"{body.title} is taken.", extra={"error": "taken"})

    client = TestClient(tiny)
    schemas = {"components": {"schemas": doc["components"]["schemas"]}}

    def valid(instance: Any, name: str) -> None:
        schema = {**schemas, "$ref": f"#/components/schemas/{name}"}
        Draft202012Validator(schema).validate(instance)

    invalid = client.post("/things", json={"title": 5})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    valid(invalid.json(), "ValidationProblem")
    assert invalid.json()["errors"][0]["field"] == "title"
    conflict = client.post("/things", json={"title": "x"})
    valid(conflict.json(), "Problem")


# -- 405 -------------------------------------------------------------------------------


def test_405_names_every_method_of_the_path_and_the_most_specific_template_wins() -> None:
    from fastapi import APIRouter, FastAPI
    from fastapi.testclient import TestClient

    from snapfix_gateway.openapi import install
    from snapfix_shared.problems import install_problem_handlers

    tiny = FastAPI()
    install_problem_handlers(tiny)
    install(tiny)
    router = APIRouter()

    @router.post("/v1/things")
    async def create() -> None: ...

    @router.get("/v1/things")
    async def list_() -> None: ...

    @router.put("/v1/media/{media_id}/upload")
    async def upload(media_id: str) -> None: ...

    @router.get("/v1/media/{media_id}/{variant}")
    async def variant(media_id: str, variant: str) -> None: ...

    tiny.include_router(router)
    client = TestClient(tiny)

    refused = client.delete("/v1/things")
    # Starlette named the first route's methods only (Allow: POST); schemathesis found 12 such paths.
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD, POST")
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.options("/v1/things").headers["allow"] == "GET, HEAD, POST"
    # /upload is not a variant: GET there is a method the path does not take (it was routed to {variant}).
    shadowed = client.get("/v1/media/abc/upload")
    assert (shadowed.status_code, shadowed.headers["allow"]) == (405, "PUT")
    assert client.get("/v1/media/abc/thumb").status_code == 200
    assert client.get("/v1/nothing").status_code == 404
