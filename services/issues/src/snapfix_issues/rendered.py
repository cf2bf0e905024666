"""Issue details served as stored bytes: rendered once per state and kind of viewer, with an ETag.

A detail view depends on the issue's read-model entry (the bytes Redis holds), on who asks
(staff; someone the reporter is visible to; someone it is hidden from), on whether it is
overdue now, and on its photos' states. The digest of those is the view's ETag and the key
of its rendered bytes in a bounded in-process map: a repeated read re-renders nothing,
re-validates nothing, and a client that has it gets 304. An anonymous visitor's view is the
same for every anonymous visitor: it is marked ``public, max-age`` (a few seconds), so the
gateway's edge cache (and nginx or a CDN) serve it again without asking.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import datetime
from typing import Any

import orjson

from snapfix_issues.rules import overdue_at
from snapfix_issues.views import reporter_shown
from snapfix_shared.viewer import Viewer

# A signed-in viewer's view is theirs: no shared cache keeps it; a client revalidates with its ETag.
PRIVATE = "private, no-cache"
# Bounded by bytes, not count: an issue with many comments renders to far more than most.
MAX_BYTES = 16 * 1024 * 1024
MAX_VIEW_BYTES = 256 * 1024  # a larger view is rendered each time, never kept


def viewer_kind(issue: dict[str, Any], viewer: Viewer) -> str:
    """What of the issue ``viewer`` may see (``views.detail`` decides on no more than this)."""
    if viewer.is_staff:
        return "staff"
    shown = reporter_shown(anonymous=bool(issue.get("anonymous")), reporter_id=issue.get("reporter_id"), viewer=viewer)
    return "visible" if shown else "hidden"


def overdue(issue: dict[str, Any], now: datetime) -> bool:
    due = issue.get("due_at")
    return overdue_at(datetime.fromisoformat(due) if due else None, issue.get("status", ""), now)


def cache_control(issue: dict[str, Any], viewer: Viewer, now: datetime, public_max_age_s: int) -> str:
    """``private, no-cache`` for a signed-in viewer (the view may be theirs alone); for an anonymous
    visitor, whose view is every anonymous visitor's, ``public, max-age`` of at most
    ``public_max_age_s``, and never past the moment the issue turns overdue (its view changes then)."""
    if viewer.signed_in or public_max_age_s <= 0:
        return PRIVATE
    fresh_s = public_max_age_s
    due = issue.get("due_at")
    if due and not overdue(issue, now):
        fresh_s = min(fresh_s, int((datetime.fromisoformat(due) - now).total_seconds()))
    return f"public, max-age={fresh_s}" if fresh_s > 0 else PRIVATE


def etag(entry: bytes, kind: str, is_overdue: bool, photos: list[dict[str, Any]]) -> str:
    digest = hashlib.blake2b(entry, digest_size=16)
    digest.update(f"|{kind}|{int(is_overdue)}|".encode())
    digest.update(orjson.dumps(photos))
    return f'"{digest.hexdigest()}"'


class RenderedViews:
    """The rendered bytes of recent detail views, by ETag (least recently used dropped first)."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_view_bytes: int = MAX_VIEW_BYTES) -> None:
        self.max_bytes, self.max_view_bytes = max_bytes, max_view_bytes
        self.bytes = 0
        self._views: OrderedDict[str, bytes] = OrderedDict()

    def get(self, tag: str) -> bytes | None:
        body = self._views.get(tag)
        if body is not None:
            self._views.move_to_end(tag)
        return body

    def put(self, tag: str, body: bytes) -> None:
        if len(body) > self.max_view_bytes or tag in self._views:
            return
        self._views[tag] = body
        self.bytes += len(body)
        while self.bytes > self.max_bytes:
            _, dropped = self._views.popitem(last=False)
            self.bytes -= len(dropped)
