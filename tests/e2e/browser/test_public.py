"""The public screens in Chromium: the map's server-side clusters and status markers, its filters in the
URL, the list, and an issue's page with photos, history and comments; axe on each, and a 360 px phone.

Reports are seeded through the API near the default centre (12.9716, 77.5946) in categories made for
this test, so counts are exact even when other tests left reports in the city."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.builders import make_report_body
from tests.e2e.api import PASSWORD, citizen, eventually, sign_in, staff
from tests.e2e.browser.axe import assert_accessible
from tests.e2e.browser.conftest import BrowserLog
from tests.e2e.browser.harness import PHONE, Viewport, phone_only
from tests.e2e.conftest import ADMIN, System
from tests.e2e.test_media import photo, upload

GEO_MAX_LAT = 85.05112878
LEVEL = 14  # the map's cluster level at the default zoom 12 (zoom + 2)


def cell_centre(lat: float, lon: float, level: int = LEVEL) -> tuple[float, float]:
    """The centre of the grid cell holding (lat, lon): points near it share one cluster."""
    n = 2**level
    x = math.floor((lon + 180) / 360 * n)
    y = math.floor((lat + GEO_MAX_LAT) / (2 * GEO_MAX_LAT) * n)
    return -GEO_MAX_LAT + 2 * GEO_MAX_LAT * (y + 0.5) / n, -180 + 360 * (x + 0.5) / n


A_LAT, A_LON = cell_centre(12.9716, 77.5946)
B_LAT, B_LON = cell_centre(12.99, 77.61)


@dataclass
class Seeded:
    a: str  # category code with three reports
    b: str  # category code with one report
    titles: list[str]
    issue_id: str  # the first A report: a photo, a history entry and a comment


async def _category(admin: httpx.AsyncClient, reader: httpx.AsyncClient, name: str) -> str:
    code = f"web{uuid4().hex[:8]}"
    body = {"name": name, "department": "roads", "sla_hours": 48, "attributes": []}
    created = await admin.put(f"/v1/categories/{code}", json=body)
    assert created.status_code in {200, 201}, created.text
    await eventually(reader, f"/v1/categories/{code}", lambda _: True)
    return code


def _category_not_known_yet(response: httpx.Response, code: str) -> bool:
    """The 422 saying the report's category is unknown: the catalogue learns a new one a moment later."""
    if response.status_code != 422 or response.headers.get("content-type") != "application/problem+json":
        return False
    errors = response.json().get("errors") or []
    return any(e.get("field") == "category" and e.get("message") == f"unknown category {code}" for e in errors)


async def _report(client: httpx.AsyncClient, **body: Any) -> str:
    deadline = time.monotonic() + 30
    while True:
        response = await client.post(
            "/v1/issues", json=make_report_body(**body), headers={"idempotency-key": uuid4().hex}
        )
        if not _category_not_known_yet(response, body["category"]) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    assert response.status_code == 202, response.text  # any other answer fails at once
    issue_id: str = response.json()["id"]
    await eventually(client, f"/v1/issues/{issue_id}", lambda _: True)
    return issue_id


@pytest.fixture(scope="module")  # read-only for the tests that use it
async def seeded(system: System) -> AsyncIterator[Seeded]:
    admin = await sign_in(system, *ADMIN)
    reporter = await citizen(system, verified=True)
    crew = await staff(system, "roads")
    try:
        a = await _category(admin, reporter, "Web test potholes")
        b = await _category(admin, reporter, "Web test drains")
        media_id = await upload(reporter, photo())
        await eventually(reporter, f"/v1/media/{media_id}", lambda m: m["status"] == "processed")
        run = uuid4().hex[:6]
        titles = [f"Crater {run} {i}" for i in range(3)]
        ids = [
            await _report(
                reporter,
                title=title,
                description="Deep enough to lose a wheel",
                category=a,
                lat=A_LAT + 0.0004 * (i - 1),
                lon=A_LON + 0.0004 * i,
                media_ids=[media_id] if i == 0 else [],
            )
            for i, title in enumerate(titles)
        ]
        await _report(reporter, title=f"Blocked drain {run}", category=b, lat=B_LAT, lon=B_LON)
        first = f"/v1/issues/{ids[0]}"
        moved = await crew.post(f"{first}/transitions", json={"to": "acknowledged", "note": "Crew scheduled"})
        assert moved.status_code == 202, moved.text
        said = await crew.post(f"{first}/comments", json={"body": "We will fill it on Monday"})
        assert said.status_code == 202, said.text
        await eventually(
            reporter,
            first,
            lambda i: (
                i["status"] == "acknowledged"
                and len(i["comments"]) == 1
                and all(p["status"] == "processed" for p in i.get("photos", []))
            ),
        )
        yield Seeded(a=a, b=b, titles=titles, issue_id=ids[0])
    finally:
        for client in (admin, reporter, crew):
            await client.aclose()


