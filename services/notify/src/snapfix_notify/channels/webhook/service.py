"""What the ``notify-webhooks`` consumer (``consumers.py``) does with an issue event: one delivery
record per (event, matching endpoint), stored and scheduled before the batch is committed.

Idempotent: a delivery's id is derived from the event's ``message_id`` and the endpoint id, so a
redelivered event records nothing twice and whatever the first try recorded but did not send is
still pending and gets sent. No Kafka here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from snapfix_notify.channels.webhook.dispatcher import Dispatcher
from snapfix_notify.channels.webhook.models import WebhookDelivery, WebhookEndpoint
from snapfix_notify.channels.webhook.payloads import matches, payload
from snapfix_notify.channels.webhook.repository import DeliveryRepository, EndpointRepository
from snapfix_shared.messages import IssueEvent


def delivery_id(event_id: UUID, endpoint_id: UUID) -> str:
    """Unique per (event, endpoint); sorts by the event's time (UUIDv7) and is the ``webhook-id``."""
    return f"msg_{event_id.hex}_{endpoint_id.hex}"


def deliveries_for(event: IssueEvent, endpoints: Sequence[WebhookEndpoint], at: datetime) -> list[WebhookDelivery]:
    """The deliveries an event calls for: endpoints whose filter takes it, registered before it occurred."""
    body = payload(event)
    if body is None:
        return []
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    # model_construct: every field is typed here, and it needs no bound database (unit tests).
    return [
        WebhookDelivery.model_construct(
            id=delivery_id(event.message_id, endpoint.id),
            endpoint_id=endpoint.id,
            event_id=event.message_id,
            event_type=event.type,
            body=text,
            created_at=at,
            next_attempt_at=at,
        )
        for endpoint in endpoints
        if matches(endpoint.event_types, event.type) and event.occurred_at >= endpoint.created_at
    ]


class WebhookEvents:
    def __init__(self, endpoints: EndpointRepository, deliveries: DeliveryRepository, dispatcher: Dispatcher) -> None:
        self.endpoints, self.deliveries, self.dispatcher = endpoints, deliveries, dispatcher

    async def record(self, deliveries: list[WebhookDelivery]) -> None:
        """Store, then schedule: both before the batch is committed."""
        fresh = await self.deliveries.record_all(deliveries)
        await self.dispatcher.submit(deliveries, fresh)
