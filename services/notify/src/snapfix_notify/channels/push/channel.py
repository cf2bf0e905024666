"""Mobile push as a channel: every registered device of the recipient gets the notice.

``PushChannel`` looks up the recipient's devices (``devices/``), builds each one's message
for its platform (``messages.py``) and hands it to the ``PushTransport`` the settings chose
(``transports.py``). A device its provider calls dead (FCM ``UNREGISTERED``, APNs 410 or
``BadDeviceToken``) is forgotten; 429/5xx answers are retried, not before their
``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging

from snapfix_notify.channels import Notice, PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.channels.push.devices import Device, DeviceRepository
from snapfix_notify.channels.push.messages import DeviceGone, PushBuilder
from snapfix_notify.channels.push.transports import PushTransport
from snapfix_notify.repository import StoreError

log = logging.getLogger(__name__)


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