async def test_map_clusters_filters_markers_list_and_issue(page: Page, seeded: Seeded, browser_log: BrowserLog) -> None:
    # Clusters at the default zoom, filtered by category A: exactly its three reports, in one cell.
    await page.goto(f"/?category={seeded.a}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Map of reports")
    await expect(page.get_by_role("status").filter(has_text="in this view")).to_have_text(
        re.compile(r"^3 reports in this view\.")
    )
    await expect(page.get_by_role("button", name="3 reports here, zoom in")).to_be_visible()
    await assert_accessible(page, context="map, clusters")

    # Another category: the count and the URL follow the form.
    await page.get_by_label("Category").select_option(seeded.b)
    await expect(page).to_have_url(re.compile(f"category={seeded.b}"))
    await expect(page.get_by_role("status").filter(has_text="in this view")).to_have_text(
        re.compile(r"^1 report in this view\.")
    )
    await expect(page.get_by_role("button", name="1 report here, zoom in")).to_be_visible()
    await expect(page.get_by_role("button", name="3 reports here, zoom in")).to_have_count(0)

    # Zoomed in (a link reproduces the view): one marker per report, named "title, status", by keyboard.
    await page.goto(f"/?category={seeded.a}&lat={A_LAT}&lon={A_LON}&z=17")
    for title, status in zip(seeded.titles, ("Acknowledged", "Open", "Open"), strict=True):
        await expect(page.get_by_role("button", name=f"{title}, {status}")).to_be_visible()
    marker = page.get_by_role("button", name=f"{seeded.titles[1]}, Open")
    await marker.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("link", name=seeded.titles[1])).to_be_visible()
    await assert_accessible(page, context="map, markers")

    # The list with the same filters.
    await page.get_by_role("link", name="View as a list").click()
    await expect(page).to_have_url(re.compile(rf"/list\?category={seeded.a}"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    for title in seeded.titles:
        await expect(page.get_by_role("heading", level=2, name=title)).to_be_visible()
    await expect(page.get_by_role("heading", level=2)).to_have_count(3)
    acknowledged = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=seeded.titles[0]))
    await expect(acknowledged.get_by_text("Acknowledged")).to_be_visible()
    await assert_accessible(page, context="list")

    # The issue: details, photo, history and the public comment.
    await page.get_by_role("link", name=seeded.titles[0]).click()
    await expect(page).to_have_url(re.compile(f"/issues/{seeded.issue_id}$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(seeded.titles[0])
    await expect(page.get_by_text("Deep enough to lose a wheel")).to_be_visible()
    thumbnail = page.get_by_role("img", name=f"Photo 1 of 1 of “{seeded.titles[0]}”")
    await expect(thumbnail).to_be_visible()
    # The thumbnail really loads (a decoded image from the PhotoView's URL), not just an <img> element.
    await page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=await thumbnail.element_handle())
    history = page.locator("section", has=page.get_by_role("heading", name="History"))
    await expect(history.get_by_text("Crew scheduled")).to_be_visible()
    await expect(page.get_by_text("We will fill it on Monday")).to_be_visible()
    await expect(page.get_by_role("link", name="Sign in to vote, follow or comment")).to_be_visible()
    await assert_accessible(page, context="issue")
    assert browser_log.page_errors == []


@phone_only
async def test_map_and_issue_fit_a_phone(page: Page, viewport: Viewport, seeded: Seeded) -> None:
    assert viewport == PHONE
    await page.goto(f"/?category={seeded.a}")
    await expect(page.get_by_role("button", name="3 reports here, zoom in")).to_be_visible()
    await expect(page.get_by_role("link", name="View as a list")).to_be_visible()
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context="map on a phone")

    await page.goto(f"/issues/{seeded.issue_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(seeded.titles[0])
    await expect(page.get_by_text("We will fill it on Monday")).to_be_visible()
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= viewport.width
    await assert_accessible(page, context="issue on a phone")


async def _sign_in_browser(page: Page, system: System, client: httpx.AsyncClient) -> None:
    """The web app's session from a refresh token in localStorage (as after a sign-in and a reload)."""
    email = (await client.get("/v1/me")).json()["email"]
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as anonymous:
        response = await anonymous.post(
            "/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        refresh = response.json()["refresh_token"]
    await page.goto("/config.json")  # this origin, not the app: nothing uses the token before the app loads
    await page.evaluate("token => localStorage.setItem('snapfix.refresh_token', token)", refresh)


async def test_the_reporter_votes_comments_and_reopens_with_live_status(page: Page, system: System) -> None:
    reporter = await citizen(system)
    crew = await staff(system, "roads")
    try:
        title = f"Sunken manhole {uuid4().hex[:6]}"
        issue_id = await _report(reporter, title=title, category="pothole", lat=A_LAT, lon=A_LON)
        path = f"/v1/issues/{issue_id}"
        for to in ("acknowledged", "in_progress", "resolved"):
            assert (await crew.post(f"{path}/transitions", json={"to": to, "note": to})).status_code == 202
        await eventually(reporter, path, lambda i: i["status"] == "resolved")

        # The "resolved" e-mail's link: the Reopen button is focused, with why.
        await _sign_in_browser(page, system, reporter)
        await page.goto(f"/issues/{issue_id}?action=reopen")
        await expect(page.get_by_role("heading", level=1)).to_have_text(title)
        reopen = page.get_by_role("button", name="Reopen")
        await expect(reopen).to_be_focused()
        await expect(page.get_by_text("You can reopen a resolved report of yours within 30 days")).to_be_visible()
        await assert_accessible(page, context="issue, signed in, reopen")

        vote = page.get_by_role("button", name="Vote")
        await vote.click()
        await expect(page.get_by_role("button", name="Voted")).to_have_attribute("aria-pressed", "true")
        await page.get_by_label("Your comment").fill("Still a dip after the rain")
        await page.get_by_role("button", name="Post comment").click()
        await expect(page.get_by_role("listitem").filter(has_text="Still a dip after the rain")).to_be_visible()
        await expect(page.get_by_label("Your comment")).to_have_value("")

        await page.get_by_label("What is still wrong? (optional)").fill("Water pools again")
        await reopen.click()
        head = page.locator(".issue-head")
        await expect(head.get_by_text("Reopened")).to_be_visible()
        await expect(page.get_by_text("Water pools again")).to_be_visible()

        # A change by staff arrives live (the announcement comes only from the event stream).
        assert (
            await crew.post(f"{path}/transitions", json={"to": "acknowledged", "note": "Back on the list"})
        ).status_code == 202
        await expect(page.get_by_text("The status changed to Acknowledged.")).to_be_attached()
        await expect(head.get_by_text("Acknowledged")).to_be_visible()
        await expect(page.get_by_text("Back on the list")).to_be_visible()
        detail = (await reporter.get(path)).json()
        assert detail["votes"] == 1

        # After a reload the page asks what this viewer did: the vote shows as given, the follow as not.
        await page.reload()
        await expect(page.get_by_role("heading", level=1)).to_have_text(title)
        voted = page.get_by_role("button", name="Voted", exact=True)
        await expect(voted).to_have_attribute("aria-pressed", "true")
        await expect(voted).to_be_enabled()
        await expect(page.get_by_role("button", name="Follow", exact=True)).to_have_attribute("aria-pressed", "false")
    finally:
        await reporter.aclose()
        await crew.aclose()
