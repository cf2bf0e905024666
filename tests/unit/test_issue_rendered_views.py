"""Detail views as stored bytes: the ETag covers everything a view depends on, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from snapfix_issues import rendered
from snapfix_shared.conditional import etag_matches
from snapfix_shared.viewer import Viewer

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ISSUE = {"reporter_id": "u-reporter", "anonymous": True, "status": "open", "due_at": None}


def test_the_kind_of_viewer_is_what_the_view_shows_them() -> None:
    assert rendered.viewer_kind(ISSUE, Viewer(user_id="u-reporter", role="citizen")) == "visible"
    assert rendered.viewer_kind(ISSUE, Viewer(user_id="u-other", role="citizen")) == "hidden"
    assert rendered.viewer_kind(ISSUE, Viewer()) == "hidden"
    assert rendered.viewer_kind(ISSUE, Viewer(user_id="u-crew", role="staff")) == "staff"
    assert rendered.viewer_kind({**ISSUE, "anonymous": False}, Viewer()) == "visible"


def test_overdue_follows_the_clock_and_the_status() -> None:
    due = {**ISSUE, "due_at": (NOW - timedelta(minutes=1)).isoformat()}
    assert rendered.overdue(due, NOW)
    assert not rendered.overdue(due, NOW - timedelta(minutes=2))
    assert not rendered.overdue({**due, "status": "resolved"}, NOW)
    assert not rendered.overdue(ISSUE, NOW)


def test_only_an_anonymous_visitors_view_is_shared_and_never_past_the_moment_it_turns_overdue() -> None:
    anyone = Viewer()
    assert rendered.cache_control(ISSUE, anyone, NOW, 5) == "public, max-age=5"
    assert rendered.cache_control(ISSUE, Viewer(user_id="u-other", role="citizen"), NOW, 5) == "private, no-cache"
    assert rendered.cache_control(ISSUE, Viewer(user_id="u-crew", role="staff"), NOW, 5) == "private, no-cache"
    assert rendered.cache_control(ISSUE, anyone, NOW, 0) == "private, no-cache"  # sharing turned off
    soon = {**ISSUE, "due_at": (NOW + timedelta(seconds=3)).isoformat()}
    assert rendered.cache_control(soon, anyone, NOW, 5) == "public, max-age=3"
    assert rendered.cache_control(soon, anyone, NOW + timedelta(seconds=2, milliseconds=500), 5) == "private, no-cache"
    later = {**ISSUE, "due_at": (NOW + timedelta(hours=1)).isoformat()}
    assert rendered.cache_control(later, anyone, NOW, 5) == "public, max-age=5"
    past = {**ISSUE, "due_at": (NOW - timedelta(hours=1)).isoformat()}  # overdue already: it stays so
    assert rendered.cache_control(past, anyone, NOW, 5) == "public, max-age=5"


def test_the_tag_changes_with_each_input() -> None:
    base = rendered.etag(b'{"issue":1}', "hidden", False, [])
    assert base == rendered.etag(b'{"issue":1}', "hidden", False, [])
    assert base[0] == base[-1] == '"'  # a strong entity tag
    others = {
        rendered.etag(b'{"issue":2}', "hidden", False, []),
        rendered.etag(b'{"issue":1}', "staff", False, []),
        rendered.etag(b'{"issue":1}', "hidden", True, []),
        rendered.etag(b'{"issue":1}', "hidden", False, [{"id": "m", "status": "processed"}]),
    }
    assert base not in others
    assert len(others) == 4


def test_if_none_match_is_compared_weakly() -> None:
    tag = rendered.etag(b"x", "staff", False, [])
    assert etag_matches(tag, tag)
    assert etag_matches(f'"other", W/{tag}', tag)
    assert etag_matches("*", tag)
    assert not etag_matches('"other"', tag)
    assert not etag_matches(None, tag)


def test_the_least_recently_used_view_goes_first_within_a_byte_budget() -> None:
    views = rendered.RenderedViews(max_bytes=20, max_view_bytes=10)
    views.put("a", b"A" * 8)
    views.put("b", b"B" * 8)
    assert views.get("a") == b"A" * 8  # now the most recent
    views.put("c", b"C" * 8)  # 24 bytes: the least recently used goes
    assert (views.get("a"), views.get("b"), views.get("c")) == (b"A" * 8, None, b"C" * 8)
    assert views.bytes == 16


def test_a_view_too_large_to_keep_is_not_kept() -> None:
    views = rendered.RenderedViews(max_bytes=100, max_view_bytes=10)
    views.put("big", b"x" * 11)
    views.put("small", b"y" * 10)
    assert (views.get("big"), views.get("small"), views.bytes) == (None, b"y" * 10, 10)
