"""Who may call what: every operation of the gateway's API, called by seven kinds of caller.

The routes come from the running app's own OpenAPI document (and its hidden routes), so a
new route fails this test until someone writes down who may call it in ``RULES``. Each rule
says, for each caller, whether the call must be refused (401 for no or a revoked token, 403
for a signed-in caller without the right) or must not be (any other answer: 2xx, 404, 409,
422 are all "let through"). The requests are real ones, with valid bodies, so that a refusal
taken later in the chain (a service's own check) shows as well as the gateway's.

Callers: anonymous; the citizen who reported the issue (e-mail verified); another citizen
(e-mail not verified); staff of another department; staff of the issue's department (roads);
an administrator; a citizen whose session was ended (logout) and who still presents its
access token. Staff accounts come from an administrator and count as verified.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

import httpx
import pytest
from fastapi import routing

from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually, sign_in, staff, user_id
from tests.e2e.conftest import ADMIN, System
from tests.mailbox import Mailbox

pytestmark = pytest.mark.e2e

CALLERS = ("anonymous", "owner", "other_citizen", "other_staff", "department_staff", "admin", "revoked")
SIGNED_IN = frozenset(CALLERS) - {"anonymous", "revoked"}
STAFF = frozenset({"other_staff", "department_staff", "admin"})

# Who may call, per rule. Anyone outside it is refused: 401 when unauthenticated (anonymous,
# revoked token), 403 when signed in.
PUBLIC = frozenset(CALLERS)  # no identity needed; a revoked token is not looked at
PUBLIC_VIEWER = frozenset(CALLERS) - {"revoked"}  # open to all, but a token presented must be valid
SIGNED = SIGNED_IN  # any signed-in user, on their own data
OWNER = frozenset({"owner"})  # the reporter alone: staff change an issue through its lifecycle commands
STAFF_ONLY = STAFF
DEPARTMENT = frozenset({"department_staff", "admin"})
ADMIN_ONLY = frozenset({"admin"})


@dataclass(frozen=True)
class Call:
    """One request: the path's parameters are filled from the shared resources."""

    allowed: frozenset[str]
    body: Callable[[dict[str, Any]], Any] | None = None
    params: Callable[[dict[str, Any]], dict[str, str]] | None = None
    form: Callable[[dict[str, Any]], dict[str, str]] | None = None
    content: bytes | None = None
    path: Callable[[dict[str, Any]], dict[str, str]] | None = None  # path parameters other than the shared ones
    hidden: frozenset[str] = frozenset()  # callers told 404: the resource is not theirs to know of
    idempotent_key: bool = False


def _report(_: dict[str, str]) -> dict[str, Any]:
    return make_report_body(category="pothole", lat=12.9716, lon=77.5946)


