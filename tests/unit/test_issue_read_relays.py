"""The gateway's list reads relay the query they declared and validated to the issues service: the values
the client gave, as validated (a boolean as ``true``, a time in ISO 8601), and nothing it left out; a bad
value is refused with a 422 naming it before the issues service is asked; a parameter it does not
declare is not relayed. Through the gateway app (httpx's ASGI transport), the issues service replaced
by a recording fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from uuid import uuid4

import httpx
import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.deps import get_issues_http, get_optional_principal, get_principal
from snapfix_gateway.identity.sessions import Principal
from snapfix_shared.http_client import Answer

pytestmark = pytest.mark.unit

STAFF = Principal(user_id=str(uuid4()), role="staff", departments=("roads",), session_id="s-1")


@dataclass
class FakeIssues:
    """Answers every GET with an empty page and keeps the path and query string it was asked."""

    asked: list[tuple[str, str | None]] = field(default_factory=list)

    async def call(self, method: str, path: str, *, params: str | None = None, **_: Any) -> Answer:
        assert method == "GET"
        self.asked.append((path, params))
        body = orjson.dumps({"items": [], "next_cursor": None})
        return Answer(200, body, CIMultiDictProxy(CIMultiDict({"content-type": "application/json"})))


@dataclass
class Gateway:
    http: httpx.AsyncClient
    issues: FakeIssues

    def relayed(self) -> tuple[str, dict[str, str]]:
        """The one request the issues service was asked: its path and its query as a dict."""
        [(path, params)] = self.issues.asked
        return path, dict(parse_qsl(params or "", keep_blank_values=True))


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    # Nothing listens on port 1: rate limits fall back to memory.
    app = create_app(GatewaySettings(redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.2, live_updates=False))
    issues = FakeIssues()
    app.dependency_overrides[get_issues_http] = lambda: issues
    app.dependency_overrides[get_principal] = lambda: STAFF
    app.dependency_overrides[get_optional_principal] = lambda: None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield Gateway(http, issues)


async def test_nearby_relays_the_validated_values_it_was_given_and_no_defaults(gateway: Gateway) -> None:
    params = {"lat": "12.97160", "lon": "77.5946", "status": "open", "since": "2026-01-02T03:04:05+00:00"}
    answer = await gateway.http.get("/v1/issues", params=params)
    assert answer.status_code == 200, answer.text
    assert gateway.relayed() == (
        "/v1/issues",
        {"lat": "12.9716", "lon": "77.5946", "status": "open", "since": "2026-01-02T03:04:05Z"},
    )


async def test_an_empty_cursor_is_relayed_as_given(gateway: Gateway) -> None:
    answer = await gateway.http.get("/v1/map/issues", params={"bbox": "77.5,12.9,77.7,13.0", "cursor": ""})
    assert answer.status_code == 200, answer.text
    assert gateway.relayed() == ("/v1/map/issues", {"bbox": "77.5,12.9,77.7,13.0", "cursor": ""})


async def test_map_cells_relays_its_level(gateway: Gateway) -> None:
    params = {"bbox": "77.5,12.9,77.7,13.0", "level": "12", "category": "pothole"}
    assert (await gateway.http.get("/v1/map/cells", params=params)).status_code == 200
    assert gateway.relayed() == ("/v1/map/cells", params)


async def test_the_staff_queue_relays_a_boolean_as_true_and_its_limit(gateway: Gateway) -> None:
    params = {"overdue": "1", "sort": "due", "limit": "1", "other": "x"}
    assert (await gateway.http.get("/v1/staff/queue", params=params)).status_code == 200
    assert gateway.relayed() == ("/v1/staff/queue", {"overdue": "true", "sort": "due", "limit": "1"})


async def test_my_lists_are_read_at_the_viewers_own_path(gateway: Gateway) -> None:
    assert (await gateway.http.get("/v1/me/following", params={"limit": "5", "other": "x"})).status_code == 200
    assert gateway.relayed() == (f"/v1/users/{STAFF.user_id}/following", {"limit": "5"})
    gateway.issues.asked.clear()
    assert (await gateway.http.get("/v1/me/issues", params={"limit": "5", "other": "x"})).status_code == 200
    assert gateway.relayed() == (f"/v1/users/{STAFF.user_id}/issues", {"limit": "5"})


async def test_suggestions_relay_their_limit(gateway: Gateway) -> None:
    params = {"lat": "1.5", "lon": "2.5", "category": "pothole", "limit": "3"}
    assert (await gateway.http.get("/v1/issues/suggestions", params={**params, "other": "x"})).status_code == 200
    assert gateway.relayed() == ("/v1/issues/suggestions", params)


@pytest.mark.parametrize(
    ("path", "params", "bad"),
    [
        ("/v1/issues", {"lat": "86", "lon": "0"}, "lat"),
        ("/v1/issues", {"lon": "0"}, "lat"),
        ("/v1/issues", {"lat": "0", "lon": "0", "since": "2026-01-02T03:04:05"}, "since"),
        ("/v1/issues/suggestions", {"lat": "0", "lon": "0"}, "category"),
        ("/v1/map/issues", {"bbox": "1,2,3"}, "bbox"),
        ("/v1/map/cells", {"bbox": "1,2,3,4", "level": "21"}, "level"),
        ("/v1/staff/queue", {"sort": "random"}, "sort"),
        ("/v1/me/issues", {"limit": "101"}, "limit"),
        ("/v1/me/following", {"limit": "0"}, "limit"),
        ("/v1/staff/queue", {"limit": "101"}, "limit"),
        ("/v1/issues/suggestions", {"lat": "0", "lon": "0", "category": "pothole", "limit": "21"}, "limit"),
    ],
)
async def test_a_bad_value_is_refused_before_the_issues_service_is_asked(
    gateway: Gateway, path: str, params: dict[str, str], bad: str
) -> None:
    answer = await gateway.http.get(path, params=params)
    assert answer.status_code == 422
    assert [e["location"] for e in answer.json()["errors"]] == [["query", bad]]
    assert gateway.issues.asked == []
