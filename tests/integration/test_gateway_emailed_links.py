"""The links the gateway e-mails (verify the address, reset the password) against the real stack:
sealed on the topic, answered as JSON or as pages, led to the web app when there is one, and a
reset that ends every session.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.sessions import Sessions
from snapfix_shared.messages import EmailVerificationRequested
from snapfix_shared.sealing import DEV_LINK_SEAL_KEY, LinkSeal
from snapfix_shared.topics import Topic
from tests.integration.gateway_app import (
    bearer,
    gateway_settings,
    new_email,
    registered,
    running,
    running_app,
    sign_in,
)
from tests.stack import Stack, read_topic

pytestmark = pytest.mark.integration


async def _sealed_link(stack: Stack, user_id: str, event_type: bytes, field: str) -> httpx.URL:
    """The link of the user's latest event of that type: sealed on the topic, never in clear (finding 8)."""
    records = await read_topic(
        stack.kafka, Topic.USERS_EVENTS, lambda r: r.key == user_id.encode() and event_type in (r.value or b"")
    )
    raw = records[-1].value or b""
    assert b"token=" not in raw
    assert b"/v1/auth/" not in raw
    link = httpx.URL(LinkSeal(DEV_LINK_SEAL_KEY).unseal(orjson.loads(raw)[field]))
    assert len(link.params["token"]) >= 40
    return link


async def test_email_verification_link(gw: httpx.AsyncClient, stack: Stack) -> None:
    email = new_email()
    user = await registered(gw, email)
    link = await _sealed_link(stack, user["id"], b"EmailVerificationRequested", "verify_url_sealed")
    assert link.path == "/v1/auth/verify-email"
    verified = await gw.get(link.path, params=link.params)  # an API client: JSON
    assert verified.status_code == 200
    assert verified.json() == {"status": "verified"}
    me = await gw.get("/v1/me", headers=bearer(await sign_in(gw, email)))
    assert me.json()["email_verified"] is True
    assert (await gw.get(link.path, params=link.params)).status_code == 404  # used up


BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_a_browser_following_the_verification_link_gets_a_page(gw: httpx.AsyncClient, stack: Stack) -> None:
    user = await registered(gw, new_email())
    link = await _sealed_link(stack, user["id"], b"EmailVerificationRequested", "verify_url_sealed")
    page = await gw.get(link.path, params=link.params, headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Your address is confirmed" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    again = await gw.get(link.path, params=link.params, headers=BROWSER)
    assert again.status_code == 404
    assert "does not work" in again.text


async def test_the_emailed_reset_link_opens_a_form_that_sets_the_password(gw: httpx.AsyncClient, stack: Stack) -> None:
    """Finding 8: the link in the e-mail is a GET; it used to answer 405."""
    email = new_email()
    user = await registered(gw, email)
    before = await sign_in(gw, email)
    assert (await gw.post("/v1/auth/password-reset", json={"email": email})).status_code == 202
    link = await _sealed_link(stack, user["id"], b"PasswordResetRequested", "reset_url_sealed")
    assert link.path == "/v1/auth/password-reset"

    page = await gw.get(link.path, params=link.params, headers=BROWSER)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "form-action 'self'" in page.headers["content-security-policy"]
    form = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert form is not None
    action = httpx.URL(str(page.url)).join(form.group(1))
    assert action.path == "/v1/auth/password-reset/form"
    assert f'name="token" value="{link.params["token"]}"' in page.text

    weak = await gw.post(action, data={"token": link.params["token"], "new_password": "password12"})
    assert weak.status_code == 422
    assert "too weak" in weak.text
    assert 'name="new_password"' in weak.text  # the form again, the token still usable
    again = re.search(r'<form method="post" action="([^"]+)"', weak.text)
    assert again is not None  # and it still posts to the form's route from the page it is shown on
    assert httpx.URL(str(weak.url)).join(again.group(1)).path == "/v1/auth/password-reset/form"
    done = await gw.post(action, data={"token": link.params["token"], "new_password": "amber-falcon-38-meadow"})
    assert done.status_code == 200, done.text
    assert "Your password is changed" in done.text
    await sign_in(gw, email, "amber-falcon-38-meadow")
    assert (await gw.get("/v1/me", headers=bearer(before))).status_code == 401  # every session ended
    used = await gw.post(action, data={"token": link.params["token"], "new_password": "amber-falcon-38-meadow"})
    assert used.status_code == 400
    assert "does not work" in used.text


async def test_with_a_web_app_the_emailed_links_lead_there(stack: Stack) -> None:
    settings = gateway_settings(stack, web_base_url="https://app.city.example/")
    async for gw in running(settings):
        for path, route in (("/v1/auth/password-reset", "password-reset"), ("/v1/auth/verify-email", "verify-email")):
            answer = await gw.get(path, params={"token": "a-token-of-the-link-0123"}, headers=BROWSER)
            assert answer.status_code == 303, (path, answer.text)
            assert answer.headers["location"] == f"https://app.city.example/{route}?token=a-token-of-the-link-0123"
        # The web app itself asks with JSON: answered, not sent round again.
        api = await gw.get("/v1/auth/verify-email", params={"token": "a-token-of-the-link-0123"})
        assert api.status_code == 404
        assert api.headers["content-type"] == "application/problem+json"


async def test_an_outbox_entry_from_before_sealing_is_sealed_on_its_way_out(stack: Stack) -> None:
    """An outbox entry written by a release that sent links in clear (Kafka was down then) goes out sealed."""
    async for app, gw in running_app(gateway_settings(stack)):
        email = new_email()
        account_id = (await registered(gw, email))["id"]
        clear = "http://127.0.0.1:8000/v1/auth/verify-email?token=legacy-token-0123456789"
        legacy = EmailVerificationRequested(
            correlation_id="legacy",
            actor_id=account_id,
            user_id=UUID(account_id),
            email=email,
            display_name="Ada",
            verify_url_sealed="-",
        ).model_dump(mode="json")
        del legacy["verify_url_sealed"]
        legacy["verify_url"] = clear
        accounts = Account.get_pymongo_collection()
        await accounts.update_one(
            {"_id": UUID(account_id)}, {"$push": {"outbox": legacy}, "$set": {"outbox_pending": True}}
        )
        account = await Account.get(UUID(account_id))
        assert account is not None
        await app.state.accounts._flush(account)  # what the outbox relay does

        marker = legacy["message_id"].encode()
        records = await read_topic(stack.kafka, Topic.USERS_EVENTS, lambda r, marker=marker: marker in (r.value or b""))
        raw = records[0].value or b""
        assert b"legacy-token" not in raw
        assert LinkSeal(DEV_LINK_SEAL_KEY).unseal(orjson.loads(raw)["verify_url_sealed"]) == clear
        assert (await Account.get(UUID(account_id))).outbox == []  # type: ignore[union-attr]


async def test_a_reset_ends_every_session_even_when_ending_them_in_redis_fails(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of finding 2: Redis failing between the new password and revoke_all left the
    attacker's refresh session alive until its absolute end (the used link cannot be retried)."""

    async def redis_gone(*_: Any) -> int:
        raise RedisConnectionError("Redis went away mid-reset")

    async for gw in running(gateway_settings(stack)):  # its own app, as the tests above have
        email = new_email()
        user = await registered(gw, email)
        stolen = await sign_in(gw, email)
        assert (await gw.post("/v1/auth/password-reset", json={"email": email})).status_code == 202
        link = await _sealed_link(stack, user["id"], b"PasswordResetRequested", "reset_url_sealed")

        monkeypatch.setattr(Sessions, "revoke_all", redis_gone)
        confirm = {"token": link.params["token"], "new_password": "amber-falcon-38-meadow"}
        answer = await gw.post("/v1/auth/password-reset/confirm", json=confirm)
        assert answer.status_code == 503  # the password changed; the sessions could not be ended in Redis
        monkeypatch.undo()

        refresh = {"grant_type": "refresh_token", "refresh_token": stolen["refresh_token"]}
        refreshed = await gw.post("/v1/auth/token", data=refresh)
        assert refreshed.status_code == 400, refreshed.text
        assert refreshed.json()["error"] == "invalid_grant"
        fresh = await sign_in(gw, email, "amber-falcon-38-meadow")  # the owner signs in anew and refreshes
        again = await gw.post(
            "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]}
        )
        assert again.status_code == 200, again.text