RULES: dict[str, Call] = {
    # Accounts
    "POST /v1/auth/register": Call(
        PUBLIC,
        body=lambda _: {
            "email": f"m-{uuid4().hex[:10]}@example.org",
            "password": "violet-harbour-71-lantern",
            "display_name": "Matrix",
        },
    ),
    "POST /v1/auth/token": Call(
        PUBLIC,
        form=lambda r: {
            "grant_type": "password",
            "username": r["owner_email"],
            "password": "violet-harbour-71-lantern",
        },
    ),
    "POST /v1/auth/logout": Call(SIGNED),
    "GET /v1/auth/verify-email": Call(PUBLIC, params=lambda _: {"token": "not-a-token"}),
    "POST /v1/auth/password-reset": Call(PUBLIC, body=lambda _: {"email": f"nobody-{uuid4().hex[:8]}@example.org"}),
    "POST /v1/auth/password-reset/confirm": Call(
        PUBLIC, body=lambda _: {"token": "not-a-token", "new_password": "violet-harbour-71-lantern"}
    ),
    "GET /v1/auth/password-reset": Call(PUBLIC, params=lambda _: {"token": "not-a-token"}),
    "POST /v1/auth/password-reset/form": Call(
        PUBLIC, form=lambda _: {"token": "not-a-token", "new_password": "violet-harbour-71-lantern"}
    ),
    "GET /v1/me": Call(SIGNED),
    "GET /v1/me/export": Call(SIGNED),
    # An empty password (422, let through): the matrix's accounts must outlive it (test_privacy deletes one).
    "DELETE /v1/me": Call(SIGNED, body=lambda _: {"password": ""}),
    "POST /v1/admin/users": Call(
        ADMIN_ONLY,
        body=lambda _: {
            "email": f"crew-{uuid4().hex[:10]}@city.example",
            "password": "violet-harbour-71-lantern",
            "display_name": "Crew",
            "departments": ["roads"],
        },
    ),
    "GET /v1/admin/users": Call(ADMIN_ONLY, params=lambda _: {"role": "staff", "limit": "5"}),
    "GET /v1/staff/directory": Call(DEPARTMENT, params=lambda _: {"department": "roads"}),
    "PATCH /v1/admin/users/{user_id}": Call(
        ADMIN_ONLY, body=lambda _: {"disabled": False}, path=lambda r: {"user_id": r["owner_id"]}
    ),
    # Issues, their commands
    "POST /v1/issues": Call(SIGNED, body=_report, idempotent_key=True),
    "POST /v1/issues/{issue_id}/transitions": Call(
        DEPARTMENT, body=lambda _: {"to": "acknowledged", "note": "Seen"}, idempotent_key=True
    ),
    "POST /v1/issues/{issue_id}/comments": Call(SIGNED, body=lambda _: {"body": "Still there"}, idempotent_key=True),
    "POST /v1/issues/{issue_id}/vote": Call(SIGNED, idempotent_key=True),
    "DELETE /v1/issues/{issue_id}/vote": Call(SIGNED, idempotent_key=True),
    "PUT /v1/issues/{issue_id}/follow": Call(SIGNED, idempotent_key=True),
    "DELETE /v1/issues/{issue_id}/follow": Call(SIGNED, idempotent_key=True),
    "POST /v1/issues/{issue_id}/assignment": Call(DEPARTMENT, body=lambda _: {"priority": "high"}, idempotent_key=True),
    "PATCH /v1/issues/{issue_id}": Call(OWNER, body=lambda _: {"description": "Deeper now"}, idempotent_key=True),
    # Issues, their reads
    "GET /v1/issues": Call(PUBLIC_VIEWER, params=lambda _: {"lat": "12.9716", "lon": "77.5946"}),
    "GET /v1/issues/{issue_id}": Call(PUBLIC_VIEWER),
    "GET /v1/issues/{issue_id}/viewer": Call(SIGNED),
    "GET /v1/issues/suggestions": Call(
        PUBLIC_VIEWER, params=lambda _: {"lat": "12.9716", "lon": "77.5946", "category": "pothole"}
    ),
    "GET /v1/map/issues": Call(PUBLIC_VIEWER, params=lambda _: {"bbox": "77.5,12.9,77.7,13.0"}),
    "GET /v1/map/cells": Call(PUBLIC_VIEWER, params=lambda _: {"bbox": "77.5,12.9,77.7,13.0", "level": "12"}),
    "GET /v1/me/issues": Call(SIGNED),
    "GET /v1/me/following": Call(SIGNED),
    "GET /v1/staff/queue": Call(STAFF_ONLY),
    "GET /v1/categories": Call(PUBLIC_VIEWER),  # staff and admins also get the canned responses
    "GET /v1/categories/{code}": Call(PUBLIC_VIEWER),
    "PUT /v1/categories/{code}": Call(
        ADMIN_ONLY, body=lambda r: r["category_body"], path=lambda r: {"code": r["new_category"]}
    ),
    # Live updates (read with a short timeout: the stream stays open when allowed)
    "GET /v1/events": Call(SIGNED),
    # Media
    # Any signed-in user while SNAPFIX_REQUIRE_VERIFIED_EMAIL is off, as here (test_media_verified.py: on).
    "POST /v1/media": Call(SIGNED, body=lambda _: {"content_type": "image/jpeg", "size": 1000}),
    # The signed upload URL is the owner's alone: anyone else presenting it is refused.
    "PUT /v1/media/{media_id}/upload": Call(OWNER, params=lambda r: r["upload_params"], content=b"\xff" * 1000),
    "GET /v1/media/{media_id}": Call(SIGNED, hidden=frozenset({"other_citizen"})),
    "GET /v1/media/{media_id}/{variant}": Call(PUBLIC),
    # Analytics
    "GET /v1/analytics/summary": Call(STAFF_ONLY),
    "GET /v1/analytics/timeseries": Call(
        STAFF_ONLY, params=lambda _: {"window": "1h", "from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}
    ),
    "GET /v1/analytics/heatmap": Call(STAFF_ONLY, params=lambda _: {"bbox": "77.5,12.9,77.7,13.0"}),
    "GET /v1/analytics/late": Call(STAFF_ONLY),
    "GET /v1/analytics/export.csv": Call(STAFF_ONLY),
    # Webhooks
    "GET /v1/admin/webhooks": Call(ADMIN_ONLY),
    "POST /v1/admin/webhooks": Call(
        ADMIN_ONLY, body=lambda _: {"url": "https://hooks.example.org/snapfix", "event_types": ["IssueReported"]}
    ),
    "GET /v1/admin/webhooks/{endpoint_id}": Call(ADMIN_ONLY),
    "DELETE /v1/admin/webhooks/{endpoint_id}": Call(ADMIN_ONLY),
    "POST /v1/admin/webhooks/{endpoint_id}/enable": Call(ADMIN_ONLY),
    "GET /v1/admin/webhooks/{endpoint_id}/deliveries": Call(ADMIN_ONLY),
    # Devices, notifications, watches: always the caller's own
    "PUT /v1/me/devices/{device_id}": Call(
        SIGNED, body=lambda _: {"platform": "fcm", "token": "dXNlci1kZXZpY2UtdG9rZW4"}
    ),
    "DELETE /v1/me/devices/{device_id}": Call(SIGNED),
    "GET /v1/me/devices": Call(SIGNED),
    "GET /v1/me/notifications": Call(SIGNED),
    "POST /v1/me/notifications/read-all": Call(SIGNED),
    "POST /v1/me/notifications/{notification_id}/read": Call(SIGNED),
    "GET /v1/me/notification-preferences": Call(SIGNED),
    "PUT /v1/me/notification-preferences": Call(
        SIGNED, body=lambda _: {"moments": {"followed_comment_added": {"email": True}}}
    ),
    "GET /v1/me/watches": Call(SIGNED),
    "POST /v1/me/watches": Call(SIGNED, body=lambda _: {"lat": 12.9716, "lon": 77.5946, "radius_m": 500}),
    "DELETE /v1/me/watches/{watch_id}": Call(SIGNED),
    # Unsubscribe: the signed link is the authority, not a session
    "GET /v1/notifications/unsubscribe": Call(PUBLIC, params=lambda _: {"token": "not-a-token"}),
    "POST /v1/notifications/unsubscribe": Call(PUBLIC, params=lambda _: {"token": "not-a-token"}),
    # Open311: public reads; a request is filed with an API key, not a session
    "GET /open311/v2/discovery.{fmt}": Call(PUBLIC),
    "GET /open311/v2/services.{fmt}": Call(PUBLIC),
    "GET /open311/v2/services/{service_code}.{fmt}": Call(PUBLIC),
    "POST /open311/v2/requests.{fmt}": Call(
        PUBLIC,
        form=lambda r: {
            "api_key": r["api_key"],
            "service_code": "pothole",
            "lat": "12.97",
            "long": "77.59",
            "description": "Matrix",
        },
    ),
    "GET /open311/v2/requests.{fmt}": Call(PUBLIC),
    "GET /open311/v2/requests/{service_request_id}.{fmt}": Call(PUBLIC),
    "GET /open311/v2/tokens/{token}.{fmt}": Call(PUBLIC),
    "GET /open311/v2/servicerequestupdates.{fmt}": Call(
        PUBLIC, params=lambda _: {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-01-02T00:00:00Z"}
    ),
    # Probes and metrics: for the orchestrator and Prometheus (kept off the public ingress)
    "GET /livez": Call(PUBLIC),
    "GET /readyz": Call(PUBLIC),
    "GET /metrics": Call(PUBLIC),
    "GET /v1/admin/api-keys": Call(ADMIN_ONLY),
    "POST /v1/admin/api-keys": Call(ADMIN_ONLY, body=lambda _: {"name": f"CRM {uuid4().hex[:6]}"}),
    "DELETE /v1/admin/api-keys/{key_id}": Call(ADMIN_ONLY),
}


def _operations(spec: dict[str, Any]) -> set[str]:
    return {f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops}


def _app_operations() -> set[str]:
    """Every operation the app serves, those hidden from its OpenAPI document included."""
    from snapfix_gateway.app import create_app

    found: set[str] = set()
    # FastAPI's own walk (routers are included lazily), as the gateway's OpenAPI document uses it.
    for context in routing.iter_route_contexts(create_app().routes):
        methods = getattr(context, "methods", None) or ()
        found |= {f"{m} {context.path_format}" for m in methods if m != "HEAD"}
    return found - {"GET /openapi.json", "GET /docs", "GET /docs/oauth2-redirect", "GET /redoc"}


async def _verify_email(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    """Follow the link of the account's verification e-mail (photos need a verified address)."""
    address = (await client.get("/v1/me")).json()["email"]
    [message] = await mailbox.wait_for(
        lambda m: address in str(m["To"]) and "verify-email?token=" in m.get_body(("plain",)).get_content()
    )
    text = message.get_body(("plain",)).get_content()
    link = next(word for word in text.split() if "verify-email?token=" in word)
    async with httpx.AsyncClient(timeout=30) as browser:
        answer = await browser.get(link, headers={"accept": "application/json"})
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
async def cast(system: System, mailbox: Mailbox) -> AsyncIterator[dict[str, Any]]:
    """The seven callers and the resources their calls point at."""
    owner = await citizen(system)
    await _verify_email(owner, mailbox)
    clients: dict[str, httpx.AsyncClient] = {
        "anonymous": httpx.AsyncClient(base_url=system.gateway, timeout=30),
        "owner": owner,
        "other_citizen": await citizen(system),
        "other_staff": await staff(system, "lighting"),
        "department_staff": await staff(system, "roads"),
        "admin": await sign_in(system, *ADMIN),
        "revoked": await citizen(system),
    }
    try:
        assert (await clients["revoked"].post("/v1/auth/logout")).status_code == 204

        accepted = await owner.post("/v1/issues", json=_report({}), headers={"idempotency-key": uuid4().hex})
        assert accepted.status_code == 202, accepted.text
        issue = await eventually(owner, accepted.headers["location"], lambda _: True)
        ticket = await owner.post("/v1/media", json={"content_type": "image/jpeg", "size": 1000})
        assert ticket.status_code == 201, ticket.text
        hook = await clients["admin"].post(
            "/v1/admin/webhooks", json={"url": "https://hooks.example.org/m", "event_types": ["IssueReported"]}
        )
        assert hook.status_code == 201, hook.text
        # Two API keys: the administrator's DELETE revokes one; later callers file requests with the other.
        key, doomed_key = [
            await clients["admin"].post("/v1/admin/api-keys", json={"name": f"Matrix {uuid4().hex[:6]}"})
            for _ in range(2)
        ]
        assert key.status_code == doomed_key.status_code == 201, key.text
        category = (await clients["anonymous"].get("/v1/categories/pothole")).json()
        me = (await owner.get("/v1/me")).json()
        resources = {
            "issue_id": issue["id"],
            "media_id": ticket.json()["id"],
            "variant": "thumb.webp",
            "upload_params": dict(parse_qsl(urlsplit(ticket.json()["upload_url"]).query)),
            "new_category": f"matrix_{uuid4().hex[:8]}",
            "endpoint_id": hook.json()["id"],
            "key_id": doomed_key.json()["id"],
            "api_key": key.json()["api_key"],
            "watch_id": str(uuid4()),
            "notification_id": str(uuid4()),
            "device_id": f"matrix-{uuid4().hex[:8]}",
            "code": "pothole",
            "service_code": "pothole",
            "fmt": "json",
            "service_request_id": issue["id"],
            "token": str(uuid4()),
            "owner_email": me["email"],
            "owner_id": user_id(owner),
            "category_body": {k: v for k, v in category.items() if k != "code"},
        }
        yield {"clients": clients, "resources": resources}
    finally:
        for client in clients.values():
            await client.aclose()


async def _call(client: httpx.AsyncClient, operation: str, rule: Call, resources: dict[str, str]) -> int:
    method, template = operation.split(" ", 1)
    path = template.format(**{**resources, **(rule.path(resources) if rule.path else {})})
    headers = {"idempotency-key": uuid4().hex} if rule.idempotent_key else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if rule.body is not None:
        kwargs["content"] = json.dumps(rule.body(resources))
        headers["content-type"] = "application/json"
    if rule.content is not None:
        kwargs["content"] = rule.content
        headers["content-type"] = "application/octet-stream"
    if rule.form is not None:
        kwargs["data"] = rule.form(resources)
    if rule.params is not None:
        kwargs["params"] = rule.params(resources)
    if operation == "GET /v1/events":
        async with client.stream(method, path, headers=headers, timeout=10) as response:
            return response.status_code
    return (await client.request(method, path, **kwargs)).status_code


def _expected(rule: Call, caller: str) -> str:
    if caller in rule.hidden:
        return "404"
    if caller in rule.allowed:
        return "through"
    return "401" if caller not in SIGNED_IN else "403"


def _verdict(rule: Call, status: int) -> str:
    if status in {401, 403} or (status == 404 and rule.hidden):
        return str(status)
    return "through"


async def test_every_route_has_a_rule(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as client:
        spec = (await client.get("/openapi.json")).json()
    served = _app_operations()
    documented = _operations(spec)
    assert documented <= served, f"the route walk missed documented routes: {sorted(documented - served)}"
    unclassified = served - set(RULES)
    assert not unclassified, f"routes with no authorization rule in {__name__}.RULES: {sorted(unclassified)}"
    gone = set(RULES) - served
    assert not gone, f"rules for routes that no longer exist: {sorted(gone)}"


@pytest.mark.parametrize("caller", CALLERS)
async def test_each_caller_is_let_through_or_refused_as_its_rule_says(cast: dict[str, Any], caller: str) -> None:
    client: httpx.AsyncClient = cast["clients"][caller]
    resources: dict[str, str] = cast["resources"]
    wrong: list[str] = []
    # Destructive calls last, so that the resources stay for the others.
    order = sorted(RULES, key=lambda op: (op.startswith("DELETE") or op == "POST /v1/auth/logout", op))
    for operation in order:
        rule = RULES[operation]
        status = await _call(client, operation, rule, resources)
        if _verdict(rule, status) != _expected(rule, caller):
            wrong.append(f"{operation}: {status}, expected {_expected(rule, caller)}")
    assert not wrong, f"{caller}:\n" + "\n".join(wrong)
