"""The account screens and the e-mailed links in the browser, against the real stack and a real SMTP
mailbox: sign up (phone width), follow the verification link from the e-mail into the web app, sign in;
reset a forgotten password from the e-mailed link; unsubscribe from a notification e-mail's link; the
notifications feed and the settings (preferences, an area watch); Hindi on the sign-in screen.
axe passes on every screen. The gateway sends browsers from its e-mailed API links to the web app
(SNAPFIX_WEB_BASE_URL), and notify's e-mails link to the web app's pages."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import httpx
from playwright.async_api import Page, expect

from tests.builders import make_report_body
from tests.e2e.api import PASSWORD, citizen, eventually, sign_in
from tests.e2e.browser.axe import assert_accessible
from tests.e2e.browser.conftest import BrowserLog
from tests.e2e.browser.harness import Viewport, phone_only
from tests.e2e.conftest import System
from tests.mailbox import Mailbox, emailed_link

NEW_PASSWORD = "copper-heron-71-lantern-moss"
DEVANAGARI = re.compile(r"[\u0900-\u097F]")


async def email_of(client: httpx.AsyncClient) -> str:
    email: str = (await client.get("/v1/me")).json()["email"]
    return email


async def sign_in_in_the_ui(page: Page, email: str, password: str) -> None:
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label(re.compile(r"^Password")).fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()


async def assert_no_token_in_the_address(page: Page) -> None:
    """The page read the e-mailed token and took it out of the address bar (and the history entry)."""
    await expect(page).not_to_have_url(re.compile(r"[?&]token="))
    assert "token" not in parse_qs(urlsplit(page.url).query), page.url


@phone_only
async def test_a_citizen_signs_up_verifies_the_address_from_the_email_and_signs_in(
    page: Page, system: System, mailbox: Mailbox, viewport: Viewport, browser_log: BrowserLog
) -> None:
    email = f"signup-{uuid4().hex[:10]}@example.org"
    since = len(mailbox.messages)
    await page.goto("/signup")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign up")
    await page.get_by_label("Your name").fill("Asha Rao")
    await page.get_by_label("E-mail address").fill(email)
    password = page.get_by_label(re.compile(r"^Password"))
    await password.fill("short")
    # The API's rules, marked in words as they are met.
    await expect(page.get_by_role("listitem").filter(has_text="at least 10 characters")).to_contain_text("not yet")
    await password.fill(PASSWORD)
    await expect(page.get_by_role("listitem").filter(has_text="at least 10 characters")).to_contain_text("done")
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context="sign-up form (phone)")
    await page.get_by_role("button", name="Create account").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    await expect(page.get_by_role("status").filter(has_text=email)).to_be_visible()
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context="sign-up done (phone)")

    link = await emailed_link(mailbox, email, "/v1/auth/verify-email", since=since)
    await page.goto(link)  # the gateway sends the browser on to the web app's page
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your e-mail address is confirmed")
    assert urlsplit(page.url).path == "/verify-email"
    await assert_no_token_in_the_address(page)
    await assert_accessible(page, context="e-mail verified (phone)")

    await page.get_by_role("main").get_by_role("link", name="Sign in").click()
    await sign_in_in_the_ui(page, email, PASSWORD)
    await expect(page).to_have_url(re.compile(r"/$"))
    client = await sign_in(system, email)
    try:
        me = (await client.get("/v1/me")).json()
        assert me["email_verified"] is True
        assert me["display_name"] == "Asha Rao"
    finally:
        await client.aclose()

    # The link was used: opening it again says so, with the API's words.
    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    await expect(page.get_by_role("alert")).to_contain_text("not valid")
    await assert_accessible(page, context="used verification link (phone)")
    assert browser_log.page_errors == []


async def test_a_forgotten_password_is_reset_from_the_emailed_link(
    page: Page, system: System, mailbox: Mailbox
) -> None:
    client = await citizen(system)
    email = await email_of(client)
    await client.aclose()
    since = len(mailbox.messages)

    await page.goto("/signin")
    await assert_accessible(page, context="sign-in form")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label(re.compile(r"^Password")).fill("not-the-password-at-all")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("alert")).to_be_visible()  # the API's problem detail
    await assert_accessible(page, context="sign-in refused")

    await page.get_by_role("link", name="Forgot your password?").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    await assert_accessible(page, context="password-reset request form")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_role("button", name="Send the link").click()
    await expect(page.get_by_role("status").filter(has_text="If an account uses")).to_be_visible()
    await assert_accessible(page, context="password-reset requested")

    link = await emailed_link(mailbox, email, "/v1/auth/password-reset", since=since)
    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    assert urlsplit(page.url).path == "/password-reset"
    await assert_no_token_in_the_address(page)
    await assert_accessible(page, context="new-password form")
    await page.get_by_label(re.compile(r"^New password \(")).fill(NEW_PASSWORD)
    await page.get_by_label(re.compile(r"^New password again")).fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Set the new password").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your password is changed")
    await assert_accessible(page, context="password changed")

    await page.get_by_role("main").get_by_role("link", name="Sign in").click()
    await sign_in_in_the_ui(page, email, NEW_PASSWORD)
    await expect(page).to_have_url(re.compile(r"/$"))
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as anonymous:
        old = await anonymous.post(
            "/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
        )
        assert old.status_code == 400, old.text

    # The link works once: the second time the page shows the API's reason and offers a new link.
    await page.goto(link)
    await page.get_by_label(re.compile(r"^New password \(")).fill(NEW_PASSWORD + "-2")
    await page.get_by_label(re.compile(r"^New password again")).fill(NEW_PASSWORD + "-2")
    await page.get_by_role("button", name="Set the new password").click()
    await expect(page.get_by_role("alert")).to_contain_text("expired or was used already")
    await expect(page.get_by_role("link", name="Ask for a new link")).to_be_visible()


async def test_unsubscribe_link_notifications_feed_and_settings(page: Page, system: System, mailbox: Mailbox) -> None:
    client = await citizen(system)
    try:
        email = await email_of(client)
        since = len(mailbox.messages)
        title = f"Streetlight out {uuid4().hex[:6]}"
        assert (await client.post("/v1/issues", json=make_report_body(title=title))).status_code == 202

        # The "we received your report" e-mail links to the web app's unsubscribe page.
        link = await emailed_link(mailbox, email, "/unsubscribe", since=since)
        await page.goto(link)
        await expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
        await expect(page.get_by_text("Stop e-mails about: your report was received")).to_be_visible()
        await assert_no_token_in_the_address(page)
        await assert_accessible(page, context="unsubscribe page")
        # Viewing changed nothing (mail scanners follow links).
        prefs = (await client.get("/v1/me/notification-preferences")).json()
        assert prefs["moments"]["report_received"]["email"] is True
        await page.get_by_role("button", name="Unsubscribe").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
        await assert_accessible(page, context="unsubscribed")
        prefs = (await client.get("/v1/me/notification-preferences")).json()
        assert prefs["moments"]["report_received"]["email"] is False

        # Settings (signed in from the page's link): the choice shows, another one is saved.
        await page.get_by_role("link", name="Choose in detail in your settings").click()
        await sign_in_in_the_ui(page, email, PASSWORD)
        await expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
        received_by_email = page.get_by_role("checkbox", name="E-mail: your report was received")
        await expect(received_by_email).not_to_be_checked()
        await page.get_by_role("checkbox", name="E-mail: a comment on a report you follow").check()
        await page.get_by_role("button", name="Save notification choices").click()
        await expect(page.get_by_role("status").filter(has_text="Your notification choices are saved.")).to_be_visible()
        prefs = (await client.get("/v1/me/notification-preferences")).json()
        assert prefs["moments"]["followed_comment_added"]["email"] is True

        # An area watch by keyboard: coordinates and radius; listed, then removed.
        await page.get_by_label("Latitude").fill("12.9716")
        await page.get_by_label("Longitude").fill("77.5946")
        await page.get_by_label("Radius in metres").fill("800")
        await page.get_by_role("button", name="Add the area").click()
        watch = page.get_by_role("listitem").filter(has_text="Within 800 m of 12.9716, 77.5946")
        await expect(watch).to_be_visible()
        watches = (await client.get("/v1/me/watches")).json()["items"]
        assert [(w["lat"], w["lon"], w["radius_m"]) for w in watches] == [(12.9716, 77.5946, 800)]
        await assert_accessible(page, context="settings with a watch")
        await watch.get_by_role("button", name=re.compile("^Remove")).click()
        await expect(page.get_by_text("You do not watch any area yet.")).to_be_visible()
        assert (await client.get("/v1/me/watches")).json()["items"] == []

        # The feed: the report's notification, unread in words; marked read.
        await eventually(client, "/v1/me/notifications", lambda feed: len(feed["items"]) > 0)
        await page.goto("/me/notifications")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
        item = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=re.compile("^Open the report")))
        await expect(item.first).to_contain_text("Unread")
        await assert_accessible(page, context="notifications feed")
        await page.get_by_role("button", name="Mark all as read").click()
        await expect(page.get_by_text("All caught up.")).to_be_visible()
        await expect(item.first).not_to_contain_text("Unread")
        await expect(item.first).to_contain_text("Read")
        assert (await client.get("/v1/me/notifications")).json()["unread"] == 0
        await item.first.get_by_role("link", name=re.compile("^Open the report")).click()
        await expect(page).to_have_url(re.compile(r"/issues/[0-9a-f-]+$"))
    finally:
        await client.aclose()


async def test_the_sign_in_screen_in_hindi(page: Page) -> None:
    await page.goto("/signin")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await page.get_by_label("Language").select_option("hi")
    heading = page.get_by_role("heading", level=1)
    await expect(heading).to_have_text("साइन इन करें")
    assert DEVANAGARI.search(await heading.inner_text())
    assert await page.evaluate("() => document.documentElement.lang") == "hi"
    await expect(page.get_by_role("button", name="साइन इन करें")).to_be_visible()
    await expect(page.get_by_role("link", name="पासवर्ड भूल गए?")).to_be_visible()
    await assert_accessible(page, context="sign-in in Hindi")


@phone_only
async def test_the_feed_and_settings_fit_a_phone(page: Page, system: System, viewport: Viewport) -> None:
    client = await citizen(system)
    try:
        assert (await client.post("/v1/issues", json=make_report_body())).status_code == 202
        await eventually(client, "/v1/me/notifications", lambda feed: len(feed["items"]) > 0)
        email = await email_of(client)
    finally:
        await client.aclose()
    await page.goto("/signin?next=%2Fme%2Fnotifications")
    await sign_in_in_the_ui(page, email, PASSWORD)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    await expect(page.get_by_text("1 unread")).to_be_visible()
    await page.get_by_role("button", name=re.compile("^Mark as read")).click()
    await expect(page.get_by_text("All caught up.")).to_be_visible()
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context="notifications feed (phone)")

    await page.goto("/me/settings")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    await expect(page.get_by_role("checkbox", name="E-mail: your report was received")).to_be_checked()
    await expect(page.get_by_role("application", name=re.compile("^Map: click"))).to_be_visible()
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context="settings (phone)")
    # A click on the map picks the watch's centre (the inputs show it).
    await page.get_by_role("application", name=re.compile("^Map: click")).click()
    assert await page.get_by_label("Latitude").input_value() != ""
    assert await page.get_by_label("Longitude").input_value() != ""
