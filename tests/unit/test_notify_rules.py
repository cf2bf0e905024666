"""Who hears what, defaults and choices, templates and Message-IDs: notify's decisions in memory."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from typing import Any
from uuid import uuid4

import pytest
from uuid_utils.compat import uuid7

from snapfix_notify import preferences, rules
from snapfix_notify.channels import Notice, PermanentDeliveryError
from snapfix_notify.channels.email import build_message, message_id
from snapfix_notify.dispatch import backoff_s, delivery_key
from snapfix_notify.templates import SUBJECTS, Renderer
from snapfix_notify.unsubscribe import InvalidToken, UnsubscribeTokens
from snapfix_shared import geo
from snapfix_shared.messages import (
    NOTIFY_EVENTS,
    IssueAssigned,
    IssueCommented,
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
    Location,
    NotificationFailed,
)
from snapfix_shared.messages.base import utcnow

pytestmark = pytest.mark.unit
BASE = "https://snapfix.test"
REPORTER, FOLLOWER, OTHER_FOLLOWER, CREW = "reporter", "follower", "follower-2", "crew"


def facts(**overrides: Any) -> rules.IssueFacts:
    fields: dict[str, Any] = {
        "issue_id": str(uuid7()),
        "title": "Pothole",
        "category": "pothole",
        "department": "roads",
        "reporter_id": REPORTER,
        "followers": (FOLLOWER, OTHER_FOLLOWER, REPORTER),
    }
    return rules.IssueFacts(**{**fields, **overrides})


def env(actor: str | None) -> dict[str, Any]:
    return {"correlation_id": "test", "actor_id": actor}


def changed(f: rules.IssueFacts, to: str, *, actor: str = CREW, **fields: Any) -> IssueStatusChanged:
    return IssueStatusChanged(
        **env(actor),
        issue_id=f.issue_id,
        from_status="open",
        to_status=to,  # type: ignore[arg-type]
        category="pothole",
        changed_at=utcnow(),
        **fields,
    )


def comment(f: rules.IssueFacts, actor: str, *, internal: bool = False) -> IssueCommented:
    return IssueCommented(
        **env(actor), issue_id=f.issue_id, comment_id=uuid7(), body="hi", internal=internal, commented_at=utcnow()
    )


def audience(plan: rules.Plan, staff: dict[str, list[str]] | None = None) -> list[tuple[str, str]]:
    return [(u.user_id, u.moment) for u in rules.recipients(plan, staff or {})]


# -- who hears what -------------------------------------------------------------------------


def test_the_reporter_gets_the_receipt_of_their_own_report() -> None:
    event = IssueReported(
        **env(REPORTER),
        issue_id=uuid7(),
        title="Pothole",
        category="pothole",
        location=Location(lat=1, lon=2),
        reported_at=utcnow(),
    )
    plan = rules.plan(event, None, base_url=BASE)
    assert audience(plan) == [(REPORTER, "report_received")]
    assert plan.context["issue_url"] == f"{BASE}/v1/issues/{event.issue_id}"


@pytest.mark.parametrize("actor", [None, "apikey:01a23838-02ec-75b9-917e-82dad6177d22"])
def test_an_integrators_report_without_an_account_tells_no_one(actor: str | None) -> None:
    """An Open311 API key (the gateway's ``apikey:<id>`` actor) has no contact: a receipt would wait for one
    in vain (contact_wait_s), then be announced failed."""
    event = IssueReported(
        **env(actor),
        issue_id=uuid7(),
        title="Pothole",
        category="pothole",
        location=Location(lat=1, lon=2),
        reported_at=utcnow(),
    )
    assert audience(rules.plan(event, None, base_url=BASE)) == []


@pytest.mark.parametrize(
    ("to", "moment"),
    [
        ("acknowledged", "acknowledged"),
        ("resolved", "resolved"),
        ("in_progress", "status_changed"),
        ("rejected", "status_changed"),
        ("closed", "status_changed"),
    ],
)
def test_a_status_change_tells_the_reporter_by_its_moment_and_each_follower_once(to: str, moment: str) -> None:
    f = facts()
    extra = {"reason": "Private land"} if to == "rejected" else {}
    plan = rules.plan(changed(f, to, note="On it", **extra), f, base_url=BASE)
    assert audience(plan) == [
        (REPORTER, moment),
        (FOLLOWER, "followed_status_changed"),
        (OTHER_FOLLOWER, "followed_status_changed"),
    ]
    assert plan.context["note"] == "On it"


def test_a_duplicate_points_to_the_original() -> None:
    f, original = facts(), uuid7()
    plan = rules.plan(changed(f, "duplicate", duplicate_of=original), f, base_url=BASE)
    assert audience(plan)[0] == (REPORTER, "duplicate")
    assert plan.context["original_url"] == f"{BASE}/v1/issues/{original}"


def test_the_actor_is_never_told_of_their_own_action() -> None:
    f = facts()
    reopened = rules.plan(changed(f, "reopened", actor=REPORTER), f, base_url=BASE)
    assert REPORTER not in [u for u, _ in audience(reopened)]
    by_follower = rules.plan(comment(f, FOLLOWER), f, base_url=BASE)
    assert audience(by_follower) == [(REPORTER, "comment_added"), (OTHER_FOLLOWER, "followed_comment_added")]


def test_internal_comments_reach_no_one() -> None:
    f = facts()
    assert audience(rules.plan(comment(f, CREW, internal=True), f, base_url=BASE)) == []


def test_events_about_unknown_issues_or_of_no_interest_tell_no_one() -> None:
    f = facts()
    assert audience(rules.plan(changed(f, "acknowledged"), None, base_url=BASE)) == []
    followed = IssueFollowed(**env(FOLLOWER), issue_id=f.issue_id, follow=True)
    assert audience(rules.plan(followed, f, base_url=BASE)) == []


def test_an_assignment_tells_the_new_assignee_or_the_new_departments_staff_not_the_actor() -> None:
    f = facts()
    assign = IssueAssigned(**env(CREW), issue_id=f.issue_id, department="roads", assignee_id="ana", priority="high")
    assert audience(rules.plan(assign, f, base_url=BASE)) == [("ana", "assigned")]
    again = rules.plan(assign, facts(assignee_id="ana"), base_url=BASE)
    assert audience(again) == []  # the same assignment (or a priority change) is not news
    moved = IssueAssigned(**env(CREW), issue_id=f.issue_id, department="parks", assignee_id=None, priority="high")
    staff = {"parks": ["pia", CREW, "pol"]}
    assert audience(rules.plan(moved, f, base_url=BASE), staff) == [("pia", "assigned"), ("pol", "assigned")]


def test_an_overdue_issue_goes_to_its_assignee_else_its_department() -> None:
    assert audience(rules.overdue(facts(assignee_id="ana"), base_url=BASE, due_at="x")) == [("ana", "overdue")]
    plan = rules.overdue(facts(), base_url=BASE, due_at="x")
    assert audience(plan, {"roads": ["rui", "rob"]}) == [("rui", "overdue"), ("rob", "overdue")]
    assert audience(rules.overdue(facts(department=None), base_url=BASE, due_at="x")) == []


# -- preferences ----------------------------------------------------------------------------


def test_defaults_email_own_reports_in_app_follows_and_push_opt_in() -> None:
    available = ["email", "in_app", "push"]
    assert preferences.channels_for("status_changed", None, available) == ["email", "in_app"]
    assert preferences.channels_for("followed_comment_added", None, available) == ["in_app"]
    assert preferences.channels_for("overdue", None, available) == ["email", "in_app"]
    assert preferences.channels_for("area_report", None, available) == ["in_app"]
    assert preferences.channels_for("verify_email", {"verify_email": {"email": False}}, available) == ["email"]


def test_a_choice_overrides_the_default_for_that_moment_and_channel_only() -> None:
    choices = preferences.merged(None, {"followed_comment_added": {"email": True, "in_app": False}})
    available = ["email", "in_app"]
    assert preferences.channels_for("followed_comment_added", choices, available) == ["email"]
    assert preferences.channels_for("followed_status_changed", choices, available) == ["in_app"]
    assert preferences.channels_for("area_report", {"area_report": {"push": True}}, ["in_app"]) == ["in_app"]


def test_unknown_moments_and_channels_are_refused() -> None:
    with pytest.raises(ValueError, match="moment"):
        preferences.merged(None, {"everything": {"email": True}})
    with pytest.raises(ValueError, match="channel"):
        preferences.merged(None, {"resolved": {"pigeon": True}})


def test_unsubscribing_turns_email_off_for_one_moment_or_all() -> None:
    one = preferences.unsubscribed(None, "resolved")
    assert preferences.effective(one)["resolved"] == {"email": False, "in_app": True, "push": False}
    assert preferences.effective(one)["acknowledged"]["email"] is True
    every = preferences.effective(preferences.unsubscribed(one, None))
    assert not any(channels["email"] for channels in every.values())


# -- templates, messages, tokens ------------------------------------------------------------


CONTEXTS: dict[str, dict[str, Any]] = {
    "status_changed": {"from_status": "open", "to_status": "in_progress"},
    "followed_status_changed": {"from_status": "open", "to_status": "in_progress"},
    "resolved": {"transitions_url": "https://x/t"},
    "duplicate": {"original_url": "https://x/o"},
    "comment_added": {"comment": "c"},
    "followed_comment_added": {"comment": "c"},
    "assigned": {"priority": "high", "department": "roads"},
    "overdue": {"due_at": "2026-01-01T00:00"},
    "area_digest": {"items": [{"title": "A", "category": "c", "issue_url": "https://x/1"}]},
    "verify_email": {"verify_url": "https://x/v"},
    "password_reset": {"reset_url": "https://x/r"},
    "registration_attempted": {},
}


@pytest.mark.parametrize("moment", sorted(SUBJECTS))
def test_every_moment_renders_a_one_line_subject_text_and_html(moment: str) -> None:
    context = {
        "issue_id": "1",
        "title": "Pothole",
        "category": "pothole",
        "issue_url": "https://x/1",
        **CONTEXTS.get(moment, {}),
    }
    rendered = Renderer().render(moment, context, display_name="Ada", unsubscribe_url="https://x/u")
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert rendered.text.startswith("Hello Ada,")
    assert "https://x/u" in rendered.text
    assert "<html" in rendered.html


def test_html_is_escaped_and_text_is_not() -> None:
    context = {"issue_id": "1", "title": "<script>x</script>", "category": "c", "issue_url": "u", "comment": "a & b"}
    rendered = Renderer().render("comment_added", context)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "a &amp; b" in rendered.html
    assert "<script>x</script>" in rendered.text


def test_a_missing_template_variable_is_an_error_not_a_silent_blank() -> None:
    with pytest.raises(Exception, match="comment"):
        Renderer().render("comment_added", {"issue_id": "1", "title": "t", "category": "c", "issue_url": "u"})


def test_the_message_id_is_the_same_for_the_same_event_and_recipient() -> None:
    event, user = str(uuid7()), str(uuid7())
    key = delivery_key(event, user, "email")
    assert message_id(key, "snapfix.example") == message_id(delivery_key(event, user, "email"), "snapfix.example")
    assert message_id(key, "snapfix.example") != message_id(
        delivery_key(event, str(uuid7()), "email"), "snapfix.example"
    )
    assert message_id(key, "snapfix.example") != message_id(
        delivery_key(str(uuid7()), user, "email"), "snapfix.example"
    )


def notice(**data: str) -> Notice:
    return Notice(
        key="e:u:email", recipient_id="u", moment="resolved", title="Subject", text="Text", html="<p>H</p>", data=data
    )


def test_an_email_has_text_and_html_parts_and_one_click_unsubscribe_headers() -> None:
    msg = build_message(
        notice(email="ada@example.org", unsubscribe_url="https://x/u?token=t"),
        sender="SnapFix <no-reply@snapfix.example>",
        domain="snapfix.example",
        unsubscribe_mailto="unsubscribe@snapfix.example",
    )
    assert msg["To"] == "ada@example.org"
    assert msg["List-Unsubscribe"] == "<https://x/u?token=t>, <mailto:unsubscribe@snapfix.example?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Message-ID"] == message_id("e:u:email", "snapfix.example")
    assert [p.get_content_type() for p in msg.get_payload() if isinstance(p, Message)] == ["text/plain", "text/html"]


def test_a_non_ascii_subject_name_and_body_arrive_intact() -> None:
    hindi = Notice(
        key="e:u:email",
        recipient_id="u",
        moment="resolved",
        title="आपकी रिपोर्ट हल हो गई",
        text="नमस्ते अदा",
        html="<p>नमस्ते अदा</p>",
        data={"email": "ada@example.org", "display_name": "अदा"},
    )
    raw = build_message(hindi, sender="s@x.org", domain="x.org").as_bytes()
    assert raw.isascii()  # 7-bit on the wire: encoded words and base64 parts
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert str(parsed["Subject"]) == "आपकी रिपोर्ट हल हो गई"
    assert parsed["To"].addresses[0].display_name == "अदा"
    plain = parsed.get_body(preferencelist=("plain",))
    assert plain is not None
    assert plain.get_content().strip() == "नमस्ते अदा"


def test_an_account_email_has_no_unsubscribe_and_no_address_is_permanent() -> None:
    msg = build_message(notice(email="ada@example.org"), sender="s@x.org", domain="x.org")
    assert msg["List-Unsubscribe"] is None
    with pytest.raises(PermanentDeliveryError):
        build_message(notice(), sender="s@x.org", domain="x.org")


def test_unsubscribe_tokens_name_the_user_and_moment_and_cannot_be_forged() -> None:
    tokens = UnsubscribeTokens("x" * 40, base_url=BASE)
    read = tokens.read(tokens.token("u1", "resolved"))
    assert (read.user_id, read.moment) == ("u1", "resolved")
    assert tokens.read(tokens.token("u1", None)).moment is None
    with pytest.raises(InvalidToken):
        UnsubscribeTokens("y" * 40, base_url=BASE).read(tokens.token("u1", "resolved"))
    with pytest.raises(InvalidToken):
        tokens.read(tokens.token("u1", "resolved")[:-2] + "zz")
    assert tokens.url("u1", "resolved").startswith(f"{BASE}/v1/notifications/unsubscribe?token=")


def test_backoff_grows_with_attempts_within_its_bounds() -> None:
    for attempt in range(1, 10):
        ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
        delay = backoff_s(attempt, base_s=2.0, max_s=60.0)
        assert ceiling / 2 <= delay <= ceiling


def test_circle_cells_cover_the_circle() -> None:
    cells = geo.search_cells(52.52, 13.405, 800)
    for dlat, dlon in ((0.007, 0), (-0.007, 0), (0, 0.011), (0, -0.011)):  # ~780 m away
        assert any(p in cells for p in geo.prefixes(52.52 + dlat, 13.405 + dlon))
    assert geo.is_cell("u33dc0")
    assert not geo.is_cell("u33dc0cppz")


def test_notification_failed_round_trips_and_is_keyed_by_recipient() -> None:
    event = NotificationFailed(
        correlation_id="c",
        recipient_id=str(uuid4()),
        notification_key="e:u:email",
        channel="email",
        moment="resolved",
        cause_id="e",
        attempts=1,
        reason="permanent",
        error="550 no such user",
    )
    assert NOTIFY_EVENTS.validate_json(event.model_dump_json()) == event
    assert event.partition_key() == event.recipient_id
    with pytest.raises(ValueError, match="surprise"):
        NOTIFY_EVENTS.validate_python(event.model_dump(mode="json") | {"surprise": 1})
