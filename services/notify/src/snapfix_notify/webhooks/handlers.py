"""Subscriber of ``issues.events.v1`` (group ``notify-webhooks``): one delivery record per
(event, matching endpoint), stored before anything is sent.

The batch is committed only after its records are stored; sending is the dispatcher's
job, from the records. Idempotent: a delivery's id is derived from the event's
``message_id`` and the endpoint id, so a redelivered event records nothing twice and
whatever the first try recorded but did not send is still pending and gets sent. A
record that is not JSON, or a followed event that does not validate, goes to the
dead-letter topic; event types never published to integrators are skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiokafka import ConsumerRecord
from pymongo.errors import PyMongoError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from snapfix_notify.webhooks.dispatcher import Dispatcher
from snapfix_notify.webhooks.models import WebhookDelivery, WebhookEndpoint
from snapfix_notify.webhooks.payloads import PUBLISHED_TYPES, matches, payload
from snapfix_notify.webhooks.repository import DeliveryRepository, EndpointRepository
from snapfix_shared.consuming import BatchConsumer, subscribe_batches
from snapfix_shared.messages import ISSUE_EVENTS, IssueEvent
from snapfix_shared.redis_client import RedisBusy
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)
Record = ConsumerRecord[Any, Any]
# The store is unreachable for a while: wait, then leave the batch uncommitted.
TRANSIENT = (PyMongoError, RedisConnectionError, RedisTimeoutError, RedisBusy)


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


class WebhookEventsHandler:
    def __init__(
        self,
        runtime: Runtime,
        endpoints: EndpointRepository,
        deliveries: DeliveryRepository,
        dispatcher: Dispatcher,
        *,
        group: str,
    ) -> None:
        # Types never sent to integrators (or newer than this service) are skipped.
        self.consumer = BatchConsumer(runtime, group, ISSUE_EVENTS, TRANSIENT, PUBLISHED_TYPES)
        self.endpoints, self.deliveries, self.dispatcher = endpoints, deliveries, dispatcher

    async def handle(self, records: Sequence[Record]) -> None:
        events = [event for event, _ in await self.consumer.messages(records)]
        if not events:
            return
        endpoints = await self.consumer.retry(self.endpoints.enabled)
        if not endpoints:
            return
        at = datetime.now(UTC)
        deliveries = [d for event in events for d in deliveries_for(event, endpoints, at)]
        await self.consumer.retry(self._record, deliveries)

    async def _record(self, deliveries: list[WebhookDelivery]) -> None:
        """Store, then schedule: both before the batch is committed."""
        fresh = await self.deliveries.record_all(deliveries)
        await self.dispatcher.submit(deliveries, fresh)


def register(runtime: Runtime, handler: WebhookEventsHandler, *, group: str, batch: int) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.ISSUES_EVENTS,
        group=group,
        handle=handler.handle,
        max_records=batch,
        title="notify-webhooks",
        description="Records a signed webhook delivery per issue event and matching integrator endpoint.",
    )
