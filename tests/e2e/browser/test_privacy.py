"""A citizen's data rights in the browser, against the real stack: the settings page downloads everything
SnapFix holds about them as one JSON file, then deletes the account with the password; they land signed
out, and the address no longer signs in. axe passes on the settings page with its privacy section."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from tests.builders import make_report_body
from tests.e2e.api import PASSWORD, citizen, eventually
from tests.e2e.browser.axe import assert_accessible
from tests.e2e.browser.test_auth import email_of, sign_in_in_the_ui
from tests.e2e.conftest import System


async def test_a_citizen_downloads_their_data_then_deletes_the_account(
    page: Page, system: System, tmp_path: Path
) -> None:
    client = await citizen(system)
    try:
        accepted = await client.post("/v1/issues", json=make_report_body())
        assert accepted.status_code == 202, accepted.text
        await eventually(client, "/v1/me/notifications", lambda feed: len(feed["items"]) > 0)
        email = await email_of(client)
    finally:
        await client.aclose()
    await page.goto("/signin?next=%2Fme%2Fsettings")
    await sign_in_in_the_ui(page, email, PASSWORD)
    await expect(page.get_by_role("heading", level=2, name="Your data")).to_be_visible()
    await assert_accessible(page, context="settings with the privacy section")

    async with page.expect_download() as downloading:
        await page.get_by_role("button", name="Download my data").click()
    saved = tmp_path / "export.json"
    await (await downloading.value).save_as(saved)
    data = json.loads(saved.read_text())
    assert data["account"]["email"] == email
    assert [r["id"] for r in data["issues"]["reports"]] == [accepted.json()["id"]]
    await expect(page.get_by_text("Your data was downloaded as a JSON file.")).to_be_visible()

    delete = page.get_by_role("button", name="Delete my account")
    await page.get_by_label(re.compile("^Your current password")).fill("not-the-password-at-all")
    await expect(delete).to_be_disabled()  # the confirmation first
    await page.get_by_role("checkbox", name="I understand that my account is deleted for good").check()
    await delete.click()
    await expect(page.get_by_text("The password is wrong.")).to_be_visible()
    await page.get_by_label(re.compile("^Your current password")).fill(PASSWORD)
    await delete.click()
    # Signed out: on the home page, or on the sign-in page if the app saw its session end first (its live
    # stream closes when the session does, and the refused refresh sends it there).
    await expect(page).to_have_url(re.compile(r"/($|signin)"))
    await page.goto("/me/settings")  # the app holds no session any more: its guard asks to sign in
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as anonymous:
        refused = await anonymous.post(
            "/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
        )
    assert refused.status_code == 400, refused.text
