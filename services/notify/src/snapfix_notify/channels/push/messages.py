"""What goes to a phone: FCM HTTP v1 and APNs payloads for a notice, and what providers answer.

A repeat (a retried notice after some devices took it) replaces the first on the phone:
both platforms get a collapse id per issue, and the APNs ``apns-id`` and the FCM
``data.key`` are derived from the notice's deterministic key. A device its provider calls
dead is ``DeviceGone`` (forgotten by the channel); ``retry_after_s`` reads a provider's
``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from uuid import UUID, uuid5

from snapfix_notify.channels import Notice, PermanentDeliveryError
from snapfix_notify.channels.push.devices import Device, Platform

# uuid5 namespace of push message ids: the same notice always gets the same apns-id.
PUSH_NAMESPACE = UUID("7b0e6a52-3f4c-5d1e-9a60-5e7c2d9b8f11")
MAX_TEXT = 1000  # keeps APNs under its 4 KB payload limit and FCM under its own
MAX_COLLAPSE_BYTES = 64  # apns-collapse-id's limit


@dataclass(frozen=True)
class PushMessage:
    """What goes to one device's provider: the JSON body and the request headers."""

    platform: Platform
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    """APNs addresses the device in the path; FCM names it in the body."""


def push_id(notice: Notice) -> str:
    """A UUID derived from the notice's key: the APNs ``apns-id``."""
    return str(uuid5(PUSH_NAMESPACE, notice.key))


def collapse_id(notice: Notice) -> str:
    """One slot per issue on the phone (a newer notice about it replaces the older), else per moment."""
    return (notice.data.get("issue_id") or notice.moment)[:MAX_COLLAPSE_BYTES]


def _custom(notice: Notice) -> dict[str, str]:
    data = {str(k): str(v) for k, v in notice.data.items()}
    data |= {"key": notice.key, "moment": notice.moment}
    if notice.link:
        data["link"] = notice.link
    return data


def fcm_message(notice: Notice, token: str) -> PushMessage:
    """The FCM HTTP v1 ``messages:send`` body (``{"message": {...}}``)."""
    collapse = collapse_id(notice)
    body = {
        "message": {
            "token": token,
            "notification": {"title": notice.title, "body": notice.text[:MAX_TEXT]},
            "data": _custom(notice),  # FCM takes string values only
            "android": {
                "collapse_key": collapse,
                "priority": "HIGH",
                "notification": {"tag": collapse},
            },
            "apns": {"headers": {"apns-collapse-id": collapse, "apns-priority": "10"}},
        }
    }
    return PushMessage("fcm", body)


def apns_message(notice: Notice, token: str, *, topic: str) -> PushMessage:
    """The APNs JSON payload and its request headers (``POST /3/device/<token>``)."""
    collapse = collapse_id(notice)
    body: dict[str, Any] = {
        "aps": {
            "alert": {"title": notice.title, "body": notice.text[:MAX_TEXT]},
            "sound": "default",
            "thread-id": collapse,
        },
        **_custom(notice),
    }
    headers = {
        "apns-push-type": "alert",
        "apns-id": push_id(notice),
        "apns-collapse-id": collapse,
        "apns-topic": topic,
        "apns-priority": "10",
    }
    return PushMessage("apns", body, headers, path=f"/3/device/{token}")


class PushBuilder:
    """The one interface over both payload formats: a notice for a device -> its provider's message."""

    def __init__(self, *, apns_topic: str) -> None:
        self._builders: dict[Platform, Callable[[Notice, str], PushMessage]] = {
            "fcm": fcm_message,
            "apns": lambda notice, token: apns_message(notice, token, topic=apns_topic),
        }

    def build(self, device: Device, notice: Notice) -> PushMessage:
        return self._builders[device.platform](notice, device.token)


class DeviceGone(PermanentDeliveryError):
    """The provider no longer knows this device (uninstalled app, expired token): forget it."""


MAX_RETRY_AFTER_S = 24 * 3600.0


def retry_after_s(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)
