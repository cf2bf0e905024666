"""Notifications through the real gateway and the five processes, email to a real SMTP server:
each moment reaches exactly the right people on their chosen channels; unsubscribe works."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually, staff
from tests.e2e.conftest import System
from tests.mailbox import Mailbox, body_html, body_text

pytestmark = pytest.mark.e2e

POTHOLE = {"category": "pothole", "lat": 52.5200, "lon": 13.4050}  # roads department


async def email_of(client: httpx.AsyncClient) -> str:
    return str((await client.get("/v1/me")).json()["email"])


def about(address: str, words: str) -> Any:
    return lambda m: address.lower() in str(m["To"]).lower() and words in str(m["Subject"])


async def feed(client: httpx.AsyncClient, count: int) -> dict[str, Any]:
    return await eventually(client, "/v1/me/notifications", lambda page: len(page["items"]) >= count)


def web_app(system: System) -> str | None:
    """The web app's URL notify links to (SNAPFIX_WEB_BASE_URL in its environment), if any."""
    return (system.envs["notify"].get("SNAPFIX_WEB_BASE_URL") or "").rstrip("/") or None


@pytest.fixture
async def people(system: System) -> Any:
    clients = (await citizen(system), await citizen(system), await staff(system, "roads"))
    try:
        yield clients  # reporter, follower, roads staff
    finally:
        for client in clients:
            await client.aclose()


async def test_a_new_account_gets_a_verification_email_whose_link_verifies_it(system: System, mailbox: Mailbox) -> None:
    client = await citizen(system)
    try:
        address = await email_of(client)
        [message] = await mailbox.wait_for(about(address, "Confirm your email"))
        link = next(word for word in body_text(message).split() if "/v1/auth/verify-email?token=" in word)
        assert link.startswith(system.gateway)
        async with httpx.AsyncClient() as browser:
            verified = await browser.get(link)
        assert verified.status_code == 200, verified.text
        assert verified.json() == {"status": "verified"}
    finally:
        await client.aclose()


async def test_each_moment_of_a_report_reaches_the_right_people_on_their_channels(
    people: Any, mailbox: Mailbox, system: System
) -> None:
    reporter, follower, roads = people
    r_email, f_email, s_email = [await email_of(c) for c in people]
    accepted = await reporter.post("/v1/issues", json=make_report_body(**POTHOLE))
    assert accepted.status_code == 202, accepted.text
    issue_id = accepted.json()["id"]
    path = f"/v1/issues/{issue_id}"
    await eventually(reporter, path, lambda _: True, timeout_s=60)
    [receipt] = await mailbox.wait_for(about(r_email, "We received your report"), timeout_s=60)
    assert issue_id in body_text(receipt)

    assert (await follower.put(f"{path}/follow")).status_code == 202
    await eventually(follower, "/v1/me/following", lambda page: issue_id in str(page))
    step = await roads.post(f"{path}/transitions", json={"to": "acknowledged", "note": "Crew booked for Monday"})
    assert step.status_code == 202, step.text
    [ack] = await mailbox.wait_for(about(r_email, "acknowledged"))
    assert "Crew booked for Monday" in body_text(ack)
    followed = await feed(follower, 1)
    assert followed["items"][0]["moment"] == "followed_status_changed"
    assert followed["unread"] == 1

    internal = await roads.post(f"{path}/comments", json={"body": "Budget code 41-B", "internal": True})
    assert internal.status_code == 202
    public = await roads.post(f"{path}/comments", json={"body": "Cones are in place"})
    assert public.status_code == 202
    [comment] = await mailbox.wait_for(about(r_email, "New comment"))
    assert "Cones are in place" in body_text(comment)
    await feed(follower, 2)

    for to in ("in_progress", "resolved"):
        assert (await roads.post(f"{path}/transitions", json={"to": to, "note": f"now {to}"})).status_code == 202
    [resolved] = await mailbox.wait_for(about(r_email, "Resolved"))
    assert "Reopen" in body_text(resolved)
    if web := web_app(system):  # the web app's reopen page, no raw API command
        assert f"{web}/issues/{issue_id}?action=reopen" in body_text(resolved)
        assert "/v1/" not in body_text(resolved)
    else:
        assert f"{path}/transitions" in body_text(resolved)

    await mailbox.settle()
    everything = [body_text(m) + body_html(m) for m in mailbox.to(r_email)]
    assert not any("Budget code" in text for text in everything)  # internal comments never reach citizens
    # Followers hear in the app by default (their only email: the account's verification).
    assert [str(m["Subject"]) for m in mailbox.to(f_email) if "Confirm" not in str(m["Subject"])] == []
    assert not [m for m in mailbox.to(s_email) if "Confirm" not in str(m["Subject"])]  # staff acted: not told
    follower_feed = (await follower.get("/v1/me/notifications")).json()
    assert not any("Budget code" in i["body"] for i in follower_feed["items"])
    staff_feed = (await roads.get("/v1/me/notifications")).json()
    assert staff_feed["items"] == []


