"""The admin screens in the browser, signed in as the bootstrap admin through /signin: a new staff
account with a department is listed, then disabled (after a confirmation dialog) and marked so; a new
API key shows its secret once; a canned response added to a category is still there after a reload;
a webhook endpoint shows its signing secret once, its delivery log, and is deleted after a confirmation.
axe passes on all four screens, at desktop width and at a 360 px phone."""

from __future__ import annotations

import re
from uuid import uuid4

from playwright.async_api import Page, expect

from tests.e2e.api import sign_in
from tests.e2e.browser.axe import assert_accessible
from tests.e2e.browser.harness import PHONE, phone_only
from tests.e2e.conftest import ADMIN, System


async def sign_in_as_admin(page: Page, then: str = "/admin/users") -> None:
    """Through the sign-in page, which then goes on to ``then`` (its ``next``)."""
    await page.goto(f"/signin?next={then}")
    await page.get_by_label(re.compile(r"^E-mail address")).fill(ADMIN[0])
    await page.get_by_label(re.compile(r"^Password")).fill(ADMIN[1])
    await page.get_by_role("button", name="Sign in", exact=True).click()
    # The path itself (not the ?next= of the sign-in page's own address).
    await expect(page).to_have_url(re.compile(r"^[^?]*" + re.escape(then) + "$"))


async def fresh_category(system: System) -> tuple[str, str]:
    """A category of its own (so no other test sees its canned responses change): code and name."""
    code = f"admin-ui-{uuid4().hex[:8]}"
    name = f"Broken railing {code[-8:]}"
    admin = await sign_in(system, *ADMIN)
    try:
        put = await admin.put(f"/v1/categories/{code}", json={"name": name, "department": "roads", "sla_hours": 72})
        assert put.status_code == 201, put.text
    finally:
        await admin.aclose()
    return code, name


