"""The notify service against the real stack: each moment reaches exactly the right people on their
chosen channels, over a real SMTP server (aiosmtpd on loopback); failures are recorded and announced."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import uuid4

import pytest
from uuid_utils.compat import uuid7

from snapfix_shared.messages import IssueAssigned, IssueCommented, IssueFollowed, IssueStatusChanged
from snapfix_shared.messages.base import utcnow
from snapfix_shared.topics import Topic
from tests.integration.notify_app import (
    Notify,
    envelope,
    new_user_id,
    publish,
    registered,
    registration_attempt,
    reported,
    running_notify,
    verification,
)
from tests.mailbox import Mailbox, body_html, body_text
from tests.stack import Stack, header, produce, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mailbox() -> AsyncIterator[Mailbox]:
    box = Mailbox().start()
    yield box  # type: ignore[misc]
    box.stop()


@pytest.fixture(scope="module")
async def notify(stack: Stack, mailbox: Mailbox) -> AsyncIterator[Notify]:
    async with running_notify(stack, mailbox) as running:
        yield running


async def users(stack: Stack, *events: Any) -> None:
    await publish(stack.kafka, Topic.USERS_EVENTS, events)


async def issue_events(stack: Stack, *events: Any) -> None:
    await publish(stack.kafka, Topic.ISSUES_EVENTS, events)


async def feed(notify: Notify, user: str, *, count: int, timeout_s: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await notify.http.get("/v1/me/notifications", headers=notify.as_user(user))
        assert response.status_code == 200, response.text
        body = response.json()
        if len(body["items"]) >= count:
            return body
        await asyncio.sleep(0.1)
    pytest.fail(f"{user} has {len(body.get('items', []))} of {count} notifications: {body}")


def to(address: str) -> Any:
    return lambda m: address.lower() in str(m["To"]).lower()


def about(address: str, words: str) -> Any:
    return lambda m: address.lower() in str(m["To"]).lower() and words in str(m["Subject"])


def status_changed(issue_id: Any, actor: str, frm: str, to_status: str, **fields: Any) -> IssueStatusChanged:
    return IssueStatusChanged(
        **envelope(actor_id=actor),
        issue_id=issue_id,
        from_status=frm,  # type: ignore[arg-type]
        to_status=to_status,  # type: ignore[arg-type]
        category="pothole",
        changed_at=utcnow(),
        **fields,
    )


def commented(issue_id: Any, actor: str, body: str, *, internal: bool = False) -> IssueCommented:
    return IssueCommented(
        **envelope(actor_id=actor),
        issue_id=issue_id,
        comment_id=uuid7(),
        body=body,
        internal=internal,
        commented_at=utcnow(),
    )


def followed(issue_id: Any, user: str, follow: bool = True) -> IssueFollowed:
    return IssueFollowed(**envelope(actor_id=user), issue_id=issue_id, follow=follow)


async def people(stack: Stack, *roles: str, department: str = "roads") -> list[tuple[str, str]]:
    """Registered users (id, email), citizens or staff of ``department``."""
    found = []
    for role in roles:
        user = new_user_id()
        email = f"{role}-{uuid4().hex[:8]}@example.org"
        found.append((user, email))
        departments = (department,) if role == "staff" else ()
        await users(stack, registered(user, email=email, role=role, departments=departments))
    return found


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


async def test_the_verification_email_goes_to_the_address_to_verify_without_unsubscribe(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    user = new_user_id()
    email = f"verify-{uuid4().hex[:8]}@example.org"
    await users(stack, registered(user, email=email), verification(user, email))
    [message] = await mailbox.wait_for(to(email))
    assert "Confirm your email address" in str(message["Subject"])
    assert f"https://snapfix.test/v1/auth/verify-email?token=tok-{user}" in body_text(message)
    assert message["List-Unsubscribe"] is None  # an account email is not a subscription


async def test_an_attempt_to_register_a_taken_address_tells_its_owner(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
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


async def test_resolved_asks_to_confirm_or_reopen_and_duplicate_points_to_the_original(
    stack: Stack, notify: Notify, mailbox: Mailbox
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


async def test_an_assignment_reaches_the_assignee_or_else_the_departments_staff(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
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


async def test_area_watchers_hear_of_new_reports_in_their_circle_and_categories(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
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


# -- preferences and unsubscribe ----------------------------------------------------------


async def test_preferences_choose_the_channels_per_moment(stack: Stack, notify: Notify, mailbox: Mailbox) -> None:
    (reporter, r_email), (follower, f_email) = await people(stack, "citizen", "citizen")
    headers = notify.as_user(follower)
    defaults = (await notify.http.get("/v1/me/notification-preferences", headers=headers)).json()
    assert defaults["moments"]["followed_comment_added"] == {"email": False, "in_app": True, "push": False}
    assert defaults["moments"]["comment_added"] == {"email": True, "in_app": True, "push": False}
    changed = await notify.http.put(
        "/v1/me/notification-preferences",
        json={"moments": {"followed_comment_added": {"email": True, "in_app": False}}},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["moments"]["followed_comment_added"] == {"email": True, "in_app": False, "push": False}
    refused = await notify.http.put(
        "/v1/me/notification-preferences", json={"moments": {"everything": {"email": True}}}, headers=headers
    )
    assert refused.status_code == 422

    report = reported(reporter)
    await issue_events(stack, report, followed(report.issue_id, follower))
    await mailbox.wait_for(to(r_email))
    await issue_events(stack, commented(report.issue_id, reporter, "Thanks all"))
    [message] = await mailbox.wait_for(to(f_email))
    assert "a report you follow" in str(message["Subject"])
    await mailbox.settle()
    assert (await notify.http.get("/v1/me/notifications", headers=headers)).json()["items"] == []


async def test_one_click_unsubscribe_turns_that_moments_email_off(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    (reporter, r_email), (crew, _) = await people(stack, "citizen", "staff")
    first, second = reported(reporter), reported(reporter)
    await issue_events(stack, first)
    [receipt] = await mailbox.wait_for(to(r_email))
    url = receipt["List-Unsubscribe"].strip("<>").split(">")[0]
    token = parse_qs(urlparse(url).query)["token"][0]

    page = await notify.http.get(
        "/v1/notifications/unsubscribe", params={"token": token}, headers={"accept": "text/html"}
    )
    assert page.status_code == 200
    assert '<form method="post">' in page.text
    forged = await notify.http.post("/v1/notifications/unsubscribe", params={"token": token[:-2] + "xx"})
    assert forged.status_code == 400
    done = await notify.http.post("/v1/notifications/unsubscribe", params={"token": token})
    assert done.status_code == 200, done.text
    assert done.json() == {"unsubscribed": "report_received"}
    prefs = (await notify.http.get("/v1/me/notification-preferences", headers=notify.as_user(reporter))).json()
    assert prefs["moments"]["report_received"] == {"email": False, "in_app": True, "push": False}

    await issue_events(stack, second, status_changed(first.issue_id, crew, "open", "acknowledged"))
    await mailbox.wait_for(about(r_email, "acknowledged"))  # other moments still come by email
    await feed(notify, reporter, count=3)  # both receipts and the acknowledgement, in the app
    await mailbox.settle()
    assert [m for m in mailbox.to(r_email) if "We received" in str(m["Subject"])] == [receipt]


# -- the feed -----------------------------------------------------------------------------


async def test_the_feed_pages_newest_first_counts_unread_and_shows_only_ones_own(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    (reporter, _), (other, _) = await people(stack, "citizen", "citizen")
    reports = [reported(reporter) for _ in range(5)]
    await issue_events(stack, *reports)
    headers = notify.as_user(reporter)
    await feed(notify, reporter, count=5)

    first = (await notify.http.get("/v1/me/notifications", params={"limit": 2}, headers=headers)).json()
    assert first["unread"] == 5
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    seen = [i["id"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (
            await notify.http.get("/v1/me/notifications", params={"limit": 2, "cursor": cursor}, headers=headers)
        ).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 5
    created = [i["created_at"] for i in first["items"]]
    assert created == sorted(created, reverse=True)

    key = seen[0]
    assert (
        await notify.http.post(f"/v1/me/notifications/{key}/read", headers=notify.as_user(other))
    ).status_code == 404
    assert (await notify.http.post(f"/v1/me/notifications/{key}/read", headers=headers)).status_code == 204
    assert (await notify.http.get("/v1/me/notifications", headers=headers)).json()["unread"] == 4
    marked = await notify.http.post("/v1/me/notifications/read-all", headers=headers)
    assert marked.json() == {"marked": 4}
    assert (await notify.http.get("/v1/me/notifications", headers=headers)).json()["unread"] == 0
    assert (await notify.http.get("/v1/me/notifications")).status_code == 401


# -- delivery rules -----------------------------------------------------------------------


async def test_a_redelivered_event_sends_nothing_twice(stack: Stack, notify: Notify, mailbox: Mailbox) -> None:
    [(reporter, r_email)] = await people(stack, "citizen")
    report = reported(reporter)
    await issue_events(stack, report)
    [first] = await mailbox.wait_for(to(r_email))
    await issue_events(stack, report)  # the same event (same message id) again
    await issue_events(stack, commented(report.issue_id, new_user_id(), "marker"))
    await mailbox.wait_for(about(r_email, "New comment"))
    await mailbox.settle()
    assert [m["Message-ID"] for m in mailbox.to(r_email) if "We received" in str(m["Subject"])] == [first["Message-ID"]]


async def test_a_refused_address_is_recorded_and_announced_as_notification_failed(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    [(reporter, r_email)] = await people(stack, "citizen")
    mailbox.refuse[r_email] = "550 5.1.1 No such user here"
    report = reported(reporter)
    await issue_events(stack, report)
    key = f"{report.message_id}:{reporter}:email"
    [record] = await read_topic(stack.kafka, Topic.NOTIFY_EVENTS, lambda r: key.encode() in (r.value or b""))
    failed = json.loads(record.value)
    assert failed["type"] == "NotificationFailed"
    assert failed["reason"] == "permanent"
    assert failed["channel"] == "email"
    assert "550" in failed["error"]
    assert record.key == reporter.encode()
    await feed(notify, reporter, count=1)  # the other channel still delivered


async def test_a_transient_refusal_is_retried_until_the_server_takes_it(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    [(reporter, r_email)] = await people(stack, "citizen")
    mailbox.refuse[r_email] = "451 4.3.0 Mailbox busy, try later"
    await issue_events(stack, reported(reporter))
    await feed(notify, reporter, count=1)
    await asyncio.sleep(1.0)
    assert mailbox.to(r_email) == []
    del mailbox.refuse[r_email]
    await mailbox.wait_for(to(r_email), timeout_s=20)


async def test_a_poison_event_is_dead_lettered_and_consuming_goes_on(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    marker = f"poison-{uuid4().hex}".encode()
    await produce(stack.kafka, Topic.ISSUES_EVENTS, b'{"type": "IssueCommented", "marker": "' + marker + b'"}')
    group = notify.settings.notify_issues_group
    [dead] = await read_topic(
        stack.kafka,
        Topic.ISSUES_EVENTS.dlq,
        lambda r: marker in (r.value or b"") and header(r, "dlq_consumer_group") == group,
    )
    assert header(dead, "dlq_reason") == "invalid"
    [(reporter, r_email)] = await people(stack, "citizen")
    await issue_events(stack, reported(reporter))
    await mailbox.wait_for(to(r_email))
