"""SNAPFIX_REQUIRE_VERIFIED_EMAIL: on by default in production, off in development unless set; when on,
a citizen without a verified e-mail address gets a 403 problem saying what to do from POST /v1/issues
and POST /v1/media, staff never do; when off, nobody does. Through the gateway app (httpx's ASGI
transport), with the accounts, the submitter and the media service replaced by recording fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import httpx
import orjson
import pytest
from cryptography.fernet import Fernet
from multidict import CIMultiDict, CIMultiDictProxy
from pymongo.errors import ServerSelectionTimeoutError

from snapfix_gateway.app import create_app
from snapfix_gateway.commands import get_submitter
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.deps import get_accounts, get_media_http, get_principal
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.verified_email import VerifiedUsers, require_verified_email
from snapfix_shared.http_client import Answer
from snapfix_shared.messages import ReportIssue
from snapfix_shared.problems import ServiceUnavailable

pytestmark = pytest.mark.unit

REPORT: dict[str, Any] = {"title": "Pothole on Main St", "category": "pothole", "lat": 52.52, "lon": 13.405}
PHOTO = {"content_type": "image/jpeg", "size": 2_000}
CITIZEN = Principal(user_id=str(uuid4()), role="citizen", departments=(), session_id="s-1")
STAFF = Principal(user_id=str(uuid4()), role="staff", departments=("roads",), session_id="s-2")
REAL_SECRET = Fernet.generate_key().decode()  # fits every secret setting, the link seal's Fernet key too
PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "jwt_secret": REAL_SECRET,
    "link_seal_key": REAL_SECRET,
    "internal_token_secret": REAL_SECRET,
}


@pytest.fixture(autouse=True)
def _setting_from_this_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNAPFIX_ENVIRONMENT", raising=False)
    monkeypatch.delenv("SNAPFIX_REQUIRE_VERIFIED_EMAIL", raising=False)


# -- the setting ---------------------------------------------------------------------------


def test_unset_it_is_on_in_production_and_off_in_development() -> None:
    assert GatewaySettings().require_verified_email is None
    assert GatewaySettings().verified_email_required is False
    assert GatewaySettings(**PRODUCTION).verified_email_required is True


@pytest.mark.parametrize(
    ("environment", "value", "required"),
    [("development", "true", True), ("development", "false", False), ("production", "false", False)],
)
def test_set_it_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, environment: str, value: str, required: bool
) -> None:
    monkeypatch.setenv("SNAPFIX_REQUIRE_VERIFIED_EMAIL", value)
    settings = GatewaySettings(**{**PRODUCTION, "environment": environment})
    assert settings.verified_email_required is required


# -- the check ------------------------------------------------------------------------------


@dataclass
class FakeAccounts:
    """``Accounts.get`` over a dict of user id -> verified; counts the reads; ``down`` raises as Mongo would."""

    verified: dict[str, bool] = field(default_factory=dict)
    down: bool = False
    reads: int = 0

    async def get(self, user_id: str) -> Any:
        self.reads += 1
        if self.down:
            raise ServerSelectionTimeoutError("no servers")
        if user_id not in self.verified:
            return None
        return SimpleNamespace(email_verified=self.verified[user_id])


@dataclass
class FakeSubmitter:
    """Stands for the Kafka publisher: records the commands it is given."""

    sent: list[ReportIssue] = field(default_factory=list)

    def envelope(self) -> dict[str, Any]:
        return {"correlation_id": "req-1", "actor_id": CITIZEN.user_id, "actor_role": "citizen"}

    def new_id(self, _purpose: str) -> UUID:
        return uuid4()

    async def __call__(self, command: ReportIssue) -> None:
        self.sent.append(command)


@dataclass
class FakeMedia:
    """The media service's upload URL endpoint; records the calls."""

    calls: list[str] = field(default_factory=list)

    async def call(self, method: str, path: str, **_: Any) -> Answer:
        self.calls.append(f"{method} {path}")
        ticket = {
            "id": str(uuid4()),
            "upload_url": "/v1/media/x/upload?expires=1&signature=s",
            "expires_at": "2030-01-01T00:00:00Z",
        }
        return Answer(201, orjson.dumps(ticket), CIMultiDictProxy(CIMultiDict()))


@dataclass
class Gateway:
    http: httpx.AsyncClient
    accounts: FakeAccounts
    submitter: FakeSubmitter
    media: FakeMedia


