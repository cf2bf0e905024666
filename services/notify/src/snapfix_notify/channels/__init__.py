"""The channels a notification goes out on, behind one small interface: ``email.py`` (SMTP),
``in_app.py`` (the feed) and ``push/`` (FCM and APNs, with the device registry beside it).

A channel gets one rendered ``Notice`` for one recipient and either delivers it or raises
an error typed by what should happen next: retry later, or record the failure for good.
The dispatcher (``dispatch/``) owns the rest: the outbox, leases, the retry schedule and
``NotificationFailed``.

``webhook/`` is the integrators' channel: signed HTTP posts with their own subscription and
delivery log, plugged into the same engine (``dispatch/engine.py``) rather than the notices'
outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class TransientDeliveryError(Exception):
    """The provider may take it later (timeout, SMTP 4xx, HTTP 5xx): retry with backoff.

    ``retry_after_s``: the provider asked for no retry before this many seconds (``Retry-After``).
    """

    def __init__(self, *args: object, retry_after_s: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after_s = retry_after_s


class PermanentDeliveryError(Exception):
    """The provider will never take it (bad address, SMTP 5xx, no device): record, never retry."""


@dataclass(frozen=True)
class Notice:
    """One message for one recipient, rendered once, independent of the channel."""

    key: str
    """Deterministic per (event id, recipient, channel): the idempotency key providers see."""
    recipient_id: str
    moment: str
    """What happened, e.g. ``issue.status_changed``; preferences are per moment."""
    title: str
    text: str
    html: str | None = None
    link: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    async def deliver(self, notice: Notice) -> None:
        """Hand the notice to the provider; raise Transient/PermanentDeliveryError when it fails."""
        ...