async def test_an_admin_manages_staff_api_keys_and_canned_responses(page: Page, system: System) -> None:
    code, category = await fresh_category(system)
    await sign_in_as_admin(page)

    # A staff account with a department, created in the UI and listed.
    await expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    await page.get_by_role("button", name="New staff account").click()
    email = f"crew-{uuid4().hex[:10]}@city.example"
    form = page.get_by_role("form", name="New staff or admin account")
    await form.get_by_label("E-mail").fill(email)
    await form.get_by_label("Name").fill("Road crew")
    await form.get_by_label("Password").fill("granite-otter-52-compass")
    await form.get_by_role("checkbox", name="roads", exact=True).check()
    await assert_accessible(page, context="users: the new account form")
    await form.get_by_role("button", name="Create account").click()
    await expect(page.get_by_text(f"Created {email}.")).to_be_visible()

    await page.get_by_label("E-mail starts with").fill(email[:16])
    await page.get_by_role("button", name="Search").click()
    row = page.get_by_role("row").filter(has_text=email)
    await expect(row).to_have_count(1)
    await expect(row.get_by_role("cell", name="roads", exact=True)).to_be_visible()
    await expect(row.get_by_role("cell", name="Staff", exact=True)).to_be_visible()
    await expect(row.get_by_role("cell", name="Active", exact=True)).to_be_visible()

    # Disable it: a modal dialog asks first; then the row says so in words.
    await row.get_by_role("button", name=f"Manage {email}").click()
    await page.get_by_role("button", name="Disable account").click()
    dialog = page.get_by_role("dialog", name=f"Disable {email}?")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await assert_accessible(page, context="users: the disable confirmation")
    await dialog.get_by_role("button", name="Disable account").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_text(f"{email} is disabled.")).to_be_visible()
    await expect(row.get_by_role("cell", name="Disabled", exact=True)).to_be_visible()

    # Not one's own account: the API refuses (409) and the dialog says why.
    await page.get_by_label("E-mail starts with").fill(ADMIN[0])
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("button", name=f"Manage {ADMIN[0]}").click()
    await page.get_by_role("button", name="Disable account").click()
    dialog = page.get_by_role("dialog", name=f"Disable {ADMIN[0]}?")
    await dialog.get_by_role("button", name="Disable account").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("cannot disable or demote their own account")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    me = page.get_by_role("row").filter(has_text=ADMIN[0])
    await expect(me.get_by_role("cell", name="Active", exact=True)).to_be_visible()

    # An API key: its secret shows once, with a warning and a copy button.
    await page.goto("/admin/api-keys")
    await expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    key_name = f"City CRM {uuid4().hex[:6]}"
    await page.get_by_label("Name").fill(key_name)
    await page.get_by_role("button", name="Create key").click()
    secret = page.get_by_role("region", name=f"API key for {key_name}")
    await expect(secret).to_be_visible()
    await expect(secret.get_by_text("shown only this once")).to_be_visible()
    await expect(secret.get_by_role("button", name="Copy")).to_be_visible()
    value = await secret.get_by_role("textbox").input_value()
    assert len(value) >= 20, value
    await expect(page.get_by_role("row").filter(has_text=key_name)).to_have_count(1)
    await assert_accessible(page, context="API keys with a one-time secret")
    await secret.get_by_role("button", name="I have copied it").click()
    await expect(page.get_by_text(value)).to_have_count(0)

    # A canned response added to the category, saved, and still there after a reload.
    await page.goto("/admin/categories")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Categories")
    await expect(page.get_by_role("row").filter(has_text=category).get_by_role("cell", name=code)).to_be_visible()
    await assert_accessible(page, context="categories list")
    await page.get_by_role("button", name=f"Edit {category}").click()
    await page.get_by_role("button", name="Add canned response").click()
    canned = page.get_by_role("group", name="Canned response 1")
    await canned.get_by_label("Identifier").fill("railing-fixed")
    await canned.get_by_label("Title").fill("Railing repaired")
    await canned.get_by_label("Text").fill("The railing was welded back in place.")
    await page.get_by_role("button", name="Add attribute").click()
    await assert_accessible(page, context="category editor with an attribute and a canned response")
    await page.get_by_role("button", name="Delete attribute 1").click()
    await page.get_by_role("button", name="Save category").click()
    await expect(page.get_by_text(f"Saved {category}.")).to_be_visible()

    await page.reload()
    await page.get_by_role("button", name=f"Edit {category}").click()
    canned = page.get_by_role("group", name="Canned response 1")
    await expect(canned.get_by_label("Identifier")).to_have_value("railing-fixed")
    await expect(canned.get_by_label("Title")).to_have_value("Railing repaired")
    await expect(canned.get_by_label("Text")).to_have_value("The railing was welded back in place.")

    # A webhook endpoint: its signing secret once, its (empty) delivery log, then deleted after confirming.
    await page.goto("/admin/webhooks")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    hook = f"http://127.0.0.1:9/hook-{uuid4().hex[:6]}"
    await page.get_by_label(re.compile(r"^URL")).fill(hook)
    await page.get_by_role("checkbox", name="All events").uncheck()
    await page.get_by_role("checkbox", name="IssueReported").check()
    await page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_role("region", name=f"Signing secret for {hook}")
    await expect(secret.get_by_role("textbox")).to_have_value(re.compile(r"^whsec_"))
    await page.get_by_role("button", name=f"Deliveries to {hook}").click()
    await expect(page.get_by_role("heading", name=f"Deliveries to {hook}")).to_be_focused()
    await expect(page.get_by_text("No deliveries yet.")).to_be_visible()
    await assert_accessible(page, context="webhooks with a new endpoint and its delivery log")
    await page.get_by_role("button", name=f"Delete {hook}").click()
    await page.get_by_role("dialog", name=f"Delete the endpoint {hook}?").get_by_role("button", name="Delete").click()
    await expect(page.get_by_text(f"Deleted {hook}.")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text=hook)).to_have_count(0)


@phone_only
async def test_the_admin_screens_fit_a_phone_and_pass_axe(page: Page) -> None:
    await sign_in_as_admin(page)
    for path, title in (
        ("/admin/categories", "Categories"),
        ("/admin/users", "Users"),
        ("/admin/api-keys", "API keys"),
        ("/admin/webhooks", "Webhooks"),
    ):
        await page.goto(path)
        await expect(page.get_by_role("heading", level=1)).to_have_text(title)
        await expect(page.get_by_role("status").filter(has_text="Loading")).to_have_count(0)
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE.width, path
        await assert_accessible(page, context=f"{path} at {PHONE.width} px")
