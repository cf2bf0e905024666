"""APNs over HTTP/2 with a token key (.p8): aioapns, with the answers mapped to what follows.

aioapns signs the provider token (ES256 JWT: header ``kid`` the key id, claims ``iss`` the
team id and ``iat``; renewed every 30 minutes, within Apple's 20-60 minute window) and
keeps a pool of HTTP/2 connections to ``api.push.apple.com`` (or the sandbox with
``use_sandbox``). Its host and port are class attributes of the connection's protocol
class (``APNS_SERVER``, ``APNS_PORT``), with no constructor argument: ``server=`` swaps
the pool's ``protocol_class`` for a subclass naming another host (a local fake in the
tests, a proxy in a lab), so that the real client code, headers included, is what runs.

What APNs answers decides what follows: 410 ``Unregistered`` and 400 ``BadDeviceToken``:
the token is dead, the device is forgotten (``DeviceGone``); 429, 500, 503 and 403
``ExpiredProviderToken``: retried; anything else (``DeviceTokenNotForTopic``,
``InvalidProviderToken``, ``PayloadTooLarge`` ...): failed for good.

The .p8 key never leaves aioapns' signer and is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from uuid import uuid5

from aioapns import APNs, NotificationRequest, PushType
from aioapns import exceptions as apns_errors
from aioapns.common import NotificationResult
from aioapns.connection import APNsTLSClientProtocol

from snapfix_notify.channels import Notice, PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.channels.push.devices import Device
from snapfix_notify.channels.push.messages import PUSH_NAMESPACE, DeviceGone, PushMessage

log = logging.getLogger(__name__)

_GONE_REASONS = {"Unregistered", "BadDeviceToken"}
_RETRY_STATUSES = {"429", "500", "503"}
_RETRY_REASONS = {"ExpiredProviderToken", "TooManyRequests", "InternalServerError", "ServiceUnavailable", "Shutdown"}


def apns_ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Verifying TLS (the system's CAs, or ``ca_file``'s), offering HTTP/2 by ALPN as APNs expects."""
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])
    return context


def device_push_id(message_id: str, device: Device) -> str:
    """The ``apns-id`` of one device's copy: still derived from the notice (a retry sends the same), but
    unique per device, as APNs asks and aioapns needs (it matches answers to requests by this id)."""
    return str(uuid5(PUSH_NAMESPACE, f"{message_id}/{device.device_id}"))


def protocol_at(host: str, port: int) -> type[APNsTLSClientProtocol]:
    """aioapns' TLS protocol, speaking to ``host:port`` (its ``:authority``/``host`` header names it too)."""

    class ApnsServerProtocol(APNsTLSClientProtocol):
        APNS_SERVER = host
        APNS_PORT = port

    return ApnsServerProtocol


async def _no_default_log(_request: NotificationRequest, _result: NotificationResult) -> None:
    return None  # each answer is mapped (and logged once) by ApnsTransport.send


class ApnsTransport:
    """``PushTransport`` for ``apns`` devices: token-based APNs over HTTP/2 (aioapns)."""

    def __init__(
        self,
        *,
        key: str,
        key_id: str,
        team_id: str,
        topic: str,
        use_sandbox: bool = False,
        server: tuple[str, int] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout_s: float = 10.0,
        max_connections: int = 4,
    ) -> None:
        if "PRIVATE KEY" not in key:
            raise ValueError("the APNs key is not a PEM private key (the .p8 file's content)")
        self._key, self.key_id, self.team_id, self.topic = key, key_id, team_id, topic
        self.use_sandbox, self.server, self.timeout_s = use_sandbox, server, timeout_s
        self.max_connections = max_connections
        self._ssl_context = ssl_context
        self._client: APNs | None = None

    async def start(self) -> None:
        # Built here: aioapns binds its pool to the running loop.
        self._client = APNs(
            key=self._key,
            key_id=self.key_id,
            team_id=self.team_id,
            topic=self.topic,
            use_sandbox=self.use_sandbox,
            ssl_context=self._ssl_context or apns_ssl_context(),
            max_connections=self.max_connections,
            max_connection_attempts=2,
            err_func=_no_default_log,
        )
        if self.server is not None:
            self._client.pool.protocol_class = protocol_at(*self.server)

    async def close(self) -> None:
        if self._client is not None:
            self._client.pool.close()
            self._client = None

    async def send(self, device: Device, notice: Notice, message: PushMessage) -> None:
        if self._client is None:
            raise TransientDeliveryError("APNs transport not started")
        headers = message.headers
        request = NotificationRequest(
            device_token=device.token,
            message=message.body,
            notification_id=device_push_id(headers.get("apns-id", notice.key), device),
            priority=int(headers.get("apns-priority", "10")),
            collapse_key=headers.get("apns-collapse-id"),
            push_type=PushType(headers.get("apns-push-type", "alert")),
            apns_topic=headers.get("apns-topic") or self.topic,
        )
        # Shielded: a timed-out stream stays aioapns' to settle (its future is resolved when the answer or
        # the connection's end comes; cancelling it would break the connection's bookkeeping).
        pending = asyncio.ensure_future(self._client.send_notification(request))
        pending.add_done_callback(_consume)
        try:
            result = await asyncio.wait_for(asyncio.shield(pending), self.timeout_s)
        except TimeoutError as exc:
            raise TransientDeliveryError(f"APNs: no answer in {self.timeout_s:g}s") from exc
        except (apns_errors.ConnectionError, apns_errors.ConnectionClosed, apns_errors.MaxAttemptsExceeded) as exc:
            raise TransientDeliveryError(f"APNs unreachable: {type(exc).__name__}") from exc
        if result.is_successful:
            return
        status, reason = str(result.status), str(result.description or "")
        detail = f"APNs {status} {reason or '-'}"
        if status == "410" or reason in _GONE_REASONS:
            raise DeviceGone(detail)
        if status in _RETRY_STATUSES or reason in _RETRY_REASONS:
            raise TransientDeliveryError(detail)
        if reason in {"InvalidProviderToken", "DeviceTokenNotForTopic", "TopicDisallowed"}:
            log.error("%s: check SNAPFIX_APNS_KEY_ID, SNAPFIX_APNS_TEAM_ID and SNAPFIX_APNS_TOPIC", detail)
        raise PermanentDeliveryError(detail)


def _consume(task: asyncio.Future[NotificationResult]) -> None:
    # A shielded send that timed out may end later with an error nobody awaits: read it, no warning.
    if not task.cancelled():
        task.exception()
