"""``GET /v1/me/export`` embeds each service's part as the service sent it. The parts are documented
by strict models (``IssuesPart``, ``NotifyPart``: extra fields forbidden), but a service that adds a
field must neither turn a user's export into an error nor have that field dropped from it. A part
that is not a JSON object is refused (503, never a partial file). Through the gateway app (httpx's
ASGI transport), the issues and notify services and the account store replaced by fakes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.deps import get_accounts, get_issues_http, get_principal
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.routes.privacy import get_notify
from snapfix_shared.http_client import Answer
from snapfix_shared.schemas.issues import IssuesPart
from snapfix_shared.schemas.notify import NotifyPart

pytestmark = pytest.mark.unit

ME = Principal(user_id=str(uuid4()), role="citizen", departments=(), session_id="s-1")

ISSUES_PART: dict[str, Any] = {
    "reports": [{"id": str(uuid4()), "title": "Pothole", "created_at": "2026-12-01T10:00:00Z", "mood": "grumpy"}],
    "rejected_reports": [],
    "comments": [{"id": str(uuid4()), "body": "Still there"}],
    "votes": [],
    "follows": [],
    "appeals": [{"id": "a-1", "text": "Please look again"}],  # a field the issues service added
}
NOTIFY_PART: dict[str, Any] = {
    "notifications": [{"id": "n-1", "title": "Received"}],
    "preferences": None,
    "watches": [],
    "devices": [],
    "digests": [{"sent_at": "2026-12-02T08:00:00Z", "count": 3}],  # a field notify added
}


@dataclass
class FakeOwner:
    """Answers its user's export with ``body``; keeps the paths it was asked."""

    name: str
    body: bytes
    asked: list[str] = field(default_factory=list)

    async def call(self, method: str, path: str, **_: Any) -> Answer:
        assert method == "GET"
        self.asked.append(path)
        return Answer(200, self.body, CIMultiDictProxy(CIMultiDict({"content-type": "application/json"})))


class FakeAccounts:
    async def get(self, user_id: str) -> Account:
        assert user_id == ME.user_id
        account: Account = Account.model_construct(  # a Beanie document, without a database
            id=UUID(ME.user_id),
            email="ada@example.org",
            display_name="Ada",
            password_hash="$argon2id$not-a-real-hash",
            role="citizen",
            departments=[],
            email_verified=True,
            deleted=False,
            created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        )
        return account


@dataclass
class Gateway:
    http: httpx.AsyncClient
    issues: FakeOwner
    notify: FakeOwner


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    # Nothing listens on port 1: rate limits fall back to memory.
    app = create_app(GatewaySettings(redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.2, live_updates=False))
    issues = FakeOwner("issues", orjson.dumps(ISSUES_PART))
    notify = FakeOwner("notify", orjson.dumps(NOTIFY_PART))
    app.dependency_overrides[get_issues_http] = lambda: issues
    app.dependency_overrides[get_notify] = lambda: notify
    app.dependency_overrides[get_accounts] = FakeAccounts
    app.dependency_overrides[get_principal] = lambda: ME
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield Gateway(http, issues, notify)


def test_the_parts_used_here_carry_fields_their_models_do_not_document() -> None:
    for model, part in ((IssuesPart, ISSUES_PART), (NotifyPart, NOTIFY_PART)):
        with pytest.raises(ValueError, match="Extra inputs are not permitted"):
            model.model_validate(part)


async def test_a_part_with_a_field_its_model_does_not_document_is_exported_whole(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="snapfix_gateway.routes.privacy"):
        exported = await gateway.http.get("/v1/me/export")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-disposition"].startswith('attachment; filename="snapfix-export-')
    data = exported.json()
    assert list(data) == ["format", "exported_at", "account", "issues", "notifications"]
    assert data["issues"] == ISSUES_PART
    assert data["notifications"] == NOTIFY_PART
    assert data["account"]["email"] == "ada@example.org"
    assert data["account"]["created_at"] == "2026-01-02T03:04:05Z"
    assert data["exported_at"].endswith("Z")
    assert "argon2" not in exported.text
    assert gateway.issues.asked == gateway.notify.asked == [f"/v1/users/{ME.user_id}/export"]
    # The drift is logged (so the document catches up), without the user's data.
    drift = [r.getMessage() for r in caplog.records if "differs from" in r.getMessage()]
    assert len(drift) == 2, drift
    issues_drift, notify_drift = drift
    assert "IssuesPart" in issues_drift
    assert "appeals" in issues_drift
    assert "Please look again" not in issues_drift
    assert "NotifyPart" in notify_drift
    assert "digests" in notify_drift


async def test_a_documented_part_is_exported_unchanged_without_a_warning(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    documented = {k: v for k, v in ISSUES_PART.items() if k != "appeals"}
    gateway.issues.body = orjson.dumps(documented)
    with caplog.at_level(logging.WARNING, logger="snapfix_gateway.routes.privacy"):
        exported = await gateway.http.get("/v1/me/export")
    assert exported.status_code == 200, exported.text
    assert exported.json()["issues"] == documented
    assert not [r for r in caplog.records if "IssuesPart" in r.getMessage()]


@pytest.mark.parametrize("body", [b"[]", b'"reports"', b"null", b"{not json"])
async def test_a_part_that_is_not_a_json_object_fails_the_export_whole(gateway: Gateway, body: bytes) -> None:
    gateway.notify.body = body
    exported = await gateway.http.get("/v1/me/export")
    assert exported.status_code == 503, exported.text
    assert exported.headers["content-type"].startswith("application/problem+json")
    assert "notify" in exported.json()["detail"]
    assert "ada@example.org" not in exported.text
