"""The notify service against the real stack: each moment reaches exactly the right people on their
chosen channels, over a real SMTP server (aiosmtpd on loopback, tests/integration/conftest.py's
``mailbox``) and the in-app feed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import pytest

from snapfix_shared.messages import IssueAssigned
from snapfix_shared.messages.base import utcnow
from tests.integration.notify_app import (
    Notify,
    envelope,
    new_user_id,
    registered,
    registration_attempt,
    reported,
    running_notify,
    verification,
)
from tests.integration.notify_moments import (
    about,
    commented,
    feed,
    followed,
    issue_events,
    people,
    status_changed,
    to,
    users,
)
from tests.mailbox import Mailbox, body_html, body_text
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def notify(stack: Stack, mailbox: Mailbox) -> AsyncIterator[Notify]:
    async with running_notify(stack, mailbox) as running:
        yield running


# -- moments ------------------------------------------------------------------------------


async def test_the_reporter_is_told_their_report_was_received_by_email_and_in_app(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    [(reporter, email)] = await people(stack, "citizen")
    report = reported(reporter)
    await issue_events(stack, report)

    [message] = await mailbox.wait_for(to(email))
    assert "We received your report" in str(message["Subject"])
    assert report.title in body_text(message)
    assert report.title in body_html(message)
    assert f"https://snapfix.test/v1/issues/{report.issue_id}" in body_text(message)
    assert message["Message-ID"].endswith("@snapfix.example>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://snapfix.test/v1/notifications/unsubscribe?token=" in message["List-Unsubscribe"]

    page = await feed(notify, reporter, count=1)
    assert page["unread"] == 1
    assert page["items"][0]["moment"] == "report_received"
    assert page["items"][0]["issue_id"] == str(report.issue_id)


@pytest.mark.usefixtures("notify")
async def test_the_verification_email_goes_to_the_address_to_verify_without_unsubscribe(
    stack: Stack, mailbox: Mailbox
) -> None:
    user = new_user_id()
    email = f"verify-{uuid4().hex[:8]}@example.org"
    await users(stack, registered(user, email=email), verification(user, email))
    [message] = await mailbox.wait_for(to(email))
    assert "Confirm your email address" in str(message["Subject"])
    assert f"https://snapfix.test/v1/auth/verify-email?token=tok-{user}" in body_text(message)
    assert message["List-Unsubscribe"] is None  # an account email is not a subscription


@pytest.mark.usefixtures("notify")
async def test_an_attempt_to_register_a_taken_address_tells_its_owner(stack: Stack, mailbox: Mailbox) -> None:
    user = new_user_id()
    email = f"taken-{uuid4().hex[:8]}@example.org"
    await users(stack, registered(user, email=email), registration_attempt(user, email))
    [message] = await mailbox.wait_for(to(email))
    assert "tried to register your address" in str(message["Subject"])
    assert "nothing was created" in body_text(message)
    assert message["List-Unsubscribe"] is None  # an account email


async def test_a_status_change_reaches_the_reporter_with_the_note_and_followers_in_app_never_the_actor(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    (reporter, r_email), (follower, f_email), (crew, c_email) = await people(stack, "citizen", "citizen", "staff")
    report = reported(reporter)
    await issue_events(stack, report, followed(report.issue_id, follower))
    await mailbox.wait_for(to(r_email))

    await issue_events(stack, status_changed(report.issue_id, crew, "open", "acknowledged", note="Crew on Monday"))
    [ack] = await mailbox.wait_for(about(r_email, "acknowledged"))
    assert "Crew on Monday" in body_text(ack)
    assert "Crew on Monday" in body_html(ack)
    follower_feed = await feed(notify, follower, count=1)
    assert follower_feed["items"][0]["moment"] == "followed_status_changed"
    assert "Crew on Monday" in follower_feed["items"][0]["body"]

    await mailbox.settle()
    assert mailbox.to(f_email) == []  # followers: in-app by default
    assert mailbox.to(c_email) == []  # the actor is never told about their own action
    crew_feed = (await notify.http.get("/v1/me/notifications", headers=notify.as_user(crew))).json()
    assert crew_feed["items"] == []


async def test_public_comments_reach_reporter_and_followers_but_not_the_commenter_and_internal_ones_no_one(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    (reporter, r_email), (follower, f_email), (crew, _) = await people(stack, "citizen", "citizen", "staff")
    report = reported(reporter)
    await issue_events(stack, report, followed(report.issue_id, follower))
    await mailbox.wait_for(to(r_email))

    await issue_events(
        stack,
        commented(report.issue_id, crew, "Needs a road closure permit", internal=True),
        commented(report.issue_id, follower, "It got deeper <b>overnight</b>"),
    )
    [comment] = await mailbox.wait_for(about(r_email, "New comment"))
    assert "It got deeper <b>overnight</b>" in body_text(comment)
    assert "It got deeper &lt;b&gt;overnight&lt;/b&gt;" in body_html(comment)  # autoescaped
    await mailbox.settle()
    everything = " ".join(body_text(m) for m in mailbox.to(r_email))
    assert "road closure" not in everything
    follower_feed = (await notify.http.get("/v1/me/notifications", headers=notify.as_user(follower))).json()
    assert follower_feed["items"] == []  # their own comment; the internal one is not for citizens
    assert mailbox.to(f_email) == []


@pytest.mark.usefixtures("notify")
async def test_resolved_asks_to_confirm_or_reopen_and_duplicate_points_to_the_original(
    stack: Stack, mailbox: Mailbox
) -> None:
    (reporter, r_email), (crew, _) = await people(stack, "citizen", "staff")
    original, report, other = reported(reporter), reported(reporter), reported(reporter)
    await issue_events(stack, original, report, other)
    await mailbox.wait_for(to(r_email), count=3)

    await issue_events(
        stack,
        status_changed(report.issue_id, crew, "in_progress", "resolved", note="Filled"),
        status_changed(other.issue_id, crew, "open", "duplicate", duplicate_of=original.issue_id),
    )
    [resolved] = await mailbox.wait_for(about(r_email, "Resolved"))
    assert "Reopen" in body_text(resolved)
    assert f"/v1/issues/{report.issue_id}/transitions" in body_text(resolved)
    [duplicate] = await mailbox.wait_for(about(r_email, "duplicates"))
    assert f"https://snapfix.test/v1/issues/{original.issue_id}" in body_text(duplicate)


@pytest.mark.usefixtures("notify")
async def test_an_assignment_reaches_the_assignee_or_else_the_departments_staff(stack: Stack, mailbox: Mailbox) -> None:
    (reporter, r_email), (lead, _) = await people(stack, "citizen", "staff")
    (assignee, a_email), (_colleague, co_email) = await people(stack, "staff", "staff")
    dept = f"parks{uuid4().hex[:6]}"
    [(_park1, p1_email), (_park2, p2_email)] = await people(stack, "staff", "staff", department=dept)
    report = reported(reporter)
    await issue_events(stack, report)
    await mailbox.wait_for(to(r_email))

    assign = IssueAssigned(
        **envelope(actor_id=lead), issue_id=report.issue_id, department="roads", assignee_id=assignee, priority="high"
    )
    await issue_events(stack, assign)
    [message] = await mailbox.wait_for(about(a_email, "Assigned to you"))
    assert "priority high" in body_text(message)

    moved = IssueAssigned(
        **envelope(actor_id=lead), issue_id=report.issue_id, department=dept, assignee_id=None, priority="high"
    )
    await issue_events(stack, moved)
    await mailbox.wait_for(
        lambda m: "Assigned" in str(m["Subject"]) and any(e in str(m["To"]) for e in (p1_email, p2_email)), count=2
    )
    await mailbox.settle()
    assert mailbox.to(co_email) == []  # roads staff other than the assignee are not told
    assert mailbox.to(r_email)[-1]["Subject"].startswith("We received")  # the citizen hears nothing of it


async def test_an_overdue_report_is_announced_to_its_department_once(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    dept = f"lights{uuid4().hex[:6]}"
    ((reporter, _),) = await people(stack, "citizen")
    [(_crew, c_email)] = await people(stack, "staff", department=dept)
    report = reported(reporter, department=dept, due_at=utcnow() - timedelta(hours=1))
    await issue_events(stack, report)
    await feed(notify, reporter, count=1)

    sweeps = notify.app.state.sweeps
    assert await sweeps.overdue() >= 1
    await sweeps.overdue()  # a second sweep (or instance) tells no one again
    [message] = await mailbox.wait_for(about(c_email, "Overdue"))
    assert report.title in body_text(message)
    await mailbox.settle()
    assert len(mailbox.to(c_email)) == 1


async def test_area_watchers_hear_of_new_reports_in_their_circle_and_categories(stack: Stack, notify: Notify) -> None:
    (reporter, _), (near, _), (picky, _), (far, _) = await people(stack, "citizen", "citizen", "citizen", "citizen")
    lat, lon = 40.4168 + (uuid4().int % 1000) / 1e5, -3.7038
    for user, body in (
        (near, {"lat": lat, "lon": lon, "radius_m": 500}),
        (picky, {"lat": lat, "lon": lon, "radius_m": 500, "categories": ["graffiti"]}),
        (far, {"lat": lat + 0.05, "lon": lon, "radius_m": 500}),
        (reporter, {"lat": lat, "lon": lon, "radius_m": 500}),
    ):
        created = await notify.http.post("/v1/me/watches", json=body, headers=notify.as_user(user))
        assert created.status_code == 201, created.text
    listed = (await notify.http.get("/v1/me/watches", headers=notify.as_user(near))).json()["items"]
    assert len(listed) == 1
    assert listed[0]["radius_m"] == 500

    report = reported(reporter, location={"lat": lat + 0.001, "lon": lon})  # about 110 m north
    await issue_events(stack, report)
    page = await feed(notify, near, count=1)
    assert page["items"][0]["moment"] == "area_report"
    assert page["items"][0]["issue_id"] == str(report.issue_id)
    await feed(notify, reporter, count=1)  # their receipt; never an area notice about their own report
    await asyncio.sleep(1)
    for user in (picky, far):
        assert (await notify.http.get("/v1/me/notifications", headers=notify.as_user(user))).json()["items"] == []
    reporter_moments = [
        i["moment"]
        for i in (await notify.http.get("/v1/me/notifications", headers=notify.as_user(reporter))).json()["items"]
    ]
    assert reporter_moments == ["report_received"]

    deleted = await notify.http.delete(f"/v1/me/watches/{listed[0]['id']}", headers=notify.as_user(far))
    assert deleted.status_code == 404  # someone else's watch
    deleted = await notify.http.delete(f"/v1/me/watches/{listed[0]['id']}", headers=notify.as_user(near))
    assert deleted.status_code == 204


async def test_a_digest_watch_gets_one_email_for_many_reports(stack: Stack, notify: Notify, mailbox: Mailbox) -> None:
    (reporter, _), (watcher, w_email) = await people(stack, "citizen", "citizen")
    cell = "ezjmgt"  # Madrid, about 1.2 km x 0.6 km
    created = await notify.http.post(
        "/v1/me/watches", json={"cells": [cell], "digest": True}, headers=notify.as_user(watcher)
    )
    assert created.status_code == 201, created.text
    reports = [reported(reporter, location={"lat": 40.4168, "lon": -3.7038}) for _ in range(3)]
    await issue_events(stack, *reports)
    await feed(notify, reporter, count=3)
    assert await notify.app.state.sweeps.digest() >= 1
    [digest] = await mailbox.wait_for(to(w_email))
    assert "3 new reports" in str(digest["Subject"])
    for report in reports:
        assert report.title in body_text(digest)
