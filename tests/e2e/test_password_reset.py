"""Password reset through the real gateway and notify, the email read from a real SMTP server:
the link works once, replaces any earlier one, and ends every session of the account."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import httpx
import pytest

from tests.e2e.api import PASSWORD, citizen
from tests.e2e.conftest import System
from tests.mailbox import Mailbox, body_html, body_text

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "amber-falcon-38-meadow-quill"
SUBJECT = "Choose a new password"


def reset_token(text: str) -> str:
    link = next(word for word in text.split() if "/v1/auth/password-reset?token=" in word)
    return parse_qs(urlsplit(link).query)["token"][0]


async def sign_in_status(anonymous: httpx.AsyncClient, email: str, password: str) -> int:
    response = await anonymous.post(
        "/v1/auth/token", data={"grant_type": "password", "username": email, "password": password}
    )
    return response.status_code


async def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(system: System, mailbox: Mailbox) -> None:
    client = await citizen(system)
    anonymous = httpx.AsyncClient(base_url=system.gateway, timeout=30)
    try:
        email = (await client.get("/v1/me")).json()["email"]
        unknown = f"nobody-{uuid4().hex[:10]}@example.org"

        answers = [await anonymous.post("/v1/auth/password-reset", json={"email": e}) for e in (unknown, email)]
        assert [a.status_code for a in answers] == [202, 202]
        assert answers[0].json() == answers[1].json()  # nothing tells whether the account exists

        def to(address: str) -> Callable[[EmailMessage], bool]:
            return lambda m: address.lower() in str(m["To"]).lower() and SUBJECT in str(m["Subject"])

        [first] = await mailbox.wait_for(to(email))
        assert f"{system.gateway}/v1/auth/password-reset?token=" in body_text(first)
        assert reset_token(body_text(first)) in body_html(first)
        # A second request replaces the first link.
        assert (await anonymous.post("/v1/auth/password-reset", json={"email": email})).status_code == 202
        messages = await mailbox.wait_for(to(email), count=2)
        old_token, token = reset_token(body_text(messages[0])), reset_token(body_text(messages[1]))
        assert old_token != token
        replaced = await anonymous.post(
            "/v1/auth/password-reset/confirm", json={"token": old_token, "new_password": NEW_PASSWORD}
        )
        assert replaced.status_code == 400, replaced.text
        assert replaced.headers["content-type"].startswith("application/problem+json")

        weak = await anonymous.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "password12"}
        )
        assert weak.status_code == 422, weak.text
        assert (await client.get("/v1/me")).status_code == 200  # nothing changed yet

        done = await anonymous.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert done.status_code == 204, done.text
        assert (await client.get("/v1/me")).status_code == 401  # the old session ended
        assert await sign_in_status(anonymous, email, PASSWORD) == 400
        assert await sign_in_status(anonymous, email, NEW_PASSWORD) == 200

        again = await anonymous.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "another-" + NEW_PASSWORD}
        )
        assert again.status_code == 400, again.text
        assert await sign_in_status(anonymous, email, NEW_PASSWORD) == 200
        # The unknown address was asked for first; its mail, had there been one, would be here by now.
        assert mailbox.matching(to(unknown)) == []
    finally:
        await client.aclose()
        await anonymous.aclose()
