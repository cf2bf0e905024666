"""Webhook deliveries: the webhook channel's plug on the delivery engine (``dispatch/engine.py``).

The engine takes due deliveries with a lease, keeps those recorded here in memory, bounds
the concurrency and rebuilds its queue when Redis lost it; this plug loads a delivery taken
again (as its steps left it), attempts each (signed, ``sender.py``), logs each attempt as an
inserted step (``repository.py``) before the queue moves on, retries on the endpoint's
backoff (``policy.RetryPolicy``), disables an endpoint after sustained failure and announces
a delivery failed for good as ``NotificationFailed`` (``failures.py``; a sweep, run when the
engine is idle, announces what a crash or a Kafka outage left unannounced). An attempt cut
short by a crash is due again once its lease lapses (at least once; the stable
``webhook-id`` lets the receiver drop a repeat). Several replicas may run it.

Nothing on the hot path updates or queries the store: a delivery recorded by this process
is sent from memory, its endpoint is read once per batch by ``_id``, and the steps of the
attempts finishing together go in one insert (group commit). A retry, a lapsed lease or a
delivery recorded elsewhere is read back by ``_id``; failures update the endpoint (rare).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from prometheus_client import Counter
from redis.exceptions import RedisError
from uuid_utils.compat import uuid7

from snapfix_notify.channels.webhook.failures import failure_event
from snapfix_notify.channels.webhook.models import DeliveryStep, WebhookDelivery, WebhookEndpoint
from snapfix_notify.channels.webhook.policy import DisablePolicy, outcome
from snapfix_notify.channels.webhook.repository import DeliveryRepository, EndpointRepository, StoreError
from snapfix_notify.channels.webhook.sender import Attempt, WebhookSender
from snapfix_notify.claims import DueQueue
from snapfix_notify.dispatch.engine import BATCHES, DONE, Announce, Engine, Later, Loaded, RetrySchedule
from snapfix_notify.group_commit import GroupCommit
from snapfix_shared.kafka import PublishFailed

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
ANNOUNCE_SWEEP_S = 30.0  # how often failures whose announcement did not get through are tried again

ATTEMPTS = Counter("snapfix_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])
DISABLED = Counter("snapfix_webhook_endpoints_disabled_total", "Webhook endpoints disabled", ["why"])


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Logged:
    """A step to store, and where the delivery goes in the queue once it is stored."""

    step: DeliveryStep
    due_at: datetime | None  # None: finished, out of the queue


class Dispatcher:
    def __init__(
        self,
        endpoints: EndpointRepository,
        deliveries: DeliveryRepository,
        sender: WebhookSender,
        *,
        queue: DueQueue,
        retry: RetrySchedule,
        disable: DisablePolicy,
        concurrency: int,
        store_concurrency: int,
        poll_s: float,
        lease_s: float,
        announce: Announce | None = None,
    ) -> None:
        self.endpoints, self.deliveries, self.sender, self.queue = endpoints, deliveries, sender, queue
        self.retry, self.disable = retry, disable
        self.announce = announce
        self._next_sweep = 0.0
        self._db = asyncio.Semaphore(store_concurrency)  # the rare-path writes (endpoints, announcements)
        self._steps: GroupCommit[_Logged] = GroupCommit(self._log)
        # Endpoints this process saw fail since their count was last reset (the batch's
        # endpoint snapshot may predate a sibling delivery's failure).
        self._failing: set[UUID] = set()
        self.engine: Engine[WebhookDelivery] = Engine(
            "webhooks",
            queue,
            self,
            concurrency=concurrency,
            batch=concurrency // BATCHES,
            lease_s=lease_s,
            poll_s=poll_s,
            idle=self._sweep_unannounced,
        )

    async def submit(self, deliveries: Sequence[WebhookDelivery], fresh: set[str]) -> None:
        """Schedule stored deliveries (``fresh``: stored by this call, sent from memory); before the commit."""
        if not deliveries:
            return
        due = {d.id: (d.next_attempt_at or d.created_at).timestamp() for d in deliveries}
        await self.engine.schedule(due, {d.id: d for d in deliveries if d.id in fresh})

    def wake(self) -> None:
        """New deliveries were scheduled: look for due work now rather than at the next poll."""
        self.engine.wake()

    async def start(self) -> None:
        await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()  # in-flight attempts are cut: their leases lapse and they are due again

    async def unfinished(self) -> dict[str, float]:
        return await self.deliveries.unfinished()

    async def load(self, key: str, now: datetime) -> Loaded[WebhookDelivery]:
        """A delivery taken again (a retry, a lapsed lease, recorded elsewhere) as its steps left it."""
        delivery = await self.deliveries.get(key)
        if delivery is None or delivery.status != "pending":  # deleted with its endpoint, or finished
            return DONE
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:  # postponed meanwhile
            return Later(delivery.next_attempt_at.timestamp())
        return delivery

    async def send(self, items: list[WebhookDelivery], _now: datetime) -> None:
        """Attempt the taken deliveries at once; each logs its own step (group commit)."""
        endpoints: dict[UUID, WebhookEndpoint | None] = {}
        for endpoint_id in {d.endpoint_id for d in items}:  # read once per batch, not per attempt
            endpoints[endpoint_id] = await self._call(self.endpoints.get, endpoint_id)
        await asyncio.gather(*(self._attempt(d, endpoints[d.endpoint_id]) for d in items))

    async def _sweep_unannounced(self) -> None:
        """Publish the failures a crash or a Kafka outage left unannounced (when idle, now and then)."""
        loop = asyncio.get_running_loop()
        if self.announce is None or loop.time() < self._next_sweep:
            return
        self._next_sweep = loop.time() + ANNOUNCE_SWEEP_S
        try:
            for step_id, delivery in await self._call(self.deliveries.unannounced, 100):
                if not await self._announce(step_id, delivery):
                    return
        except StoreError as exc:
            log.warning("unannounced webhook failures cannot be read: %s", exc)

    async def _announce(self, step_id: str, delivery: WebhookDelivery) -> bool:
        """Publish the failed delivery's NotificationFailed, then mark it; False when Kafka did not ack."""
        if self.announce is None:
            return True
        try:
            await self.announce(failure_event(delivery))
        except PublishFailed as exc:
            log.warning("NotificationFailed for webhook %s not published yet: %s", delivery.id, exc)
            return False
        await self._call(self.deliveries.mark_announced, step_id)
        return True

    async def _call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self._db:
            return await fn(*args, **kwargs)

    async def _log(self, logged: list[_Logged]) -> None:
        """Store the steps of the attempts that finished together, then move their deliveries in the queue."""
        await self.deliveries.add_steps([entry.step for entry in logged])
        await self.queue.done([entry.step.delivery_id for entry in logged if entry.due_at is None])
        for entry in logged:
            if entry.due_at is not None:
                await self.queue.later(entry.step.delivery_id, entry.due_at.timestamp())

    async def _step(self, delivery: WebhookDelivery, due_at: datetime | None, **fields: Any) -> DeliveryStep:
        step: DeliveryStep = DeliveryStep.model_construct(
            id=f"{delivery.id}.{uuid7().hex}",
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            at=now(),
            attempt=fields.pop("attempt", None),
            next_attempt_at=due_at,
            delivered_at=fields.pop("delivered_at", None),
            reason=fields.pop("reason", None),
            announced=fields.pop("announced", None),
            **fields,
        )
        await self._steps.put(_Logged(step, due_at))
        return step

    async def _attempt(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint | None) -> None:
        try:
            if endpoint is None or not endpoint.enabled:
                why = (
                    "the endpoint was deleted"
                    if endpoint is None
                    else f"the endpoint is disabled ({endpoint.disabled_reason})"
                )
                await self._step(delivery, None, status="cancelled", reason=why)
                return
            at = now()
            result = await self.sender.send(endpoint.url, endpoint.secret, delivery.id, delivery.body)
            await self._record(delivery, endpoint, at, result)
        except (StoreError, RedisError) as exc:  # the lease lapses and the delivery is due again
            log.warning("webhook delivery %s not recorded: %s", delivery.id, exc)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", delivery.id)

    async def _record(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, at: datetime, result: Attempt
    ) -> None:
        kind = "failed" if result.refused else outcome(result.status)  # a refused target stays refused
        ATTEMPTS.labels(kind).inc()
        attempt: dict[str, Any] = {
            "at": at,
            "status_code": result.status,
            "error": result.error,
            "duration_ms": result.duration_ms,
        }
        finished = now()
        if kind == "delivered":
            await self._step(delivery, None, status="delivered", attempt=attempt, delivered_at=finished)
            if endpoint.id in self._failing or endpoint.consecutive_failures or endpoint.failing_since is not None:
                await self._call(self.endpoints.succeeded, endpoint.id, finished)  # a run of failures ends
                self._failing.discard(endpoint.id)
            return
        due_at: datetime | None = None
        reason: str | None = None
        if kind == "retry":
            delay = self.retry.delay_s(delivery.attempt_count + 1)
            if delay is None:
                reason = f"gave up after {delivery.attempt_count + 1} attempts"
            else:
                attempt["retry_in_s"] = round(delay, 3)
                due_at = finished + timedelta(seconds=delay)
        else:
            reason = "the receiver answered 410 Gone" if kind == "gone" else f"refused for good ({result.error})"
        failed = due_at is None
        # A failing step says "not announced" itself: a crash before the publish leaves it for the sweep.
        announced = False if failed and self.announce is not None else None
        step = await self._step(
            delivery,
            due_at,
            status="failed" if failed else "pending",
            attempt=attempt,
            reason=reason,
            announced=announced,
        )
        log.info("webhook %s to %s: %s (%s)", delivery.id, endpoint.url, kind, result.error)
        if kind == "gone":
            await self._disable(endpoint.id, "the receiver answered 410 Gone", "gone", finished)
        else:
            self._failing.add(endpoint.id)
            counted = await self._call(self.endpoints.failed, endpoint.id, finished)
            if counted is not None:
                why = self.disable.reason(counted.consecutive_failures, counted.failing_since, finished)
                if why is not None:
                    await self._disable(endpoint.id, f"sustained failure: {why}", "failing", finished)
        # Announced last: the endpoint's state is settled first, whatever Kafka takes.
        if announced is False:
            gone = delivery.model_copy(
                update={
                    "status": "failed",
                    "reason": reason,
                    "attempt_count": delivery.attempt_count + 1,
                    "attempts": [*delivery.attempts, attempt],
                }
            )
            await self._announce(step.id, gone)

    async def _disable(self, endpoint_id: Any, reason: str, why: str, at: datetime) -> None:
        if await self._call(self.endpoints.disable, endpoint_id, reason, at):
            DISABLED.labels(why).inc()
            log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
