"""The citizen's reporting flow in the browser: a verified citizen places the pin, picks a category,
fills its attributes, attaches a photo (uploaded with progress), submits, and finds the report under
My reports; axe passes on /report and /me/reports. At a 360 px phone and at desktop width."""

from __future__ import annotations

from uuid import uuid4

import httpx
from playwright.async_api import FilePayload, Page, expect

from tests.e2e.api import PASSWORD, mark_verified
from tests.e2e.browser.axe import assert_accessible
from tests.e2e.browser.conftest import BrowserLog
from tests.e2e.browser.harness import ARTIFACTS, Viewport, both_viewports
from tests.e2e.conftest import System
from tests.e2e.test_media import photo

REFRESH_KEY = "snapfix.refresh_token"  # web/src/api/tokens.ts


async def verified_citizen_refresh_token(system: System) -> str:
    """A new citizen with a verified e-mail address; its refresh token, for the browser's storage."""
    email = f"reporter-{uuid4().hex[:10]}@example.org"
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as client:
        registered = await client.post(
            "/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Reporter"}
        )
        assert registered.status_code == 202, registered.text
        token = await client.post(
            "/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        me = await client.get("/v1/me", headers={"authorization": f"Bearer {token.json()['access_token']}"})
        await mark_verified(system.stack, me.json()["id"])
        # Tokens issued after the verification, so the session knows the address is verified.
        token = await client.post(
            "/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        refresh: str = token.json()["refresh_token"]
        return refresh


@both_viewports
async def test_a_citizen_reports_an_issue_with_a_photo_and_finds_it_under_my_reports(
    page: Page, system: System, viewport: Viewport, browser_log: BrowserLog
) -> None:
    refresh = await verified_citizen_refresh_token(system)
    await page.goto("/")
    await page.evaluate("([k, v]) => localStorage.setItem(k, v)", [REFRESH_KEY, refresh])
    await page.goto("/report")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Report an issue")

    # The pin: a click on the (tile-less) map sets it; its coordinates show as text and in the inputs.
    await page.get_by_role("application", name="Map: click to place the pin").click()
    await expect(page.get_by_text("Pin at ")).to_be_visible()
    assert await page.get_by_label("Latitude").input_value() != ""
    assert await page.get_by_label("Longitude").input_value() != ""

    await page.get_by_label("What kind of problem?").select_option(label="Pothole")
    details = page.get_by_role("group", name="Details for Pothole")
    await details.get_by_label("Approximate depth in centimetres").fill("12")
    await details.get_by_label("Where on the road").select_option(label="Driving lane")
    title = f"Pothole by the school gate {uuid4().hex[:6]}"
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Description").fill("Deep enough to bend a bicycle wheel.")

    await page.get_by_label("Add photos").set_input_files(
        files=FilePayload(name="pothole.jpg", mimeType="image/jpeg", buffer=photo(size=(640, 480)))
    )
    # The upload's progress completes (the PUT went through) and the photo is processed.
    await expect(page.get_by_role("progressbar", name="Uploaded pothole.jpg: 100 %")).to_have_attribute("value", "100")
    photo_item = page.get_by_role("listitem").filter(has_text="pothole.jpg")
    await expect(photo_item.get_by_role("status")).to_have_text("✔ Ready", timeout=30_000)

    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context=f"report form with a pin and a photo ({viewport.name})")
    # The filled form too (the harness screenshots the page only at the test's end).
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"test_report.filled_form[{viewport.name}].png", full_page=True)

    await page.get_by_role("button", name="Send the report").click()
    await expect(page.get_by_role("heading", name="Received")).to_be_visible()
    link = page.get_by_role("link", name="Open your report")
    await expect(link).to_be_visible(timeout=15_000)
    href = await link.get_attribute("href")
    assert href is not None
    report_id = href.removeprefix("/issues/")
    await expect(page.locator("code")).to_have_text(report_id)  # the report number shown

    await page.goto("/me/reports")
    await expect(page.get_by_role("heading", level=1)).to_have_text("My reports")
    mine = page.get_by_role("link", name=title)
    await expect(mine).to_have_attribute("href", href)
    await expect(page.get_by_text("Category: Pothole")).to_be_visible()
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context=f"my reports ({viewport.name})")
    assert browser_log.page_errors == []
