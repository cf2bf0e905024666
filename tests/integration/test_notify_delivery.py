"""The notify service against the real stack: preferences and one-click unsubscribe, the in-app feed,
and the delivery rules (nothing sent twice, refusals recorded and announced, transient ones
retried, poison dead-lettered), over a real SMTP server (aiosmtpd on loopback).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlparse
from uuid import uuid4

import pytest

from snapfix_shared.topics import Topic
from tests.integration.notify_app import (
    Notify,
    new_user_id,
    reported,
    running_notify,
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
)
from tests.mailbox import Mailbox
from tests.stack import Stack, header, produce, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def notify(stack: Stack, mailbox: Mailbox) -> AsyncIterator[Notify]:
    async with running_notify(stack, mailbox) as running:
        yield running


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


async def test_the_feed_pages_newest_first_counts_unread_and_shows_only_ones_own(stack: Stack, notify: Notify) -> None:
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


@pytest.mark.usefixtures("notify")
async def test_a_redelivered_event_sends_nothing_twice(stack: Stack, mailbox: Mailbox) -> None:
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
