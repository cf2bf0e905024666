"""An administrator manages staff through the real gateway: lists them, changes their departments and
role (carried by their next refresh), disables them (every session ends at once, no sign-in, no
refresh) and enables them again; each change is announced once on ``users.events.v1``."""

from __future__ import annotations

import base64
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest

from snapfix_shared.topics import Topic
from tests.e2e.api import PASSWORD, sign_in
from tests.e2e.conftest import ADMIN, System
from tests.stack import read_topic

pytestmark = pytest.mark.e2e


def claims(access_token: str) -> dict[str, Any]:
    """The JWT's payload (the gateway verified it; here only read)."""
    payload = access_token.split(".")[1]
    return orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


async def token(anonymous: httpx.AsyncClient, **form: str) -> httpx.Response:
    return await anonymous.post("/v1/auth/token", data=form)


async def password_grant(anonymous: httpx.AsyncClient, email: str) -> httpx.Response:
    return await token(anonymous, grant_type="password", username=email, password=PASSWORD)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    return response.json()  # type: ignore[no-any-return]


async def test_an_administrator_manages_staff(system: System) -> None:
    admin = await sign_in(system, *ADMIN)
    anonymous = httpx.AsyncClient(base_url=system.gateway, timeout=30)
    try:
        prefix = f"crew-{uuid4().hex[:10]}"
        emails = [f"{prefix}-a@city.example", f"{prefix}-b@city.example"]
        created = []
        for email in emails:
            body = {"email": email, "password": PASSWORD, "display_name": "Crew", "departments": ["roads"]}
            response = await admin.post("/v1/admin/users", json=body)
            assert response.status_code == 201, response.text
            created.append(response.json())
        crew_id = created[0]["id"]

        # The list: by role and e-mail prefix (any case), a page at a time, newest first or by address.
        newest = await admin.get("/v1/admin/users", params={"role": "staff", "q": prefix.upper(), "limit": "1"})
        assert newest.status_code == 200, newest.text
        assert newest.headers["cache-control"] == "no-store"
        first = newest.json()
        assert [u["email"] for u in first["items"]] == [emails[1]]
        assert first["items"][0]["disabled"] is False
        assert first["items"][0]["departments"] == ["roads"]
        assert "password_hash" not in first["items"][0]
        assert first["next_cursor"]
        second = (
            await admin.get(
                "/v1/admin/users", params={"role": "staff", "q": prefix, "limit": "1", "cursor": first["next_cursor"]}
            )
        ).json()
        assert [u["email"] for u in second["items"]] == [emails[0]]
        assert second["next_cursor"] is None  # the last page
        by_email = (await admin.get("/v1/admin/users", params={"q": prefix, "sort": "email"})).json()
        assert [u["email"] for u in by_email["items"]] == emails
        assert by_email["next_cursor"] is None
        assert (await admin.get("/v1/admin/users", params={"q": prefix, "role": "admin"})).json()["items"] == []
        problem(await admin.get("/v1/admin/users", params={"sort": "email", "cursor": first["next_cursor"]}), 422)
        problem(await admin.get("/v1/admin/users", params={"limit": "101"}), 422)

        # The staff member signs in; their refresh token is kept for later.
        signed_in = await password_grant(anonymous, emails[0])
        assert signed_in.status_code == 200, signed_in.text
        refresh = signed_in.json()["refresh_token"]
        crew = httpx.AsyncClient(
            base_url=system.gateway, timeout=30, headers={"authorization": f"Bearer {signed_in.json()['access_token']}"}
        )
        try:
            assert claims(signed_in.json()["access_token"])["dep"] == ["roads"]

            # Departments: the same change twice changes nothing the second time.
            change = {"departments": ["traffic", "roads"]}
            for _ in range(2):
                changed = await admin.patch(f"/v1/admin/users/{crew_id}", json=change)
                assert changed.status_code == 200, changed.text
                assert changed.json()["departments"] == ["roads", "traffic"]
                assert changed.json()["disabled"] is False
            refreshed = await token(anonymous, grant_type="refresh_token", refresh_token=refresh)
            assert refreshed.status_code == 200, refreshed.text
            refresh = refreshed.json()["refresh_token"]
            assert claims(refreshed.json()["access_token"])["dep"] == ["roads", "traffic"]

            # Role: carried by the next refresh.
            promoted = await admin.patch(f"/v1/admin/users/{crew_id}", json={"role": "admin"})
            assert promoted.status_code == 200, promoted.text
            assert promoted.json()["role"] == "admin"
            refreshed = await token(anonymous, grant_type="refresh_token", refresh_token=refresh)
            assert refreshed.status_code == 200, refreshed.text
            refresh = refreshed.json()["refresh_token"]
            assert claims(refreshed.json()["access_token"])["role"] == "admin"
            crew.headers["authorization"] = f"Bearer {refreshed.json()['access_token']}"
            assert (await crew.get("/v1/admin/users", params={"limit": "1"})).status_code == 200
            demoted = await admin.patch(f"/v1/admin/users/{crew_id}", json={"role": "staff"})
            assert demoted.json()["role"] == "staff"
            refreshed = await token(anonymous, grant_type="refresh_token", refresh_token=refresh)
            assert refreshed.status_code == 200, refreshed.text
            refresh = refreshed.json()["refresh_token"]
            crew.headers["authorization"] = f"Bearer {refreshed.json()['access_token']}"
            assert claims(refreshed.json()["access_token"])["role"] == "staff"
            assert (await crew.get("/v1/admin/users")).status_code == 403

            # Refusals: problems, and nothing changed.
            unknown_department = await admin.patch(f"/v1/admin/users/{crew_id}", json={"departments": ["no-such"]})
            assert problem(unknown_department, 422)["errors"][0]["field"] == "departments"
            problem(await admin.patch(f"/v1/admin/users/{crew_id}", json={"departments": []}), 422)
            problem(await admin.patch(f"/v1/admin/users/{crew_id}", json={"role": "overlord"}), 422)
            problem(await admin.patch(f"/v1/admin/users/{crew_id}", json={"disabled": "maybe"}), 422)
            problem(await admin.patch(f"/v1/admin/users/{crew_id}", json={"password": "x"}), 422)
            problem(await admin.patch(f"/v1/admin/users/{uuid4()}", json={"disabled": True}), 404)
            me = (await admin.get("/v1/me")).json()["id"]
            assert (
                "cannot disable or demote"
                in problem(await admin.patch(f"/v1/admin/users/{me}", json={"disabled": True}), 409)["detail"]
            )
            problem(await admin.patch(f"/v1/admin/users/{me}", json={"role": "staff", "departments": ["roads"]}), 409)
            assert (await admin.get("/v1/me")).json()["role"] == "admin"

            # Disabled: every session ends at once; no sign-in, no refresh.
            assert (await crew.get("/v1/me")).status_code == 200
            disabled = await admin.patch(f"/v1/admin/users/{crew_id}", json={"disabled": True})
            assert disabled.status_code == 200, disabled.text
            assert disabled.json()["disabled"] is True
            assert (await crew.get("/v1/me")).status_code == 401
            refused = problem(await password_grant(anonymous, emails[0]), 403)
            assert refused["error"] == "account_disabled"
            assert "disabled" in refused["detail"]
            stale = problem(await token(anonymous, grant_type="refresh_token", refresh_token=refresh), 400)
            assert stale["error"] == "invalid_grant"
            # A wrong password tells nothing about the account being disabled.
            wrong = await token(anonymous, grant_type="password", username=emails[0], password="not-" + PASSWORD)
            assert problem(wrong, 400)["error"] == "invalid_grant"
            again = await admin.patch(f"/v1/admin/users/{crew_id}", json={"disabled": True})
            assert again.status_code == 200, again.text
            listed = (await admin.get("/v1/admin/users", params={"q": emails[0]})).json()["items"]
            assert [(u["id"], u["disabled"]) for u in listed] == [(crew_id, True)]

            # Enabled again: signs in.
            enabled = await admin.patch(f"/v1/admin/users/{crew_id}", json={"disabled": False})
            assert enabled.json()["disabled"] is False
            back = await password_grant(anonymous, emails[0])
            assert back.status_code == 200, back.text
            assert claims(back.json()["access_token"])["dep"] == ["roads", "traffic"]
        finally:
            await crew.aclose()

        # Each change announced once, in order: departments, role, role, disabled, enabled.
        key = crew_id.encode()

        def updated(record: Any) -> bool:
            return record.key == key and b"UserUpdated" in (record.value or b"")

        await read_topic(system.stack.kafka, Topic.USERS_EVENTS, updated, count=5)
        # Read again, asking for one more than expected: a duplicate would show up by now.
        records = await read_topic(system.stack.kafka, Topic.USERS_EVENTS, updated, count=6, timeout_s=3)
        events = [orjson.loads(r.value or b"null") for r in records]
        assert [(e["changed"], e["role"], e["disabled"]) for e in events] == [
            (["departments"], "staff", False),
            (["role"], "admin", False),
            (["role"], "staff", False),
            (["disabled"], "staff", True),
            (["disabled"], "staff", False),
        ]
        assert {e["actor_id"] for e in events} == {(await admin.get("/v1/me")).json()["id"]}
        assert all(e["departments"] == ["roads", "traffic"] for e in events)
    finally:
        await admin.aclose()
        await anonymous.aclose()
