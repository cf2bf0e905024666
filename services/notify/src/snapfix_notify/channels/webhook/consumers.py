"""Subscriber of ``issues.events.v1`` (group ``notify-webhooks``): parse the batch, hand its
events to ``service.py`` (one delivery record per event and matching endpoint), then commit.

The batch is committed only after its records are stored; sending is the dispatcher's
job, from the records. A record that is not JSON, or a followed event that does not
validate, goes to the dead-letter topic; event types never published to integrators are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from snapfix_notify.channels.webhook.dispatcher import Dispatcher
from snapfix_notify.channels.webhook.models import WebhookDelivery
from snapfix_notify.channels.webhook.payloads import PUBLISHED_TYPES
from snapfix_notify.channels.webhook.repository import DeliveryRepository, EndpointRepository, StoreError
from snapfix_notify.channels.webhook.service import WebhookEvents, deliveries_for
from snapfix_shared.consuming import BatchConsumer, subscribe_batches
from snapfix_shared.messages import ISSUE_EVENTS
from snapfix_shared.redis_client import RedisBusy
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

Record = ConsumerRecord[Any, Any]
# The store is unreachable for a while: wait, then leave the batch uncommitted.
TRANSIENT = (StoreError, RedisConnectionError, RedisTimeoutError, RedisBusy)


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
        self.service = WebhookEvents(endpoints, deliveries, dispatcher)

    async def handle(self, records: Sequence[Record]) -> None:
        events = [event for event, _ in await self.consumer.messages(records)]
        if not events:
            return
        endpoints = await self.consumer.retry(self.service.endpoints.enabled)  # its retry label, as before
        if not endpoints:
            return
        at = datetime.now(UTC)
        deliveries = [d for event in events for d in deliveries_for(event, endpoints, at)]
        await self.consumer.retry(self._record, deliveries)

    async def _record(self, deliveries: list[WebhookDelivery]) -> None:  # the retry counter's operation label
        await self.service.record(deliveries)


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
