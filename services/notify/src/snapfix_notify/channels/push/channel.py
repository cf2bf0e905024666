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
from dataclasses import dataclass, field

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
        devices = await self._devices_of(notice)
        results = await asyncio.gather(
            *(self.transport.send(d, notice, self.builder.build(d, notice)) for d in devices), return_exceptions=True
        )
        failures = _Failures()
        for device, result in zip(devices, results, strict=True):
            if isinstance(result, DeviceGone):
                await self._forget(device)
            failures.add(device, result)
        if failures.transient:  # retried whole; a device that took it already shows the repeat in the same slot
            raise TransientDeliveryError(
                "; ".join(failures.transient), retry_after_s=max(failures.not_before, default=None)
            )
        if len(failures.permanent) == len(devices):
            raise PermanentDeliveryError("; ".join(failures.permanent))
        for failure in failures.permanent:
            log.info("push notice %s not delivered to %s", notice.key, failure)

    async def _devices_of(self, notice: Notice) -> list[Device]:
        """The recipient's registered devices; none is a permanent failure, a store that does not answer a
        transient one."""
        try:
            devices = await self.devices.of_user(notice.recipient_id)
        except StoreError as exc:
            raise TransientDeliveryError(f"devices cannot be read: {exc}") from exc
        if not devices:
            raise PermanentDeliveryError("no registered device")
        return devices

    async def _forget(self, device: Device) -> None:
        try:
            await self.devices.remove(device.user_id, device.device_id)
        except StoreError:
            log.warning("could not forget the gone device %s of %s", device.device_id, device.user_id)


@dataclass
class _Failures:
    """The devices a notice did not reach, by what should happen next; any other error is raised."""

    transient: list[str] = field(default_factory=list)
    permanent: list[str] = field(default_factory=list)
    not_before: list[float] = field(default_factory=list)  # the providers' Retry-After, in seconds

    def add(self, device: Device, result: BaseException | None) -> None:
        if isinstance(result, PermanentDeliveryError):
            self.permanent.append(f"{device.device_id}: {result}")
        elif isinstance(result, TransientDeliveryError):
            self.transient.append(f"{device.device_id}: {result}")
            if result.retry_after_s is not None:
                self.not_before.append(result.retry_after_s)
        elif isinstance(result, BaseException):
            raise result