async def test_the_feed_is_private_and_can_be_marked_read(people: Any) -> None:
    reporter, other, _ = people
    assert (await reporter.post("/v1/issues", json=make_report_body(**POTHOLE))).status_code == 202
    page = await feed(reporter, 1)
    item = page["items"][0]
    assert item["moment"] == "report_received"
    assert (await other.post(f"/v1/me/notifications/{item['id']}/read")).status_code == 404
    assert (await reporter.post(f"/v1/me/notifications/{item['id']}/read")).status_code == 204
    assert (await reporter.get("/v1/me/notifications")).json()["unread"] == page["unread"] - 1
    assert (await reporter.post("/v1/me/notifications/read-all")).status_code == 200
    assert (await reporter.get("/v1/me/notifications")).json()["unread"] == 0
    async with httpx.AsyncClient(base_url=str(reporter.base_url)) as anonymous:
        assert (await anonymous.get("/v1/me/notifications")).status_code == 401


async def test_preferences_watches_and_one_click_unsubscribe_through_the_gateway(
    people: Any, mailbox: Mailbox, system: System
) -> None:
    reporter, watcher, _ = people
    r_email = await email_of(reporter)
    prefs = (await watcher.get("/v1/me/notification-preferences")).json()
    assert prefs["moments"]["area_report"] == {"email": False, "in_app": True, "push": False}
    changed = await watcher.put("/v1/me/notification-preferences", json={"moments": {"area_report": {"email": True}}})
    assert changed.status_code == 200, changed.text
    lat, lon = 52.5 + (time.time_ns() % 10_000) / 1e6, 13.3
    watch = await watcher.post("/v1/me/watches", json={"lat": lat, "lon": lon, "radius_m": 300})
    assert watch.status_code == 201, watch.text
    assert [w["id"] for w in (await watcher.get("/v1/me/watches")).json()["items"]] == [watch.json()["id"]]

    body = make_report_body(category="pothole", lat=lat + 0.0005, lon=lon)
    assert (await reporter.post("/v1/issues", json=body)).status_code == 202
    w_email = await email_of(watcher)
    [near] = await mailbox.wait_for(about(w_email, "New report near you"))
    assert body["title"] in body_text(near)

    # One-click unsubscribe, as a mail client does it (RFC 8058): a POST to the link, no sign-in.
    [receipt] = await mailbox.wait_for(about(r_email, "We received"))
    link = receipt["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    assert link.startswith(f"{system.gateway}/v1/notifications/unsubscribe?token=")
    token = link.partition("?token=")[2]
    if web := web_app(system):  # a person follows the web app's landing page; mail clients POST the header's
        assert f"Stop these emails: {web}/unsubscribe?token={token}" in body_text(receipt)
        assert "/v1/" not in body_text(receipt)
    else:
        assert f"Stop these emails: {link}" in body_text(receipt)
    async with httpx.AsyncClient() as mail_client:
        done = await mail_client.post(link, data={"List-Unsubscribe": "One-Click"})
        forged = await mail_client.post(link[:-3] + "abc", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.text
    assert forged.status_code == 400
    moment = done.json()["unsubscribed"]
    assert moment == "report_received"
    after = (await reporter.get("/v1/me/notification-preferences")).json()
    assert after["moments"]["report_received"]["email"] is False

    assert (await watcher.delete(f"/v1/me/watches/{watch.json()['id']}")).status_code == 204
    assert (await watcher.get("/v1/me/watches")).json()["items"] == []
