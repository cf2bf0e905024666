"""The harness proven on what exists today: the gateway's own password-reset page (the e-mailed link's
page when no web app is configured), in Chromium at both viewports, checked with axe, reached from
the link in a real email. The lead points these at the web app once it is served at ``/``."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.e2e.api import citizen
from tests.e2e.browser.axe import assert_accessible, violations
from tests.e2e.browser.conftest import BrowserLog
from tests.e2e.browser.harness import PHONE, Viewport, both_viewports
from tests.e2e.conftest import System
from tests.mailbox import Mailbox, emailed_link

RESET_PAGE = "/v1/auth/password-reset"
NEW_PASSWORD = "copper-heron-71-lantern-moss"


@both_viewports
async def test_the_reset_page_renders_accessibly_at_both_viewports(
    page: Page, viewport: Viewport, browser_log: BrowserLog
) -> None:
    response = await page.goto(f"{RESET_PAGE}?token=bogus-{uuid4().hex}")
    assert response is not None
    assert response.status == 200
    await expect(page).to_have_title("Choose a new password · SnapFix")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    await expect(page.get_by_label("New password")).to_be_focused()  # autofocus
    await expect(page.get_by_role("button", name="Set the new password")).to_be_visible()
    assert await page.evaluate("() => window.innerWidth") == viewport.width
    # Nothing wider than the screen: no sideways scrolling on a 360 px phone.
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context=f"password-reset form ({viewport.name})")
    assert browser_log.console_errors == []  # a CSP violation would show here
    assert browser_log.page_errors == []


async def test_axe_reports_serious_violations(page: Page) -> None:
    """assert_accessible is not vacuous: an image without text and an unlabelled field fail it."""
    await page.set_content('<html lang="en"><title>t</title><main><img src="data:,"><input type="text"></main></html>')
    found = {v["id"]: v for v in await violations(page)}
    assert found["image-alt"]["impact"] == "critical"
    assert found["image-alt"]["targets"] == ["img"]
    assert "label" in found
    with pytest.raises(pytest.fail.Exception, match=r"(?s)image-alt.*\n    img\b"):
        await assert_accessible(page, context="a broken page")


@pytest.mark.parametrize("viewport", [PHONE], ids=["phone"], indirect=True)
async def test_the_emailed_reset_link_sets_a_new_password_in_the_browser(
    page: Page, system: System, mailbox: Mailbox
) -> None:
    client = await citizen(system)
    try:
        email = (await client.get("/v1/me")).json()["email"]
        since = len(mailbox.messages)
        async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as anonymous:
            requested = await anonymous.post("/v1/auth/password-reset", json={"email": email})
            assert requested.status_code == 202, requested.text
            link = await emailed_link(mailbox, email, RESET_PAGE, since=since)
            assert link.startswith(f"{system.gateway}{RESET_PAGE}?token=")

            await page.goto(link)
            await page.get_by_label("New password").fill(NEW_PASSWORD)
            await page.get_by_role("button", name="Set the new password").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("Your password is changed")
            await assert_accessible(page, context="password changed")

            signed_in = await anonymous.post(
                "/v1/auth/token", data={"grant_type": "password", "username": email, "password": NEW_PASSWORD}
            )
            assert signed_in.status_code == 200, signed_in.text
    finally:
        await client.aclose()
