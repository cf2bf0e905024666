"""Webhooks for integrators.

``install`` wires the whole part into the notify service in one call: its documents,
the ``notify-webhooks`` consumer of ``issues.events.v1``, its plug on the delivery engine and the admin
API (``/v1/admin/webhooks``). Push (``channels/push/``) reuses this part's signed sender
for its relay transport; nothing here imports push.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from snapfix_notify.claims import DueQueue
from snapfix_notify.config import NotifySettings
from snapfix_notify.dispatch.engine import announcer
from snapfix_notify.webhooks import api, consumers
from snapfix_notify.webhooks.dispatcher import Dispatcher
from snapfix_notify.webhooks.models import DeliveryStep, WebhookDelivery, WebhookEndpoint
from snapfix_notify.webhooks.policy import DisablePolicy, RetryPolicy
from snapfix_notify.webhooks.repository import DeliveryRepository, EndpointRepository
from snapfix_notify.webhooks.sender import WebhookSender
from snapfix_shared.runtime import Runtime

DOCUMENTS = (WebhookEndpoint, WebhookDelivery, DeliveryStep)


@dataclass(frozen=True)
class WebhooksPart:
    settings: NotifySettings
    endpoints: EndpointRepository
    deliveries: DeliveryRepository
    dispatcher: Dispatcher


def install(runtime: Runtime, app: FastAPI, settings: NotifySettings) -> WebhooksPart:
    runtime.documents.extend(d for d in DOCUMENTS if d not in runtime.documents)
    endpoints, deliveries = EndpointRepository(), DeliveryRepository()
    sender = WebhookSender(
        timeout_s=settings.webhook_timeout_s,
        max_connections=settings.webhook_concurrency,
        allow_private=settings.webhook_allow_private,
        https_only=settings.webhook_https_only,
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
        announce=announcer(runtime),  # NotificationFailed on notify.events.v1, as the notices' are
    )

    async def start() -> None:
        await sender.open()
        await dispatcher.start()

    async def stop() -> None:
        await dispatcher.stop()
        await sender.close()

    runtime.on_startup.append(start)
    runtime.on_shutdown.append(stop)

    handler = consumers.WebhookEventsHandler(runtime, endpoints, deliveries, dispatcher, group=settings.webhooks_group)
    consumers.register(runtime, handler, group=settings.webhooks_group, batch=settings.events_batch)
    app.include_router(api.router)
    part = WebhooksPart(settings, endpoints, deliveries, dispatcher)
    app.state.webhooks = part
    return part
