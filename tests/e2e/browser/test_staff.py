"""The staff console in Chromium on the real stack: a citizen's report reaches the queue of its
department's staff, who bulk-acknowledge it, open it, assign it to a colleague chosen by name from
the staff directory, start work and resolve it with the category's canned response; the API then
holds it resolved with that note, assigned to that colleague. axe passes on both screens; the
queue fits a phone."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import httpx
from playwright.async_api import Page, expect

from tests.builders import make_report_body
from tests.e2e.api import PASSWORD, citizen, eventually, sign_in, staff
from tests.e2e.browser.axe import assert_accessible
from tests.e2e.browser.harness import PHONE, Viewport, phone_only
from tests.e2e.conftest import ADMIN, System

REFRESH_KEY = "snapfix.refresh_token"  # web/src/api/tokens.ts
CANNED = [
    {"id": "scheduled", "title": "Repair scheduled", "body": "A crew will fix it this week."},
    {"id": "fixed", "title": "Fixed", "body": "Filled and rolled. Reopen this report if it comes back."},
]
SLOW_MS = 20_000  # commands apply shortly after their 202; the queue's read model follows


async def refresh_token(system: System, email: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as anonymous:
        response = await anonymous.post(
            "/v1/auth/token", data={"grant_type": "password", "username": email, "password": password}
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["refresh_token"]
    return token


async def signed_in_as(page: Page, token: str) -> None:
    """The web app signs back in from the refresh token it keeps in localStorage (as after a reload)."""
    await page.context.add_init_script(f"window.localStorage.setItem({json.dumps(REFRESH_KEY)}, {json.dumps(token)});")


async def seeded(system: System) -> dict[str, Any]:
    """A fresh category (its own department, canned responses), two staff members of it, a citizen's report in it."""
    code, department = f"staff-ui-{uuid4().hex[:8]}", f"dept-{uuid4().hex[:8]}"
    admin = await sign_in(system, *ADMIN)
    try:
        body = {"name": "Broken bench", "department": department, "sla_hours": 48, "canned_responses": CANNED}
        put = await admin.put(f"/v1/categories/{code}", json=body)
        assert put.status_code == 201, put.text
        colleague_name = f"Asha {uuid4().hex[:4]}"
        created = await admin.post(
            "/v1/admin/users",
            json={
                "email": f"colleague-{uuid4().hex[:10]}@city.example",
                "password": PASSWORD,
                "display_name": colleague_name,
                "departments": [department],
            },
        )
        assert created.status_code == 201, created.text
        colleague_id: str = created.json()["id"]
    finally:
        await admin.aclose()
    crew = await staff(system, department)
    resident = await citizen(system)
    try:
        title = f"Bench split in two {uuid4().hex[:6]}"
        sent = await resident.post("/v1/issues", json=make_report_body(title=title, category=code))
        assert sent.status_code == 202, sent.text
        issue_id: str = sent.json()["id"]
        await eventually(crew, f"/v1/issues/{issue_id}", lambda i: i["status"] == "open")
        email = (await crew.get("/v1/me")).json()["email"]
    finally:
        await resident.aclose()
    return {
        "crew": crew,
        "email": email,
        "issue_id": issue_id,
        "title": title,
        "colleague_name": colleague_name,
        "colleague_id": colleague_id,
    }


