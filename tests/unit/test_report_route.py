"""``POST /v1/issues`` resolves its dependencies by hand (``routes/report_route.py``): every answer, and
every command published, must be what FastAPI's own handler gives for the same request.

The same gateway app answers each request twice: once as it runs (the hand-resolved path), once with
a dependency overridden by itself, which sends the route through FastAPI's handler. Redis is absent
(rate limits count in memory, sessions stand on the token's claims), Kafka's publish is recorded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from snapfix_gateway import commands
from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.deps import get_request_id
from snapfix_gateway.routes.report_route import ReportRoute
from snapfix_shared.messages.catalogue import CategorySpec

pytestmark = pytest.mark.unit

POTHOLE = CategorySpec.model_validate(
    {
        "code": "pothole",
        "name": "Pothole",
        "department": "roads",
        "sla_hours": 72,
        "attributes": [{"code": "depth_cm", "datatype": "number", "required": False}],
    }
)
REPORT: dict[str, Any] = {"title": "Pothole on Main St", "category": "pothole", "lat": 52.52, "lon": 13.405}
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Catalogue:
    def get(self, code: str) -> CategorySpec | None:
        return POTHOLE if code == POTHOLE.code else None


@dataclass
class Published:
    commands: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, _broker: Any, topic: str, command: Any, **_: Any) -> None:
        kept = command.model_dump(
            mode="json", exclude={"issue_id", "message_id", "occurred_at", "accept_by", "correlation_id", "actor_proof"}
        )
        self.commands.append({"topic": topic, **kept})


@dataclass
class Gateway:
    app: FastAPI
    http: httpx.AsyncClient
    published: Published
    token: str


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    # Nothing listens on port 1: rate limits count in memory, sessions stand on the token's claims.
    app = create_app(GatewaySettings(redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.2, live_updates=False))
    app.state.catalogue = Catalogue()
    published = Published()
    monkeypatch.setattr(commands, "publish", published)
    token = app.state.tokens.issue(str(uuid4()), "session-1", role="citizen")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield Gateway(app, http, published, token)


def comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body, with the ids each request makes for itself replaced."""
    headers = {k: UUID.sub(b"<id>", v.encode()).decode() for k, v in response.headers.items()}
    headers.pop("x-request-id", None)
    headers["ratelimit"] = re.sub(r"r=\d+;t=\d+", "r=<n>;t=<s>", headers.get("ratelimit", ""))  # one request later
    return response.status_code, headers, UUID.sub(b"<id>", response.content)


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("valid", {"json": REPORT}),
    ("valid, every field", {"json": {**REPORT, "description": "Deep", "address": "Main St 1", "anonymous": True}}),
    ("valid, with an attribute", {"json": {**REPORT, "attributes": {"depth_cm": 12}}}),
    ("an attribute of the wrong type", {"json": {**REPORT, "attributes": {"depth_cm": "deep"}}}),
    ("an attribute the category lacks", {"json": {**REPORT, "attributes": {"colour": "red"}}}),
    ("an unknown field", {"json": {**REPORT, "colour": "red"}}),
    ("no title", {"json": {k: v for k, v in REPORT.items() if k != "title"}}),
    ("a latitude as text", {"json": {**REPORT, "lat": "52.52"}}),
    ("a latitude out of range", {"json": {**REPORT, "lat": 91}}),
    ("a JSON array", {"json": [REPORT]}),
    ("a citizen giving reported_at", {"json": {**REPORT, "reported_at": "2026-01-01T00:00:00Z"}}),
    ("malformed JSON", {"content": b'{"title": ', "headers": {"content-type": "application/json"}}),
    ("an empty body", {"content": b"", "headers": {"content-type": "application/json"}}),
    ("JSON sent as text/plain", {"content": b'{"title": "x"}', "headers": {"content-type": "text/plain"}}),
    (
        "JSON with a charset",
        {
            "content": httpx.Request("POST", "/", json=REPORT).content,
            "headers": {"content-type": "application/json; charset=utf-8"},
        },
    ),
    ("no content type", {"content": httpx.Request("POST", "/", json=REPORT).content}),
]


@pytest.mark.parametrize(("case", "request_"), REQUESTS, ids=[case for case, _ in REQUESTS])
@pytest.mark.parametrize("authorization", ["token", "none", "forged"])
async def test_each_answer_is_fastapis(
    gateway: Gateway, case: str, request_: dict[str, Any], authorization: str
) -> None:
    headers = dict(request_.get("headers", {}))
    if authorization == "token":
        headers["authorization"] = f"Bearer {gateway.token}"
    elif authorization == "forged":
        headers["authorization"] = f"Bearer {gateway.token[:-3]}abc"
    request = {**request_, "headers": headers}

    by_hand = await gateway.http.post("/v1/issues", **request)
    sent_by_hand = list(gateway.published.commands)
    gateway.app.dependency_overrides[get_request_id] = get_request_id  # any override: FastAPI's handler
    by_fastapi = await gateway.http.post("/v1/issues", **request)
    sent_by_fastapi = gateway.published.commands[len(sent_by_hand) :]

    assert comparable(by_hand) == comparable(by_fastapi), case
    assert sent_by_hand == sent_by_fastapi, case


async def test_a_valid_report_is_accepted_and_published_once(gateway: Gateway) -> None:
    """The equivalence above is not vacuous: the common request is accepted, with its Location."""
    accepted = await gateway.http.post("/v1/issues", json=REPORT, headers={"authorization": f"Bearer {gateway.token}"})
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["location"] == f"/v1/issues/{accepted.json()['id']}"
    assert accepted.json()["status"] == "accepted"
    assert [c["title"] for c in gateway.published.commands] == [REPORT["title"]]


def test_the_route_refuses_an_endpoint_it_cannot_resolve() -> None:
    async def other(_body: dict[str, Any]) -> None:
        return None

    with pytest.raises(TypeError, match="ReportRoute resolves"):
        ReportRoute("/v1/issues", other, methods=["POST"]).get_route_handler()
