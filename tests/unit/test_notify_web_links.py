"""Links in notify's messages: the web app's pages when SNAPFIX_WEB_BASE_URL is set, the API's
resources otherwise; List-Unsubscribe stays on the API's one-click POST either way (RFC 8058)."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from uuid_utils.compat import uuid7

from snapfix_notify import rules
from snapfix_notify.channels.email import build_message
from snapfix_notify.config import NotifySettings
from snapfix_notify.dispatch import Dispatcher, new_delivery
from snapfix_notify.models import Contact
from snapfix_notify.templates import Renderer
from snapfix_notify.unsubscribe import UnsubscribeTokens
from snapfix_shared.messages import IssueAssigned, IssueCommented, IssueReported, IssueStatusChanged
from snapfix_shared.messages.base import utcnow
from tests.mailbox import body_html, body_text

pytestmark = pytest.mark.unit
API = "https://api.city.example"
WEB = "https://app.city.example/"  # a trailing slash is dropped
WEB_ROOT = "https://app.city.example"
SECRET = "s" * 40


def facts(**overrides: Any) -> rules.IssueFacts:
    fields: dict[str, Any] = {
        "issue_id": str(uuid7()),
        "title": "Pothole",
        "category": "pothole",
        "department": "roads",
        "reporter_id": "reporter",
        "followers": ("follower",),
    }
    return rules.IssueFacts(**{**fields, **overrides})


def changed(f: rules.IssueFacts, to: str, **fields: Any) -> IssueStatusChanged:
    return IssueStatusChanged(
        correlation_id="t",
        actor_id="crew",
        issue_id=f.issue_id,
        from_status="in_progress",
        to_status=to,
        category="pothole",
        changed_at=utcnow(),
        **fields,
    )


def reported(actor: str | None = "reporter") -> IssueReported:
    return IssueReported.model_validate(
        {
            "correlation_id": "t",
            "actor_id": actor,
            "issue_id": str(uuid7()),
            "title": "Pothole",
            "description": "Deep",
            "category": "pothole",
            "location": {"lat": 52.5, "lon": 13.4},
            "reported_at": utcnow(),
        }
    )


# -- settings ---------------------------------------------------------------------------------


def test_the_web_base_url_is_read_from_the_gateways_variable_and_empty_means_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SNAPFIX_WEB_BASE_URL", raising=False)
    assert NotifySettings().web_base_url is None
    monkeypatch.setenv("SNAPFIX_WEB_BASE_URL", WEB)
    assert NotifySettings().web_base_url == WEB
    monkeypatch.setenv("SNAPFIX_WEB_BASE_URL", "")
    assert NotifySettings().web_base_url is None


# -- rules ------------------------------------------------------------------------------------


def test_issue_links_open_the_web_app_when_set_else_the_api() -> None:
    assert rules.issue_url(API, "42") == f"{API}/v1/issues/42"
    assert rules.issue_url(API, "42", web_base_url=WEB) == f"{WEB_ROOT}/issues/42"
    assert rules.issue_url(API, "42", web_base_url=None) == f"{API}/v1/issues/42"


def test_the_receipt_links_to_the_web_app_or_the_api() -> None:
    event = reported()
    assert rules.plan(event, None, base_url=API).context["issue_url"] == f"{API}/v1/issues/{event.issue_id}"
    web = rules.plan(event, None, base_url=API, web_base_url=WEB).context
    assert web["issue_url"] == f"{WEB_ROOT}/issues/{event.issue_id}"


def test_resolved_offers_the_web_apps_reopen_page_only_when_there_is_one() -> None:
    f = facts()
    api = rules.plan(changed(f, "resolved"), f, base_url=API).context
    assert api["issue_url"] == f"{API}/v1/issues/{f.issue_id}"
    assert api["transitions_url"] == f"{API}/v1/issues/{f.issue_id}/transitions"
    assert "reopen_url" not in api
    web = rules.plan(changed(f, "resolved"), f, base_url=API, web_base_url=WEB).context
    assert web["issue_url"] == f"{WEB_ROOT}/issues/{f.issue_id}"
    assert web["reopen_url"] == f"{WEB_ROOT}/issues/{f.issue_id}?action=reopen"
    assert web["transitions_url"] == f"{API}/v1/issues/{f.issue_id}/transitions"  # the command stays the API's


def test_a_duplicates_original_comments_assignments_and_overdue_link_to_the_web_app() -> None:
    f, original = facts(), uuid7()
    dup = rules.plan(changed(f, "duplicate", duplicate_of=original), f, base_url=API, web_base_url=WEB).context
    assert dup["original_url"] == f"{WEB_ROOT}/issues/{original}"
    assert rules.plan(changed(f, "duplicate", duplicate_of=original), f, base_url=API).context["original_url"] == (
        f"{API}/v1/issues/{original}"
    )
    comment = IssueCommented(
        correlation_id="t",
        actor_id="crew",
        issue_id=f.issue_id,
        comment_id=uuid7(),
        body="hi",
        internal=False,
        commented_at=utcnow(),
    )
    assign = IssueAssigned(correlation_id="t", actor_id="crew", issue_id=f.issue_id, assignee_id="ana", priority="high")
    for event in (comment, assign):
        assert rules.plan(event, f, base_url=API, web_base_url=WEB).context["issue_url"] == (
            f"{WEB_ROOT}/issues/{f.issue_id}"
        )
        assert rules.plan(event, f, base_url=API).context["issue_url"] == f"{API}/v1/issues/{f.issue_id}"
    late = facts(assignee_id="ana")
    overdue = rules.overdue(late, base_url=API, web_base_url=WEB, due_at="x").context
    assert overdue["issue_url"] == f"{WEB_ROOT}/issues/{late.issue_id}"
    assert rules.overdue(late, base_url=API, due_at="x").context["issue_url"] == f"{API}/v1/issues/{late.issue_id}"


# -- templates --------------------------------------------------------------------------------


def test_the_resolved_email_links_to_the_reopen_page_instead_of_the_api_command() -> None:
    f = facts()
    context = rules.plan(changed(f, "resolved"), f, base_url=API, web_base_url=WEB).context
    rendered = Renderer().render("resolved", context)
    reopen = f"{WEB_ROOT}/issues/{f.issue_id}?action=reopen"
    assert reopen in rendered.text
    assert "POST" not in rendered.text
    assert "/v1/" not in rendered.text + rendered.html
    assert f'href="{WEB_ROOT}/issues/{f.issue_id}?action=reopen"' in rendered.html
    assert f'href="{WEB_ROOT}/issues/{f.issue_id}"' in rendered.html


def test_without_the_web_app_the_resolved_email_names_the_api_command_as_before() -> None:
    f = facts()
    rendered = Renderer().render("resolved", rules.plan(changed(f, "resolved"), f, base_url=API).context)
    assert f'POST {API}/v1/issues/{f.issue_id}/transitions with {{"to": "reopened"}}' in rendered.text
    assert "action=reopen" not in rendered.text + rendered.html
    assert f'href="{API}/v1/issues/{f.issue_id}"' in rendered.html


def test_a_delivery_recorded_before_the_web_app_renders_without_a_reopen_url() -> None:
    context = {"issue_id": "1", "title": "t", "category": "c", "issue_url": "u", "transitions_url": "https://x/t"}
    assert "POST https://x/t" in Renderer().render("resolved", context).text


# -- unsubscribe: the body links to the web page, the header stays on the API ------------------


def test_the_unsubscribe_page_is_the_web_apps_and_the_one_click_url_the_apis() -> None:
    web = UnsubscribeTokens(SECRET, base_url=API, web_base_url=WEB)
    page, one_click = web.page_url("u1", "resolved"), web.url("u1", "resolved")
    assert page.startswith(f"{WEB_ROOT}/unsubscribe?token=")
    assert one_click.startswith(f"{API}/v1/notifications/unsubscribe?token=")
    [token] = parse_qs(urlsplit(page).query)["token"]
    assert web.read(token).moment == "resolved"
    assert parse_qs(urlsplit(one_click).query)["token"] == [token]
    api = UnsubscribeTokens(SECRET, base_url=API)
    assert api.page_url("u1", "resolved") == api.url("u1", "resolved") == one_click


def dispatcher(web_base_url: str | None) -> Dispatcher:
    tokens = UnsubscribeTokens(SECRET, base_url=API, web_base_url=web_base_url)
    stub: Any = SimpleNamespace()
    return Dispatcher(stub, stub, {}, deliveries=stub, queue=stub, contacts=stub, renderer=Renderer(), tokens=tokens)


@pytest.mark.parametrize("web_base_url", [WEB, None])
def test_an_email_links_its_body_to_the_web_app_and_keeps_list_unsubscribe_on_the_api(
    web_base_url: str | None,
) -> None:
    f = facts()
    context = rules.plan(changed(f, "resolved"), f, base_url=API, web_base_url=web_base_url).context
    delivery = new_delivery(
        cause_id="e1", recipient_id="u1", channel="email", moment="resolved", context=context, now=utcnow()
    )
    contact = Contact.model_construct(id="u1", email="ada@example.org", display_name="Ada")
    notice = dispatcher(web_base_url)._notice(delivery, contact)
    raw = build_message(notice, sender="SnapFix <no-reply@x.org>", domain="x.org").as_bytes()
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    header = str(msg["List-Unsubscribe"]).strip()
    assert header.startswith(f"<{API}/v1/notifications/unsubscribe?token=")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = body_text(msg), body_html(msg)
    if web_base_url:
        assert f"Stop these emails: {WEB_ROOT}/unsubscribe?token=" in text
        assert f'href="{WEB_ROOT}/unsubscribe?token=' in html
        assert "/v1/" not in text + html  # no raw API URL in what a person reads
        assert notice.link == f"{WEB_ROOT}/issues/{f.issue_id}"  # push and in-app open the web app too
    else:
        assert f"Stop these emails: {header.strip('<>')}" in text
        assert f"{API}/v1/issues/{f.issue_id}/transitions" in text
        assert notice.link == f"{API}/v1/issues/{f.issue_id}"


@pytest.mark.parametrize("channel", ["in_app", "push"])
def test_in_app_items_and_pushes_carry_the_web_apps_link(channel: str) -> None:
    f = facts()
    context = rules.plan(changed(f, "acknowledged"), f, base_url=API, web_base_url=WEB).context
    delivery = new_delivery(
        cause_id="e1", recipient_id="reporter", channel=channel, moment="acknowledged", context=context, now=utcnow()
    )
    notice = dispatcher(WEB)._notice(delivery, None)
    assert notice.link == f"{WEB_ROOT}/issues/{f.issue_id}"
    assert f"{WEB_ROOT}/issues/{f.issue_id}" in notice.text
    assert "unsubscribe" not in notice.text.lower()
