"""The delivery loop: picks due deliveries from the store, sends them, logs each attempt.

Durable by construction: what to send and when lives on the delivery records
(``next_attempt_at``), so a restarted process resumes where the last one stopped. A
claim moves ``next_attempt_at`` past the attempt's timeout, so an attempt cut short by
a crash is simply due again later (at least once; the stable ``webhook-id`` lets the
receiver drop a repeat). Concurrency is bounded; several replicas may run the loop.

Store calls are few (claims by the batch, endpoints read once per batch, no findAndModify)
and bounded (``store_concurrency`` at once). On FerretDB's SQLite backend concurrent
writers mostly wait on each other's locks (4 at once delivered 5/s, 1 at once 12/s in a
load test), and a pile-up of slow updates, abandoned by timed-out clients, exhausted its
connection pool and hung the database for good. Sending is concurrent; bookkeeping is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from prometheus_client import Counter
from pymongo.errors import PyMongoError
from uuid_utils.compat import uuid7

from snapfix_notify.webhooks.failures import failure_event
from snapfix_notify.webhooks.models import WebhookDelivery, WebhookEndpoint
from snapfix_notify.webhooks.policy import DisablePolicy, RetryPolicy, outcome
from snapfix_notify.webhooks.repository import DeliveryRepository, EndpointRepository
from snapfix_notify.webhooks.sender import Attempt, WebhookSender
from snapfix_shared.kafka import PublishFailed
from snapfix_shared.messages import NotificationFailed

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
Announce = Callable[[NotificationFailed], Awaitable[None]]
ANNOUNCE_SWEEP_S = 30.0  # how often failures whose announcement did not get through are tried again

ATTEMPTS = Counter("snapfix_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])
DISABLED = Counter("snapfix_webhook_endpoints_disabled_total", "Webhook endpoints disabled", ["why"])


def now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(
        self,
        endpoints: EndpointRepository,
        deliveries: DeliveryRepository,
        sender: WebhookSender,
        *,
        retry: RetryPolicy,
        disable: DisablePolicy,
        concurrency: int,
        store_concurrency: int,
        poll_s: float,
        lease_s: float,
        announce: Announce | None = None,
    ) -> None:
        self.endpoints, self.deliveries, self.sender = endpoints, deliveries, sender
        self.retry, self.disable = retry, disable
        self.poll_s, self.lease_s = poll_s, lease_s
        self.concurrency = concurrency
        self.announce = announce
        self._next_sweep = 0.0
        self._db = asyncio.Semaphore(store_concurrency)
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        # Endpoints this process saw fail since their count was last reset (the batch's
        # endpoint snapshot may predate a sibling delivery's failure).
        self._failing: set[UUID] = set()
        self._loop: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New deliveries were recorded: look for due work now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        if self._in_flight:  # bounded by the sender's timeout; a cut attempt is due again later
            await asyncio.wait(self._in_flight, timeout=self.sender.timeout_s + 1)

    async def _run(self) -> None:
        while True:
            # Claim in batches (a claim reads the due index once for the lot), not slot by slot.
            if len(self._in_flight) > self.concurrency // 2:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                started = await self._start_due()
            except PyMongoError as exc:
                log.warning("webhook deliveries cannot be read: %s", exc)
                started = 0
            if not started:
                await self._sweep_unannounced()
                await self._idle()

    async def _start_due(self) -> int:
        """Claim due deliveries for the free slots and start their attempts; how many started."""
        claimed = await self._call(
            self.deliveries.claim_due,
            now(),
            limit=self.concurrency - len(self._in_flight),
            lease_until=now() + timedelta(seconds=self.lease_s),
            claim=str(uuid7()),
        )
        endpoints: dict[UUID, WebhookEndpoint | None] = {}
        for endpoint_id in {d.endpoint_id for d in claimed}:  # read once per batch, not per attempt
            endpoints[endpoint_id] = await self._call(self.endpoints.get, endpoint_id)
        for delivery in claimed:
            endpoint = endpoints[delivery.endpoint_id]
            task = asyncio.create_task(self._attempt(delivery, endpoint), name=f"webhook-{delivery.id}")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(claimed)

    async def _sweep_unannounced(self) -> None:
        """Publish the failures a crash or a Kafka outage left unannounced (when idle, now and then)."""
        loop = asyncio.get_running_loop()
        if self.announce is None or loop.time() < self._next_sweep:
            return
        self._next_sweep = loop.time() + ANNOUNCE_SWEEP_S
        try:
            for delivery in await self._call(self.deliveries.unannounced, 100):
                if not await self._announce(delivery):
                    return
        except PyMongoError as exc:
            log.warning("unannounced webhook failures cannot be read: %s", exc)

    async def _announce(self, delivery: WebhookDelivery) -> bool:
        """Publish the failed delivery's NotificationFailed, then mark it; False when Kafka did not ack."""
        if self.announce is None:
            return True
        try:
            await self.announce(failure_event(delivery))
        except PublishFailed as exc:
            log.warning("NotificationFailed for webhook %s not published yet: %s", delivery.id, exc)
            return False
        await self._call(self.deliveries.mark_announced, delivery.id)
        return True

    async def _call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self._db:
            return await fn(*args, **kwargs)

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll_s)
        self._wake.clear()

    async def _attempt(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint | None) -> None:
        claim = delivery.claim or ""
        try:
            if endpoint is None or not endpoint.enabled:
                why = (
                    "the endpoint was deleted"
                    if endpoint is None
                    else f"the endpoint is disabled ({endpoint.disabled_reason})"
                )
                await self._call(self.deliveries.cancel, delivery.id, claim, why)
                return
            at = now()
            result = await self.sender.send(endpoint.url, endpoint.secret, delivery.id, delivery.body)
            await self._record(delivery, endpoint, claim, at, result)
        except PyMongoError as exc:  # the claim lapses and the delivery is due again
            log.warning("webhook delivery %s not recorded: %s", delivery.id, exc)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", delivery.id)

    async def _record(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, claim: str, at: datetime, result: Attempt
    ) -> None:
        kind = outcome(result.status)
        ATTEMPTS.labels(kind).inc()
        attempt: dict[str, Any] = {
            "at": at,
            "status_code": result.status,
            "error": result.error,
            "duration_ms": result.duration_ms,
        }
        finished = now()
        if kind == "delivered":
            await self._call(
                self.deliveries.finish_attempt,
                delivery.id,
                claim,
                attempt,
                status="delivered",
                delivered_at=finished,
                next_attempt_at=None,
            )
            if endpoint.id in self._failing or endpoint.consecutive_failures or endpoint.failing_since is not None:
                await self._call(self.endpoints.succeeded, endpoint.id, finished)  # a run of failures ends
                self._failing.discard(endpoint.id)
            return
        if kind == "retry":
            delay = self.retry.delay_s(delivery.attempt_count + 1)
            if delay is None:
                fields: dict[str, Any] = {
                    "status": "failed",
                    "next_attempt_at": None,
                    "reason": f"gave up after {delivery.attempt_count + 1} attempts",
                }
            else:
                attempt["retry_in_s"] = round(delay, 3)
                fields = {"next_attempt_at": finished + timedelta(seconds=delay)}
        else:
            reason = "the receiver answered 410 Gone" if kind == "gone" else f"refused for good ({result.error})"
            fields = {"status": "failed", "next_attempt_at": None, "reason": reason}
        if fields.get("status") == "failed" and self.announce is not None:
            fields["announced"] = False  # in the same write: a crash before the publish leaves it for the sweep
        ours = await self._call(self.deliveries.finish_attempt, delivery.id, claim, attempt, **fields)
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
        if ours and fields.get("announced") is False:
            failed = delivery.model_copy(
                update={
                    "status": "failed",
                    "reason": fields["reason"],
                    "attempt_count": delivery.attempt_count + 1,
                    "attempts": [*delivery.attempts, attempt],
                }
            )
            await self._announce(failed)

    async def _disable(self, endpoint_id: Any, reason: str, why: str, at: datetime) -> None:
        if await self._call(self.endpoints.disable, endpoint_id, reason, at):
            DISABLED.labels(why).inc()
            log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
