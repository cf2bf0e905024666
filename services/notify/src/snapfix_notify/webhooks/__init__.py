"""Webhooks for integrators, and the push device registry and channel that ride on their transport.

``install`` wires the whole part into the notify service in one call: its documents,
the ``notify-webhooks`` consumer of ``issues.events.v1``, the delivery loop, the admin
API (``/v1/admin/webhooks``), the device API (``/v1/me/devices``) and ``PushChannel``
(``app.state.webhooks.push``) for the notification pipeline to deliver push notices with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI

from snapfix_notify.claims import DueQueue
from snapfix_notify.config import NotifySettings
from snapfix_notify.devices import Device, DeviceRepository
from snapfix_notify.devices import api as devices_api
from snapfix_notify.webhooks import api, consumers
from snapfix_notify.webhooks.dispatcher import Dispatcher
from snapfix_notify.webhooks.models import DeliveryStep, WebhookDelivery, WebhookEndpoint
from snapfix_notify.webhooks.policy import DisablePolicy, RetryPolicy
from snapfix_notify.webhooks.repository import DeliveryRepository, EndpointRepository
from snapfix_notify.webhooks.sender import WebhookSender
from snapfix_shared.kafka import publish
from snapfix_shared.messages import NotificationFailed
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

if TYPE_CHECKING:  # push.py rides on this package's sender: imported when installing, not before
    from snapfix_notify.push import PushChannel, PushTransport

DOCUMENTS = (WebhookEndpoint, WebhookDelivery, DeliveryStep, Device)


@dataclass(frozen=True)
class WebhooksPart:
    settings: NotifySettings
    endpoints: EndpointRepository
    deliveries: DeliveryRepository
    devices: DeviceRepository
    dispatcher: Dispatcher
    push: PushChannel
    push_transport: PushTransport


def install(runtime: Runtime, app: FastAPI, settings: NotifySettings) -> WebhooksPart:
    from snapfix_notify.push import PushBuilder, PushChannel, transport_for

    runtime.documents.extend(d for d in DOCUMENTS if d not in runtime.documents)
    endpoints, deliveries, devices = EndpointRepository(), DeliveryRepository(), DeviceRepository()
    sender = WebhookSender(
        timeout_s=settings.webhook_timeout_s,
        max_connections=settings.webhook_concurrency,
        allow_private=settings.webhook_allow_private,
        https_only=settings.webhook_https_only,
    )

    async def announce(event: NotificationFailed) -> None:
        await publish(
            runtime.broker, Topic.NOTIFY_EVENTS, event, source=runtime.source, timeout_s=runtime.publish_timeout_s
        )

    assert runtime.redis is not None, "the webhook due queue lives in Redis"
    dispatcher = Dispatcher(
        endpoints,
        deliveries,
        sender,
        # Namespaced by database: the queue indexes that database's deliveries.
        queue=DueQueue(runtime.redis, f"notify:{settings.mongo_database}:webhooks:due"),
        retry=RetryPolicy(
            base_s=settings.webhook_backoff_base_s,
            max_s=settings.webhook_backoff_max_s,
            jitter_s=settings.webhook_backoff_jitter_s,
            max_attempts=settings.webhook_max_attempts,
        ),
        disable=DisablePolicy(
            after_failures=settings.webhook_disable_after_failures, after_s=settings.webhook_disable_after_s
        ),
        concurrency=settings.webhook_concurrency,
        store_concurrency=settings.webhook_store_concurrency,
        poll_s=settings.webhook_poll_s,
        # A delivery taken but never finished (a crash) is due again once its attempt surely timed out.
        lease_s=settings.webhook_timeout_s + 30,
        announce=announce,
    )
    transport = transport_for(settings)
    push = PushChannel(devices, transport, PushBuilder(apns_topic=settings.apns_topic))

    async def start() -> None:
        await sender.open()
        await transport.start()
        await dispatcher.start()

    async def stop() -> None:
        await dispatcher.stop()
        await sender.close()

    runtime.on_startup.append(start)
    runtime.on_shutdown.append(stop)
    # The notification consumers may push until they stopped.
    runtime.after_stop.append(transport.close)

    handler = consumers.WebhookEventsHandler(runtime, endpoints, deliveries, dispatcher, group=settings.webhooks_group)
    consumers.register(runtime, handler, group=settings.webhooks_group, batch=settings.events_batch)
    app.include_router(api.router)
    app.include_router(devices_api.router)
    part = WebhooksPart(settings, endpoints, deliveries, devices, dispatcher, push, transport)
    app.state.webhooks = part
    return part
