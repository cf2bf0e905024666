"""Notify with SNAPFIX_WEB_BASE_URL set, against the real stack and a real SMTP server: the e-mails a
person reads link to the web app's pages (the issue, its reopen page, the unsubscribe landing page),
while List-Unsubscribe stays on the API's one-click POST, which still unsubscribes (RFC 8058)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest

from snapfix_shared.messages import IssueStatusChanged
from snapfix_shared.messages.base import utcnow
from snapfix_shared.topics import Topic
from tests.integration.notify_app import Notify, envelope, new_user_id, publish, registered, reported, running_notify
from tests.mailbox import Mailbox, body_html, body_text
from tests.stack import Stack

pytestmark = pytest.mark.integration
WEB = "https://app.snapfix.test"
API = "https://snapfix.test"  # notify_settings' public_base_url


@pytest.fixture(scope="module")
def mailbox() -> AsyncIterator[Mailbox]:
    box = Mailbox().start()
    yield box  # type: ignore[misc]
    box.stop()


@pytest.fixture(scope="module")
async def notify(stack: Stack, mailbox: Mailbox) -> AsyncIterator[Notify]:
    async with running_notify(stack, mailbox, web_base_url=f"{WEB}/") as running:
        yield running


def about(address: str, words: str) -> Any:
    return lambda m: address.lower() in str(m["To"]).lower() and words in str(m["Subject"])


async def test_emails_link_to_the_web_app_and_list_unsubscribe_stays_on_the_api(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    reporter, email = new_user_id(), f"web-{uuid4().hex[:8]}@example.org"
    await publish(stack.kafka, Topic.USERS_EVENTS, [registered(reporter, email=email)])
    report = reported(reporter)
    await publish(stack.kafka, Topic.ISSUES_EVENTS, [report])
    [receipt] = await mailbox.wait_for(about(email, "We received"))
    page = f"{WEB}/issues/{report.issue_id}"
    assert page in body_text(receipt)
    assert f'href="{page}"' in body_html(receipt)

    # The body's unsubscribe link is the web app's landing page; the header, the API's one-click POST.
    header = str(receipt["List-Unsubscribe"]).strip().strip("<>")
    assert header.startswith(f"{API}/v1/notifications/unsubscribe?token=")
    assert receipt["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = parse_qs(urlsplit(header).query)["token"][0]
    assert f"{WEB}/unsubscribe?token={token}" in body_text(receipt)
    assert "/v1/" not in body_text(receipt) + body_html(receipt)

    resolved_event = IssueStatusChanged(
        **envelope(actor_id=new_user_id()),
        issue_id=report.issue_id,
        from_status="in_progress",
        to_status="resolved",
        category="pothole",
        changed_at=utcnow(),
        note="Filled",
    )
    await publish(stack.kafka, Topic.ISSUES_EVENTS, [resolved_event])
    [resolved] = await mailbox.wait_for(about(email, "Resolved"))
    assert f"{page}?action=reopen" in body_text(resolved)
    assert f'href="{page}?action=reopen"' in body_html(resolved)
    assert "POST" not in body_text(resolved)
    assert "/v1/" not in body_text(resolved) + body_html(resolved)

    # The in-app item carries the web app's link too.
    feed = await notify.http.get("/v1/me/notifications", headers=notify.as_user(reporter))
    assert feed.status_code == 200, feed.text
    assert {item.get("link") for item in feed.json()["items"]} == {page}

    # A mail client's one-click POST to the header's URL unsubscribes (the API answers it).
    done = await notify.http.post(
        "/v1/notifications/unsubscribe", params={"token": token}, data={"List-Unsubscribe": "One-Click"}
    )
    assert done.status_code == 200, done.text
    assert done.json() == {"unsubscribed": "report_received"}
