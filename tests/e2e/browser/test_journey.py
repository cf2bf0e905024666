"""One report's whole life in the browser, on the real stack, as the issue tells it:

a citizen signs up in the web app, confirms the address from the real e-mail, signs in, reports a
pothole with a photo and finds it on the map; a member of the roads department acknowledges it from
the console's queue and resolves it from its page; the citizen, watching the report's page, sees each
change arrive live, gets the "resolved" e-mail, and its link opens the report's page with the Reopen
button ready. Two browser contexts: the citizen's phone and the staff member's desktop.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

from playwright.async_api import Browser, FilePayload, Page, expect

from tests.e2e.api import PASSWORD, eventually, sign_in, staff
from tests.e2e.browser.axe import assert_accessible
from tests.e2e.browser.conftest import BrowserLog
from tests.e2e.browser.harness import DESKTOP, PHONE, TIMEOUT_MS, Viewport, phone_only
from tests.e2e.conftest import System
from tests.e2e.test_media import photo
from tests.mailbox import Mailbox, emailed_link, links

SLOW_MS = 30_000  # a 202 is applied by the consumers shortly after; photos are processed on their own


async def sign_in_in_the_ui(page: Page, email: str) -> None:
    await page.goto("/signin")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def sign_up_and_confirm(page: Page, mailbox: Mailbox, email: str) -> None:
    since = len(mailbox.messages)
    await page.goto("/signup")
    await page.get_by_label("Your name").fill("Meena Iyer")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    await page.goto(await emailed_link(mailbox, email, "/v1/auth/verify-email", since=since))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your e-mail address is confirmed")


async def report_a_pothole(page: Page, title: str, lat: float, lon: float) -> str:
    """The report form, the pin set from the keyboard's coordinates; the new report's id."""
    await page.goto("/report")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Report an issue")
    await page.get_by_label("Latitude").fill(f"{lat:.6f}")
    await page.get_by_label("Longitude").fill(f"{lon:.6f}")
    await page.get_by_label("Longitude").press("Tab")
    await expect(page.get_by_text("Pin at ")).to_be_visible()
    await page.get_by_label("What kind of problem?").select_option(label="Pothole")
    details = page.get_by_role("group", name="Details for Pothole")
    await details.get_by_label("Approximate depth in centimetres").fill("15")
    await details.get_by_label("Where on the road").select_option(label="Driving lane")
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Description").fill("A deep one, right where buses stop.")
    await page.get_by_label("Add photos").set_input_files(
        files=[FilePayload(name="pothole.jpg", mimeType="image/jpeg", buffer=photo(size=(800, 600)))]
    )
    item = page.get_by_role("listitem").filter(has_text="pothole.jpg")
    await expect(item.get_by_role("status")).to_have_text("✔ Ready", timeout=SLOW_MS)
    await page.get_by_role("button", name="Send the report").click()
    await expect(page.get_by_role("heading", name="Received")).to_be_visible()
    link = page.get_by_role("link", name="Open your report")
    await expect(link).to_be_visible(timeout=SLOW_MS)
    href = await link.get_attribute("href")
    assert href is not None
    assert href.startswith("/issues/"), href
    return href.removeprefix("/issues/")


def resolved_mail(email: str) -> Callable[[EmailMessage], bool]:
    def match(message: EmailMessage) -> bool:
        return email.lower() in str(message["To"]).lower() and any("action=reopen" in link for link in links(message))

    return match


@phone_only
async def test_a_report_from_sign_up_to_resolved_with_live_status_and_the_emailed_link(
    page: Page,
    browser: Browser,
    base_url: str,
    system: System,
    mailbox: Mailbox,
    viewport: Viewport,
    browser_log: BrowserLog,
) -> None:
    assert viewport == PHONE
    email = f"journey-{uuid4().hex[:10]}@example.org"
    title = f"Pothole at the bus stop {uuid4().hex[:6]}"
    # A spot of its own near the city's centre, so the map at street zoom shows this report's marker.
    lat, lon = 12.9716 + random.uniform(-0.02, 0.02), 77.5946 + random.uniform(-0.02, 0.02)

    # The citizen, on a phone: sign up, confirm the address, sign in, report with a photo.
    await sign_up_and_confirm(page, mailbox, email)
    await sign_in_in_the_ui(page, email)
    issue_id = await report_a_pothole(page, title, lat, lon)

    # The report on the public map, at street level around its pin.
    await page.goto(f"/?lat={lat:.6f}&lon={lon:.6f}&z=17")
    marker = page.get_by_role("button", name=re.compile(rf"^{re.escape(title)}, Open$"))
    await expect(marker).to_be_visible(timeout=SLOW_MS)
    await assert_accessible(page, context="the map with the new report (phone)")

    # The citizen keeps the report's page open.
    await page.goto(f"/issues/{issue_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    head = page.locator(".issue-head")
    await expect(head.get_by_text("Open")).to_be_visible()

    # Staff of the roads department, on a desktop in a context of their own.
    crew = await staff(system, "roads")
    crew_email = (await crew.get("/v1/me")).json()["email"]
    desk = await browser.new_context(
        base_url=base_url, viewport={"width": DESKTOP.width, "height": DESKTOP.height}, timezone_id="UTC"
    )
    desk.set_default_timeout(TIMEOUT_MS)
    try:
        console = await desk.new_page()
        await sign_in_in_the_ui(console, crew_email)
        await console.goto("/staff?department=roads&sort=newest")
        await expect(console.get_by_role("link", name=title)).to_be_visible(timeout=SLOW_MS)
        await console.get_by_label(f"Select “{title}”").check()
        await console.get_by_role("button", name="Acknowledge").click()
        await expect(console.get_by_text("Finished: 1 done, 0 refused.")).to_be_visible()

        # Live on the citizen's phone: the status changes without a reload, and is announced.
        await expect(page.get_by_text("The status changed to Acknowledged.")).to_be_attached(timeout=SLOW_MS)
        await expect(head.get_by_text("Acknowledged")).to_be_visible()

        await console.get_by_role("link", name=title).click()
        await expect(console.get_by_role("heading", level=1)).to_have_text(title)
        await console.get_by_label("Note for the reporter").fill("Filled and rolled this morning.")
        await console.get_by_role("button", name="Resolve").click()
        await expect(console.get_by_role("button", name="Close")).to_be_visible(timeout=SLOW_MS)
        await assert_accessible(console, context="staff issue page, resolved")
    finally:
        await desk.close()
        await crew.aclose()

    await expect(page.get_by_text("The status changed to Resolved.")).to_be_attached(timeout=SLOW_MS)
    await expect(head.get_by_text("Resolved")).to_be_visible()
    await expect(page.get_by_text("Filled and rolled this morning.")).to_be_visible()

    # The "resolved" e-mail: its link opens this report's page in the web app, the Reopen button ready.
    [message] = (await mailbox.wait_for(resolved_mail(email), timeout_s=60))[-1:]
    reopen = next(link for link in links(message) if "action=reopen" in link)
    assert urlsplit(reopen).path == f"/issues/{issue_id}"
    assert parse_qs(urlsplit(reopen).query) == {"action": ["reopen"]}
    await page.goto(reopen)
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    await expect(page.get_by_role("button", name="Reopen")).to_be_focused()
    await assert_accessible(page, context="the report's page from the e-mail (phone)")

    # What the browser showed is what the API holds.
    client = await sign_in(system, email)
    try:
        final = await eventually(client, f"/v1/issues/{issue_id}", lambda i: i["status"] == "resolved")
        assert [(h["from"], h["to"]) for h in final["history"]] == [
            ("open", "acknowledged"),
            ("acknowledged", "resolved"),
        ]
        assert len(final["photos"]) == 1
    finally:
        await client.aclose()
    assert browser_log.page_errors == []
