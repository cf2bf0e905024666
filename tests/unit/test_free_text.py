"""Free text with control characters: refused at the door (422, or Open311's 400), and never
able to break an Open311 XML document with what older records hold."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.deps import get_principal
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.open311 import georeport as g
from snapfix_gateway.open311.routes import _report
from snapfix_gateway.routes.issue_requests import CommentRequest, ReportIssueRequest, TransitionRequest
from tests.unit.test_open311_format import POTHOLE, record

pytestmark = pytest.mark.unit

REPORT: dict[str, Any] = {"title": "Pothole on Main St", "category": "pothole", "lat": 52.52, "lon": 13.405}
# C0 controls XML 1.0 forbids, and the two non-characters; tab, LF and CR are allowed.
HOSTILE = ["\u0001", "\u0000", "\u000b", "\u001f", "\ufffe"]


@pytest.fixture
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    # Nothing listens on port 1: rate limits fall back to memory. A refused body needs no other I/O.
    app = create_app(GatewaySettings(redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.2, live_updates=False))
    app.dependency_overrides[get_principal] = lambda: Principal(
        user_id="user-1", role="staff", departments=("roads",), session_id="s-1"
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield http


def assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert "control characters" in errors[0]["message"]


@pytest.mark.parametrize("field", ["title", "description", "address"])
async def test_a_report_with_a_control_character_is_422(gateway: httpx.AsyncClient, field: str) -> None:
    body = {**REPORT, field: "Deep hole\u0001 near the stop"}
    assert_refused(await gateway.post("/v1/issues", json=body), field)


async def test_comments_notes_and_edits_with_control_characters_are_422(gateway: httpx.AsyncClient) -> None:
    issue = uuid4()
    assert_refused(await gateway.post(f"/v1/issues/{issue}/comments", json={"body": "bad\u0007"}), "body")
    transition = {"to": "rejected", "note": "ok", "reason": "spam\u001b[31m"}
    assert_refused(await gateway.post(f"/v1/issues/{issue}/transitions", json=transition), "reason")
    assert_refused(await gateway.patch(f"/v1/issues/{issue}", json={"title": "Pot\u0000hole"}), "title")


@pytest.mark.parametrize("char", HOSTILE, ids=[f"U+{ord(c):04X}" for c in HOSTILE])
def test_every_character_xml_cannot_carry_is_refused(char: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        ReportIssueRequest.model_validate({**REPORT, "description": f"a{char}b"})


def test_tabs_line_breaks_and_any_script_are_welcome() -> None:
    text = "Zeile 1\r\nLigne 2\tनमस्ते 🚧 \u00a0\u2028"
    assert ReportIssueRequest.model_validate({**REPORT, "description": text}).description == text
    assert CommentRequest.model_validate({"body": text}).body == text
    assert TransitionRequest.model_validate({"to": "acknowledged", "note": text}).note == text


def test_an_open311_form_with_a_control_character_is_a_400() -> None:
    items = [("service_code", "pothole"), ("lat", "52.5"), ("long", "13.4"), ("description", "deep\u0001")]
    envelope = {"correlation_id": "req-1", "actor_id": "integrator-1"}
    with pytest.raises(g.Open311Error) as refused:
        _report(dict(items), items, POTHOLE, envelope=envelope)
    assert refused.value.status == 400
    assert "description" in refused.value.description


def test_a_stored_record_with_control_characters_still_renders_well_formed_xml() -> None:
    history = [
        {"id": "u1", "issue_id": "x", "at": "2025-05-31T06:30:00+00:00", "from": "open", "to": "rejected",
         "note": "bell\u0007", "reason": "nul\u0000", "duplicate_of": None},
    ]  # fmt: skip
    stored = record(description="Deep\u0001hole\ttab\nline", address="Main\u001bSt", history=history, status="rejected")
    body = [g.service_request(stored, {"pothole": POTHOLE}, public_base_url="https://api.example", extensions=True)]
    raw = g.to_xml("service_requests", body)
    root = ET.fromstring(raw)  # expat: a real XML 1.0 parser, which refuses ill-formed documents
    request = root.find("request")
    assert request is not None
    assert request.findtext("description") == "Deep\ufffdhole\ttab\nline"
    assert request.findtext("address") == "Main\ufffdSt"
    assert request.findtext("status_notes") == "rejected: bell\ufffd; nul\ufffd"
    assert root.findtext("request/notes/note/description") == "rejected: bell\ufffd; nul\ufffd"
