"""Photos through the gateway: only a verified e-mail address may upload them (staff excepted),
and each citizen's quotas answer with a reason, and when to retry where time helps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.builders import make_report_body
from tests.e2e.api import citizen, staff
from tests.e2e.conftest import System
from tests.mailbox import Mailbox, body_text

pytestmark = pytest.mark.e2e

PHOTO = {"content_type": "image/jpeg", "size": 2_000}
UNATTACHED_LIMIT, DAILY_LIMIT = 20, 100  # the media service's defaults


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def follow_verification_link(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    address = str((await client.get("/v1/me")).json()["email"])
    [message] = await mailbox.wait_for(
        lambda m: address in str(m["To"]).lower() and "/v1/auth/verify-email?token=" in body_text(m), timeout_s=60
    )
    link = next(word for word in body_text(message).split() if "/v1/auth/verify-email?token=" in word)
    async with httpx.AsyncClient(timeout=30) as browser:
        verified = await browser.get(link, headers={"accept": "application/json"})
    assert verified.status_code == 200, verified.text


async def test_uploading_photos_needs_a_verified_email_address_and_its_link_gives_it(
    system: System, mailbox: Mailbox
) -> None:
    client = await citizen(system)
    try:
        refused = problem(await client.post("/v1/media", json=PHOTO), 403)
        assert "Verify your e-mail address" in refused["detail"]
        # Reporting without photos stays open before verification (sign-in comes last in the flow).
        assert (await client.post("/v1/issues", json=make_report_body())).status_code == 202

        await follow_verification_link(client, mailbox)
        issued = await client.post("/v1/media", json=PHOTO)
        assert issued.status_code == 201, issued.text
        assert "/upload?expires=" in issued.json()["upload_url"]
    finally:
        await client.aclose()


async def test_staff_upload_without_verifying_as_an_administrator_made_their_account(system: System) -> None:
    crew = await staff(system, "roads")
    try:
        assert (await crew.post("/v1/media", json=PHOTO)).status_code == 201
    finally:
        await crew.aclose()


async def test_past_its_quotas_a_citizen_is_told_why_and_when_to_retry(system: System) -> None:
    client = await citizen(system, verified=True)
    try:
        for _ in range(UNATTACHED_LIMIT):
            assert (await client.post("/v1/media", json=PHOTO)).status_code == 201
        full = problem(await client.post("/v1/media", json=PHOTO), 403)
        assert f"You have {UNATTACHED_LIMIT} photos that no report names yet" in full["detail"]
        # Every URL asked for counts towards the day's limit, refused ones too.
        for _ in range(DAILY_LIMIT - UNATTACHED_LIMIT - 1):
            assert (await client.post("/v1/media", json=PHOTO)).status_code == 403
        daily = await client.post("/v1/media", json=PHOTO)
        assert "upload URLs today" in problem(daily, 429)["detail"]
        assert 0 < int(daily.headers["retry-after"]) <= 86_400 + 1
    finally:
        await client.aclose()
