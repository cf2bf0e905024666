"""The push device registry: its document (``models.py``), its queries (``repository.py``)
and the signed-in user's routes (``api.py``, ``/v1/me/devices``)."""

from snapfix_notify.channels.push.devices.models import Device, Platform
from snapfix_notify.channels.push.devices.repository import DeviceRepository, device_key

__all__ = ["Device", "DeviceRepository", "Platform", "device_key"]
