"""Photos and reports through the gateway with SNAPFIX_REQUIRE_VERIFIED_EMAIL on (production's default):
only a verified e-mail address may report or upload (staff excepted), and the e-mailed link gives it;
with it off (development, the rest of this suite) an unverified citizen may do both. And each
citizen's quotas answer with a reason, and when to retry where time helps."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.builders import make_report_body
from tests.e2e.api import citizen, staff
from tests.e2e.conftest import System
from tests.mailbox import Mailbox, body_text
from tests.stack import ROOT, free_port, wait_ready

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


@pytest.fixture(scope="module")
def verifying_gateway(system: System) -> Iterator[str]:
    """A second gateway on the same stack and services, with SNAPFIX_REQUIRE_VERIFIED_EMAIL on."""
    assert system.logs is not None
    port = free_port()
    env = {**system.envs["gateway"], "SNAPFIX_HTTP_PORT": str(port), "SNAPFIX_REQUIRE_VERIFIED_EMAIL": "true"}
    log = system.logs / "gateway-verifying.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snapfix_gateway"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_ready(url, proc):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            pytest.fail(f"the verifying gateway did not become ready (exit code {proc.poll()}):\n{tail}")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def through(client: httpx.AsyncClient, url: str) -> httpx.AsyncClient:
    """The same signed-in user (the same access token) on the gateway at ``url``."""
    return httpx.AsyncClient(base_url=url, headers=client.headers, timeout=30)


async def test_with_the_setting_on_reporting_and_uploads_need_a_verified_address_and_its_link_gives_it(
    system: System, mailbox: Mailbox, verifying_gateway: str
) -> None:
    signed_in = await citizen(system)
    client = through(signed_in, verifying_gateway)
    try:
        refused = problem(await client.post("/v1/media", json=PHOTO), 403)
        assert refused["detail"].startswith("Verify your e-mail address before uploading photos: follow the link")
        refused = problem(await client.post("/v1/issues", json=make_report_body()), 403)
        assert refused["detail"].startswith("Verify your e-mail address before reporting an issue: follow the link")

        await follow_verification_link(client, mailbox)
        issued = await client.post("/v1/media", json=PHOTO)
        assert issued.status_code == 201, issued.text
        assert "/upload?expires=" in issued.json()["upload_url"]
        reported = await client.post("/v1/issues", json=make_report_body())
        assert reported.status_code == 202, reported.text
    finally:
        await client.aclose()
        await signed_in.aclose()


async def test_with_the_setting_off_an_unverified_citizen_reports_and_uploads(system: System) -> None:
    client = await citizen(system)
    try:
        assert (await client.get("/v1/me")).json()["email_verified"] is False
        issued = await client.post("/v1/media", json=PHOTO)
        assert issued.status_code == 201, issued.text
        reported = await client.post("/v1/issues", json=make_report_body())
        assert reported.status_code == 202, reported.text
    finally:
        await client.aclose()


async def test_with_the_setting_on_staff_report_and_upload_without_verifying_as_an_administrator_made_them(
    system: System, verifying_gateway: str
) -> None:
    signed_in = await staff(system, "roads")
    crew = through(signed_in, verifying_gateway)
    try:
        assert (await crew.get("/v1/me")).json()["email_verified"] is False
        assert (await crew.post("/v1/media", json=PHOTO)).status_code == 201
        assert (await crew.post("/v1/issues", json=make_report_body())).status_code == 202
    finally:
        await crew.aclose()
        await signed_in.aclose()


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
