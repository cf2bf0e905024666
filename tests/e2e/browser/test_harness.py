"""The harness itself, proven on a real screen: the e-mailed password-reset link's path on the gateway
(``/v1/auth/password-reset?token=…``) sends the browser to the web app's form (SNAPFIX_WEB_BASE_URL),
which renders in Chromium at both viewports without sideways scrolling, passes axe, and logs no
console error (a CSP violation would show there); and axe does catch a real violation.
The reset flow end to end from a real e-mail is in test_auth.py."""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from playwright.async_api import Page, expect

from tests.e2e.browser.axe import assert_accessible, violations
from tests.e2e.browser.conftest import BrowserLog
from tests.e2e.browser.harness import Viewport, both_viewports

RESET_LINK = "/v1/auth/password-reset"  # the path of the e-mailed link (the API's)


@both_viewports
async def test_the_emailed_reset_path_opens_the_web_apps_form_accessibly_at_both_viewports(
    page: Page, viewport: Viewport, browser_log: BrowserLog
) -> None:
    response = await page.goto(f"{RESET_LINK}?token=bogus-{uuid4().hex}")
    assert response is not None
    assert response.status == 200
    assert urlsplit(response.url).path == "/password-reset"  # redirected to the web app
    await expect(page).to_have_title("Choose a new password · SnapFix")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    await expect(page.get_by_label(re.compile(r"^New password \("))).to_be_focused()  # autofocus
    await expect(page.get_by_role("button", name="Set the new password")).to_be_visible()
    await expect(page).not_to_have_url(re.compile(r"[?&]token="))  # read, then dropped from the address
    assert await page.evaluate("() => window.innerWidth") == viewport.width
    # Nothing wider than the screen: no sideways scrolling on a 360 px phone.
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context=f"password-reset form ({viewport.name})")
    assert browser_log.console_errors == []
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