async def test_staff_acknowledge_in_bulk_assign_to_a_colleague_then_work_and_resolve_with_a_canned_response(
    page: Page, system: System
) -> None:
    seed = await seeded(system)
    crew: httpx.AsyncClient = seed["crew"]
    issue_id, title = seed["issue_id"], seed["title"]
    try:
        await signed_in_as(page, await refresh_token(system, seed["email"], PASSWORD))
        await page.goto("/staff")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Staff queue")
        link = page.get_by_role("link", name=title)
        await expect(link).to_be_visible(timeout=SLOW_MS)
        await expect(page.get_by_label("Sort by")).to_have_value("due")
        await assert_accessible(page, context="staff queue")

        await page.get_by_label(f"Select “{title}”").check()
        await expect(page.get_by_text("1 issue selected")).to_be_visible()
        await page.get_by_role("button", name="Acknowledge").click()
        await expect(page.get_by_text("Finished: 1 done, 0 refused.")).to_be_visible()
        results = page.get_by_role("list", name="Result per issue")
        await expect(results).to_contain_text(f"{title}: Done")
        await eventually(crew, f"/v1/issues/{issue_id}", lambda i: i["status"] == "acknowledged")
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=title))
        await expect(row.get_by_text("Acknowledged")).to_be_visible(timeout=SLOW_MS)
        await expect(page.get_by_label(f"Select “{title}”")).not_to_be_checked()

        await link.click()
        await expect(page).to_have_url(f"{system.gateway}/staff/issues/{issue_id}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(title)
        await assert_accessible(page, context="staff issue page")

        # Assign to a colleague by name (the department's staff directory), not by a typed id.
        await page.get_by_label("Colleague", exact=True).select_option(label=seed["colleague_name"])
        await page.get_by_role("button", name="Assign to colleague").click()
        await expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible(timeout=SLOW_MS)
        assignee = page.locator("dt", has_text="Assignee").locator("xpath=following-sibling::dd[1]")
        await expect(assignee).to_have_text(seed["colleague_name"])
        await eventually(crew, f"/v1/issues/{issue_id}", lambda i: i["assignee_id"] == seed["colleague_id"])

        await page.get_by_role("button", name="Start work (in progress)").click()
        # In progress once the move is gone ("Saved" shows already, from the assignment).
        await expect(page.get_by_role("button", name="Start work (in progress)")).to_have_count(0, timeout=SLOW_MS)
        await expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible(timeout=SLOW_MS)
        await expect(page.get_by_role("button", name="Resolve")).to_be_visible()

        await page.get_by_label("Fill the note from a canned response").select_option(label="Fixed")
        note = page.get_by_label("Note for the reporter")
        await expect(note).to_have_value(CANNED[1]["body"])
        await page.get_by_role("button", name="Resolve").click()
        await expect(page.get_by_role("button", name="Close")).to_be_visible(timeout=SLOW_MS)

        await page.get_by_label("Fill the comment from a canned response").select_option(label="Repair scheduled")
        await page.get_by_role("textbox", name="Comment").fill("Checked by the crew.")
        await page.get_by_label("Internal", exact=True).check()
        await page.get_by_role("button", name="Send comment").click()
        comment = page.get_by_role("listitem").filter(has_text="Checked by the crew.")
        await expect(comment.get_by_text("Internal")).to_be_visible(timeout=SLOW_MS)

        final = await eventually(crew, f"/v1/issues/{issue_id}", lambda i: i["status"] == "resolved")
        assert [(h["from"], h["to"]) for h in final["history"]] == [
            ("open", "acknowledged"),
            ("acknowledged", "in_progress"),
            ("in_progress", "resolved"),
        ]
        assert final["history"][-1]["note"] == CANNED[1]["body"]
        with_comment = await eventually(crew, f"/v1/issues/{issue_id}", lambda i: bool(i["comments"]))
        assert [(c["body"], c["internal"]) for c in with_comment["comments"]] == [("Checked by the crew.", True)]
        await assert_accessible(page, context="staff issue page, resolved")
    finally:
        await crew.aclose()


@phone_only
async def test_the_queue_fits_a_phone(page: Page, system: System, viewport: Viewport) -> None:
    assert viewport == PHONE
    resident = await citizen(system)  # at least one report in the admin's queue (a seeded category's)
    try:
        sent = await resident.post("/v1/issues", json=make_report_body(category="pothole"))
        assert sent.status_code == 202, sent.text
        await eventually(resident, f"/v1/issues/{sent.json()['id']}", lambda _: True)
    finally:
        await resident.aclose()
    await signed_in_as(page, await refresh_token(system, *ADMIN))
    await page.goto("/staff")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Staff queue")
    # Admins see every department's queue and may pick any of them.
    await expect(page.get_by_label("Department", exact=True)).to_be_visible()
    # Each row is a card as wide as the screen at most.
    first = page.get_by_role("row").nth(1)
    await expect(first.get_by_role("link")).to_be_visible()
    await expect(first.get_by_role("checkbox")).to_be_visible()
    box = await first.bounding_box()
    assert box is not None
    assert box["width"] <= viewport.width
    await expect(page.get_by_label("Select all issues on this page")).to_be_visible()
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context="staff queue on a phone")


@phone_only
async def test_citizens_are_kept_out_of_the_console(page: Page, system: System) -> None:
    resident = await citizen(system)
    try:
        email = (await resident.get("/v1/me")).json()["email"]
    finally:
        await resident.aclose()
    await signed_in_as(page, await refresh_token(system, email, PASSWORD))
    await page.goto("/staff")
    await expect(page.get_by_text("You are not allowed to do this.")).to_be_visible()
    await expect(page.get_by_role("heading", level=1, name="Staff queue")).to_have_count(0)
    await expect(page.get_by_role("table")).to_have_count(0)