def gateway_with(required: bool | None, principal: Principal, **settings: Any) -> Gateway:
    accounts, submitter, media = FakeAccounts(), FakeSubmitter(), FakeMedia()
    # Nothing listens on port 1: rate limits and Idempotency-Key fall back to memory / pass through.
    app = create_app(
        GatewaySettings(
            redis_url="redis://127.0.0.1:1/0",
            redis_timeout_s=0.2,
            live_updates=False,
            require_verified_email=required,
            **settings,
        )
    )
    app.dependency_overrides[get_principal] = lambda: principal
    app.dependency_overrides[get_accounts] = lambda: accounts
    app.dependency_overrides[get_submitter] = lambda: submitter
    app.dependency_overrides[get_media_http] = lambda: media
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    return Gateway(http, accounts, submitter, media)


@pytest.fixture
async def on() -> AsyncIterator[Gateway]:
    gateway = gateway_with(True, CITIZEN)
    async with gateway.http:
        yield gateway


@pytest.fixture
async def off() -> AsyncIterator[Gateway]:
    gateway = gateway_with(False, CITIZEN)
    async with gateway.http:
        yield gateway


def assert_told_to_verify(response: httpx.Response, doing: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"  # never replayed for its Idempotency-Key
    problem = response.json()
    assert problem["status"] == 403
    assert problem["detail"].startswith(f"Verify your e-mail address before {doing}:")
    assert "follow the link in the e-mail we sent when you registered" in problem["detail"]


async def test_on_an_unverified_citizen_may_neither_report_nor_upload(on: Gateway) -> None:
    on.accounts.verified[CITIZEN.user_id] = False
    assert_told_to_verify(await on.http.post("/v1/issues", json=REPORT), "reporting an issue")
    assert_told_to_verify(await on.http.post("/v1/media", json=PHOTO), "uploading photos")
    assert on.submitter.sent == []
    assert on.media.calls == []


async def test_on_a_verified_citizen_reports_and_uploads(on: Gateway) -> None:
    on.accounts.verified[CITIZEN.user_id] = True
    reported = await on.http.post("/v1/issues", json=REPORT)
    assert reported.status_code == 202, reported.text
    assert [c.title for c in on.submitter.sent] == [REPORT["title"]]
    issued = await on.http.post("/v1/media", json=PHOTO)
    assert issued.status_code == 201, issued.text
    assert on.media.calls == ["POST /v1/uploads"]
    # Verification is never undone: the second request was answered without reading the account again.
    assert on.accounts.reads == 1


async def test_on_an_account_that_is_gone_is_refused(on: Gateway) -> None:
    assert_told_to_verify(await on.http.post("/v1/issues", json=REPORT), "reporting an issue")


async def test_off_an_unverified_citizen_reports_and_uploads_without_reading_the_account(off: Gateway) -> None:
    off.accounts.verified[CITIZEN.user_id] = False
    assert (await off.http.post("/v1/issues", json=REPORT)).status_code == 202
    assert (await off.http.post("/v1/media", json=PHOTO)).status_code == 201
    assert len(off.submitter.sent) == 1
    assert off.accounts.reads == 0


async def test_on_staff_are_exempt() -> None:
    gateway = gateway_with(True, STAFF)
    gateway.accounts.verified[STAFF.user_id] = False
    async with gateway.http:
        assert (await gateway.http.post("/v1/issues", json=REPORT)).status_code == 202
        assert (await gateway.http.post("/v1/media", json=PHOTO)).status_code == 201
    assert gateway.accounts.reads == 0


async def test_production_requires_it_when_unset() -> None:
    gateway = gateway_with(None, CITIZEN, **PRODUCTION)
    gateway.accounts.verified[CITIZEN.user_id] = False
    async with gateway.http:
        assert_told_to_verify(await gateway.http.post("/v1/issues", json=REPORT), "reporting an issue")


async def test_accounts_down_is_a_503_for_the_unknown_and_no_obstacle_for_the_known_verified() -> None:
    settings = GatewaySettings(require_verified_email=True)
    accounts, seen = FakeAccounts(verified={CITIZEN.user_id: True}), VerifiedUsers()
    await require_verified_email(CITIZEN, accounts, settings, "report", seen)  # type: ignore[arg-type]
    accounts.down = True
    await require_verified_email(CITIZEN, accounts, settings, "report", seen)  # type: ignore[arg-type]
    other = Principal(user_id=str(uuid4()), role="citizen", departments=(), session_id="s-3")
    with pytest.raises(ServiceUnavailable) as unavailable:
        await require_verified_email(other, accounts, settings, "upload", seen)  # type: ignore[arg-type]
    assert unavailable.value.status == 503
    assert unavailable.value.headers["Retry-After"]


def test_the_set_of_verified_users_is_bounded_and_forgets_the_oldest() -> None:
    seen = VerifiedUsers(capacity=2)
    for user in ("a", "b", "a", "c"):
        seen.add(user)
    assert len(seen) == 2
    assert "a" not in seen
    assert "b" in seen
    assert "c" in seen
