"""The staff analytics dashboard in Chromium on the real stack: reports seeded in a fresh category
show in the summary cards, in the opened/resolved series (and its table), and as a heatmap cell on
the map (with its number in the ranked table); the CSV downloads through the API client with the
page's filters. axe passes; the dashboard fits a phone without sideways scrolling."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import httpx
from playwright.async_api import Locator, Page, expect

from tests.builders import make_report_body
from tests.e2e.api import PASSWORD, citizen, eventually, sign_in, staff
from tests.e2e.browser.axe import assert_accessible
from tests.e2e.browser.harness import PHONE, phone_only
from tests.e2e.conftest import ADMIN, System

SEEDED = 3
CENTRE = (12.9716, 77.5946)  # the gateway's default map centre (web_default_lat/lon): the map opens on it
PIPELINE_S = 60.0  # reports reach analytics through Kafka and its windows


async def a_crew_member(system: System, department: str) -> tuple[httpx.AsyncClient, str]:
    crew = await staff(system, department)
    email: str = (await crew.get("/v1/me")).json()["email"]
    return crew, email


async def seeded(system: System) -> dict[str, Any]:
    """A fresh category (so the counts are exactly ours), a staff member, SEEDED reports near the map's centre."""
    code, department = f"an-ui-{uuid4().hex[:8]}", f"dept-{uuid4().hex[:8]}"
    admin = await sign_in(system, *ADMIN)
    try:
        put = await admin.put(
            f"/v1/categories/{code}", json={"name": "Fallen tree", "department": department, "sla_hours": 24}
        )
        assert put.status_code == 201, put.text
    finally:
        await admin.aclose()
    crew, email = await a_crew_member(system, department)
    resident = await citizen(system)
    try:
        for i in range(SEEDED):
            body = make_report_body(category=code, lat=CENTRE[0] + i * 0.001, lon=CENTRE[1] + i * 0.001)
            sent = await resident.post("/v1/issues", json=body)
            assert sent.status_code == 202, sent.text
    finally:
        await resident.aclose()
    # The analytics are eventually consistent: wait until the API counts all of them.
    await eventually(
        crew,
        f"/v1/analytics/summary?category={code}",
        lambda s: s["counts"]["reported"] >= SEEDED,
        timeout_s=PIPELINE_S,
    )
    return {"crew": crew, "email": email, "code": code}


async def sign_in_to_analytics(page: Page, email: str, query: str = "") -> None:
    await page.goto(f"/signin?next={quote('/staff/analytics' + query, safe='/')}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Analytics")


def card(page: Page, label: str) -> Locator:
    return page.locator(".analytics-card").filter(
        has=page.get_by_role("term").filter(has_text=re.compile(f"^{label}$"))
    )


async def test_the_dashboard_shows_seeded_reports_in_cards_series_heatmap_and_csv(page: Page, system: System) -> None:
    seed = await seeded(system)
    code: str = seed["code"]
    try:
        await sign_in_to_analytics(page, seed["email"], f"?period=24h&category={code}")
        await expect(page).to_have_url(re.compile(rf"/staff/analytics\?period=24h&category={code}$"))
        await expect(page.get_by_label("Period", exact=True)).to_have_value("24h")
        await expect(page.get_by_label("Category", exact=True)).to_have_value(code)

        await expect(card(page, "Reports opened").get_by_role("definition")).to_contain_text(str(SEEDED))
        await expect(card(page, "Reports resolved").get_by_role("definition")).to_contain_text("0")
        await expect(card(page, "Open backlog").get_by_role("definition")).to_contain_text(str(SEEDED))

        chart = page.get_by_role("img", name=re.compile(rf"^{SEEDED} reports opened and 0 resolved over 24 hours"))
        await expect(chart).to_be_visible()
        await page.get_by_text("Show as table").click()
        series = page.get_by_role("table", name="Reports opened and resolved per period")
        await expect(series.get_by_role("row")).to_have_count(1 + 24)
        opened = [int(n) for n in await series.locator("tbody td:nth-child(2)").all_inner_texts()]
        assert sum(opened) == SEEDED, opened

        # The heatmap: the map opens on the seeded reports; their cell is drawn and named in the table.
        await expect(page.locator(".leaflet-overlay-pane path.heat-cell")).to_have_count(1)
        ranked = page.get_by_role("table", name="The busiest areas in view")
        await expect(ranked.get_by_role("row")).to_have_count(2)
        await expect(ranked.get_by_role("row").nth(1)).to_contain_text(f"{SEEDED}Level 5 of 5")

        await assert_accessible(page, context="analytics dashboard")

        async with page.expect_download() as downloading:
            await page.get_by_role("button", name="Download CSV").click()
        download = await downloading.value
        assert re.fullmatch(r"snapfix-1h-\d{8}T\d{4}-\d{8}T\d{4}\.csv", download.suggested_filename)
        text = (await download.path()).read_text(encoding="utf-8")
        lines = text.splitlines()
        assert lines[0].startswith("window,window_start,window_end,geohash5,category,reported")
        assert len(lines) > 1, lines
        assert all(f",{code}," in line for line in lines[1:]), lines
        assert sum(int(line.split(",")[5]) for line in lines[1:]) == SEEDED
        await expect(page.get_by_role("status").filter(has_text="The CSV was downloaded.")).to_be_visible()
    finally:
        await seed["crew"].aclose()


@phone_only
async def test_the_dashboard_fits_a_phone(page: Page, system: System) -> None:
    crew, email = await a_crew_member(system, f"dept-{uuid4().hex[:8]}")
    await crew.aclose()
    await sign_in_to_analytics(page, email)
    await expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    await expect(page.locator(".analytics-card").first).to_be_visible()
    await expect(page.get_by_role("img", name=re.compile("reports opened"))).to_be_visible()
    await expect(page.locator(".leaflet-container")).to_be_visible()
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE.width
    await assert_accessible(page, context="analytics dashboard on a phone")
