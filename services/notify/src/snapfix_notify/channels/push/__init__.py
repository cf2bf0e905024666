"""Mobile push: the channel (``channel.py``), its payloads (``messages.py``), its transports
(``transports.py``: ``fcm.py``, ``apns.py``, the relay) and the device registry it reads
(``devices/``: document, queries, the ``/v1/me/devices`` routes).

``install`` wires it into the notify service in one call: the device document, the device
API and ``PushChannel`` (``app.state.push.channel``), which the caller plugs into the
dispatcher's channels.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from snapfix_notify.channels.push.channel import PushChannel
from snapfix_notify.channels.push.devices import Device, DeviceRepository
from snapfix_notify.channels.push.devices import api as devices_api
from snapfix_notify.channels.push.messages import PushBuilder
from snapfix_notify.channels.push.transports import PushTransport, transport_for
from snapfix_notify.config import NotifySettings
from snapfix_shared.runtime import Runtime

DOCUMENTS = (Device,)


@dataclass(frozen=True)
class PushPart:
    devices: DeviceRepository
    channel: PushChannel
    transport: PushTransport


def install(runtime: Runtime, app: FastAPI, settings: NotifySettings) -> PushPart:
    runtime.documents.extend(d for d in DOCUMENTS if d not in runtime.documents)
    devices = DeviceRepository()
    transport = transport_for(settings)
    channel = PushChannel(devices, transport, PushBuilder(apns_topic=settings.apns_topic))
    runtime.on_startup.append(transport.start)
    # The notification consumers may push until they stopped.
    runtime.after_stop.append(transport.close)
    app.include_router(devices_api.router)
    part = PushPart(devices, channel, transport)
    app.state.push = part
    return part
