"""Mobile push as a channel: FCM HTTP v1 and APNs payloads behind one interface, and their transports.

``PushChannel`` looks up the recipient's registered devices, builds each one's message
for its platform and hands it to a ``PushTransport``, chosen per platform by the settings:
``FcmTransport`` (push_fcm.py: FCM HTTP v1 with a service account's OAuth token),
``ApnsTransport`` (push_apns.py: APNs over HTTP/2 with a .p8 token key, via aioapns), or,
in tests and on a laptop, ``WebhookPushTransport``: the built message goes, signed like
any webhook, to a relay URL. A device its provider calls dead (FCM ``UNREGISTERED``, APNs
410 or ``BadDeviceToken``) is forgotten; 429/5xx answers are retried, not before their
``Retry-After``.

A repeat (a retried notice after some devices took it) replaces the first on the phone:
both platforms get a collapse id per issue, and the APNs ``apns-id`` and the FCM
``data.key`` are derived from the notice's deterministic key.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID, uuid5

from pydantic import SecretStr

from snapfix_notify.channels import Notice, PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.config import NotifySettings
from snapfix_notify.devices import Device, DeviceRepository, Platform
from snapfix_notify.repository import StoreError
from snapfix_notify.webhooks.policy import outcome
from snapfix_notify.webhooks.sender import WebhookSender

log = logging.getLogger(__name__)

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


class PushTransport(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, device: Device, notice: Notice, message: PushMessage) -> None:
        """Hand one message to the provider; raise Transient/PermanentDeliveryError (DeviceGone)."""
        ...


class WebhookPushTransport:
    """Tests and local runs: each built message goes to ``relay_url`` as a signed webhook.

    The body is ``{type: "push.fcm"|"push.apns", timestamp, data: {user_id, device_id,
    headers, path, message}}``; the ``webhook-id`` is stable per (notice, device).
    """

    def __init__(self, sender: WebhookSender, relay_url: str, secret: str) -> None:
        self.sender, self.relay_url, self.secret = sender, relay_url, secret

    async def start(self) -> None:
        await self.sender.open()

    async def close(self) -> None:
        await self.sender.close()

    async def send(self, device: Device, notice: Notice, message: PushMessage) -> None:
        body = {
            "type": f"push.{message.platform}",
            "timestamp": datetime.now(UTC).isoformat(),
            "data": {
                "user_id": device.user_id,
                "device_id": device.device_id,
                "headers": message.headers,
                "path": message.path,
                "message": message.body,
            },
        }
        webhook_id = f"push_{uuid5(PUSH_NAMESPACE, f'{notice.key}/{device.device_id}').hex}"
        attempt = await self.sender.send(self.relay_url, self.secret, webhook_id, json.dumps(body))
        match outcome(attempt.status):
            case "delivered":
                return
            case "retry":
                raise TransientDeliveryError(f"push relay: {attempt.error}")
            case "gone":
                raise DeviceGone(f"push relay: device {device.device_id} is gone")
            case _:
                raise PermanentDeliveryError(f"push relay refused: {attempt.error}")


class PlatformTransport:
    """Each platform's devices to that platform's sender (FCM, APNs, the relay or none: the settings choose)."""

    def __init__(self, by_platform: dict[Platform, PushTransport]) -> None:
        self.by_platform = by_platform

    async def start(self) -> None:
        for transport in {id(t): t for t in self.by_platform.values()}.values():  # a shared relay starts once
            await transport.start()

    async def close(self) -> None:
        for transport in {id(t): t for t in self.by_platform.values()}.values():
            await transport.close()

    async def send(self, device: Device, notice: Notice, message: PushMessage) -> None:
        await self.by_platform[device.platform].send(device, notice, message)


class NoPushTransport:
    """Push is switched off in this deployment: every push notice fails for good, visibly."""

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, device: Device, notice: Notice, message: PushMessage) -> None:
        raise PermanentDeliveryError(
            f"push to {device.platform} devices is not configured in this deployment (SNAPFIX_PUSH_TRANSPORT, "
            f"SNAPFIX_PUSH_{device.platform.upper()})"
        )


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


def _read_secret(path: str | None, value: SecretStr | None) -> str:
    if path:
        return Path(path).read_text(encoding="utf-8")
    return value.get_secret_value() if value is not None else ""


def transport_for(settings: NotifySettings) -> PushTransport:
    """The senders the settings choose, per platform (push_fcm, push_apns, else push_transport)."""
    from snapfix_notify.push_apns import ApnsTransport, apns_ssl_context
    from snapfix_notify.push_fcm import FcmTransport, load_service_account

    platforms: tuple[Platform, ...] = ("fcm", "apns")
    senders = {platform: settings.push_sender(platform) for platform in platforms}
    relay: PushTransport | None = None
    if "relay" in senders.values():
        if not settings.push_relay_url:
            raise ValueError("a push relay (SNAPFIX_PUSH_TRANSPORT=relay) needs SNAPFIX_PUSH_RELAY_URL")
        sender = WebhookSender(
            timeout_s=settings.webhook_timeout_s,
            max_connections=settings.webhook_concurrency,
            allow_private=True,  # the relay is the operator's own, often inside the deployment
        )
        relay = WebhookPushTransport(sender, settings.push_relay_url, settings.push_relay_secret)
    by_platform: dict[Platform, PushTransport] = {}
    for platform, chosen in senders.items():
        transport: PushTransport
        if chosen == "relay" and relay is not None:
            transport = relay
        elif chosen == "fcm":
            info = load_service_account(
                _read_secret(settings.fcm_service_account_file, settings.fcm_service_account_json)
            )
            transport = FcmTransport(
                info,
                project_id=settings.fcm_project_id,
                base_url=settings.fcm_base_url,
                timeout_s=settings.push_timeout_s,
                max_connections=settings.webhook_concurrency,
            )
        elif chosen == "apns":
            server = None
            if settings.apns_server:
                host, _, port = settings.apns_server.rpartition(":")
                server = (host, int(port))
            transport = ApnsTransport(
                key=_read_secret(settings.apns_key_file, settings.apns_key),
                key_id=settings.apns_key_id or "",
                team_id=settings.apns_team_id or "",
                topic=settings.apns_topic,
                use_sandbox=settings.apns_use_sandbox,
                server=server,
                ssl_context=apns_ssl_context(settings.apns_ca_file),
                timeout_s=settings.push_timeout_s,
            )
        else:
            transport = NoPushTransport()
        by_platform[platform] = transport
    log.info("push senders: fcm -> %s, apns -> %s", senders["fcm"], senders["apns"])
    return PlatformTransport(by_platform)


class PushChannel:
    """``channels.Channel`` for mobile push: every registered device of the recipient gets the notice."""

    name = "push"

    def __init__(self, devices: DeviceRepository, transport: PushTransport, builder: PushBuilder) -> None:
        self.devices, self.transport, self.builder = devices, transport, builder

    async def deliver(self, notice: Notice) -> None:
        try:
            devices = await self.devices.of_user(notice.recipient_id)
        except StoreError as exc:
            raise TransientDeliveryError(f"devices cannot be read: {exc}") from exc
        if not devices:
            raise PermanentDeliveryError("no registered device")
        results = await asyncio.gather(
            *(self.transport.send(d, notice, self.builder.build(d, notice)) for d in devices), return_exceptions=True
        )
        transient: list[str] = []
        permanent: list[str] = []
        not_before: list[float] = []
        for device, result in zip(devices, results, strict=True):
            if isinstance(result, DeviceGone):
                await self._forget(device)
            if isinstance(result, PermanentDeliveryError):
                permanent.append(f"{device.device_id}: {result}")
            elif isinstance(result, TransientDeliveryError):
                transient.append(f"{device.device_id}: {result}")
                if result.retry_after_s is not None:
                    not_before.append(result.retry_after_s)
            elif isinstance(result, BaseException):
                raise result
        if transient:  # retried whole; a device that took it already shows the repeat in the same slot
            raise TransientDeliveryError("; ".join(transient), retry_after_s=max(not_before, default=None))
        if len(permanent) == len(devices):
            raise PermanentDeliveryError("; ".join(permanent))
        for failure in permanent:
            log.info("push notice %s not delivered to %s", notice.key, failure)

    async def _forget(self, device: Device) -> None:
        try:
            await self.devices.remove(device.user_id, device.device_id)
        except StoreError:
            log.warning("could not forget the gone device %s of %s", device.device_id, device.user_id)
