"""Push transports, chosen per platform by the settings: ``FcmTransport`` (fcm.py: FCM HTTP v1
with a service account's OAuth token), ``ApnsTransport`` (apns.py: APNs over HTTP/2 with a .p8
token key, via aioapns), or, in tests and on a laptop, ``WebhookPushTransport``: the built
message goes, signed like any webhook, to a relay URL (the webhook channel's sender).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from uuid import uuid5

from pydantic import SecretStr

from snapfix_notify.channels import Notice, PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.channels.push.apns import ApnsTransport, apns_ssl_context
from snapfix_notify.channels.push.devices import Device, Platform
from snapfix_notify.channels.push.fcm import FcmTransport, load_service_account
from snapfix_notify.channels.push.messages import PUSH_NAMESPACE, DeviceGone, PushMessage
from snapfix_notify.channels.webhook.policy import outcome
from snapfix_notify.channels.webhook.sender import WebhookSender
from snapfix_notify.config import NotifySettings

log = logging.getLogger(__name__)


class PushTransport(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, device: Device, notice: Notice, message: PushMessage, /) -> None:
        """Hand one message to the provider; raise Transient/PermanentDeliveryError (DeviceGone).
        Positional: a transport that needs only some of them names the others ``_``."""
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

    async def send(self, device: Device, _notice: Notice, _message: PushMessage) -> None:
        raise PermanentDeliveryError(
            f"push to {device.platform} devices is not configured in this deployment (SNAPFIX_PUSH_TRANSPORT, "
            f"SNAPFIX_PUSH_{device.platform.upper()})"
        )


def _read_secret(path: str | None, value: SecretStr | None) -> str:
    if path:
        return Path(path).read_text(encoding="utf-8")
    return value.get_secret_value() if value is not None else ""


def transport_for(settings: NotifySettings) -> PushTransport:
    """The senders the settings choose, per platform (push_fcm, push_apns, else push_transport)."""
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
