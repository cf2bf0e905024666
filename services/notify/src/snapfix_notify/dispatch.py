"""Delivery: every notification is recorded before it is sent, and sent until it is done.

1. ``record()`` puts one ``Delivery`` per (cause, recipient, channel) in the outbox under
   that unique key and queues the keys. Consumers commit their offsets only after this
   returns, so a crash after the commit still leaves the records, which the retry loop
   finishes.
2. A send first claims its record with a lease in Redis (``SET NX PX``), so two workers
   or two instances never send one record at once, and a crashed send's lease lapses. A key
   whose ``Outcome`` says ``sent`` (a redelivered event recorded it again) is dropped:
   never sent twice. Only a crash between the provider's acceptance and the outcome's
   write repeats a message (at most ``send_concurrency`` per process), and the email's
   deterministic Message-ID lets the receiver drop it.
3. Transient failures wait in the outbox (``due_at``: exponential backoff with jitter) and
   survive a restart; permanent ones (and transient ones past ``max_attempts``) are
   announced as ``NotificationFailed`` and recorded ``failed``; a recipient without an
   address is a recorded ``skipped``, announced too. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from uuid import uuid4

from prometheus_client import Counter
from pymongo.errors import PyMongoError

from snapfix_notify.channels import Channel, Notice, PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.claims import Claims
from snapfix_notify.config import NotifySettings
from snapfix_notify.models import Delivery
from snapfix_notify.preferences import ACCOUNT, EMAIL
from snapfix_notify.repository import Contacts, Deliveries
from snapfix_notify.templates import Renderer
from snapfix_notify.unsubscribe import UnsubscribeTokens
from snapfix_shared.kafka import PublishFailed, publish
from snapfix_shared.messages import NotificationFailed
from snapfix_shared.messages.base import utcnow
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)

# Send loops; each claims a batch of send_concurrency / PUMPS and sends it concurrently.
PUMPS = 2
OUTCOMES = Counter("snapfix_notifications_total", "Notification send attempts by outcome", ["channel", "outcome"])


class NoAddressYet(Exception):
    """The recipient's contact is not known yet (its users event may still be on its way)."""


def delivery_key(cause_id: str, recipient_id: str, channel: str) -> str:
    return f"{cause_id}:{recipient_id}:{channel}"


def new_delivery(
    *,
    cause_id: str,
    recipient_id: str,
    channel: str,
    moment: str,
    context: Mapping[str, object],
    now: datetime,
    address: str | None = None,
) -> Delivery:
    return Delivery(
        id=delivery_key(cause_id, recipient_id, channel),
        cause_id=cause_id,
        recipient_id=recipient_id,
        channel=channel,
        moment=moment,
        context=dict(context),
        address=address,
        due_at=now,
        created_at=now,
    )


def backoff_s(attempts: int, *, base_s: float, max_s: float) -> float:
    """Exponential in the attempts so far, with jitter (half fixed, half random) so retries spread."""
    ceiling = min(max_s, base_s * 2 ** max(0, attempts - 1))
    return float(ceiling) / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


class Dispatcher:
    def __init__(
        self,
        runtime: Runtime,
        settings: NotifySettings,
        channels: Mapping[str, Channel],
        *,
        deliveries: Deliveries,
        claims: Claims,
        contacts: Contacts,
        renderer: Renderer,
        tokens: UnsubscribeTokens,
    ) -> None:
        # Kept by reference: a part wired later (push) adds its channel to the same mapping.
        self.runtime, self.settings, self.channels = runtime, settings, channels
        self.deliveries, self.contacts, self.renderer, self.tokens = deliveries, contacts, renderer, tokens
        self.claims = claims
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._finished: set[str] = set()  # outcome written, still in the outbox
        self._tasks: list[asyncio.Task[None]] = []

    # -- recording ------------------------------------------------------------------------

    async def record(self, deliveries: Sequence[Delivery]) -> None:
        """Store the deliveries (once each), then queue them for sending."""
        await self.deliveries.record(deliveries)
        for d in deliveries:
            self._enqueue(d.id)

    def _enqueue(self, key: str) -> None:
        if key not in self._queued and key not in self._finished:
            self._queued.add(key)
            self._queue.put_nowait(key)

    # -- running --------------------------------------------------------------------------

    async def start(self) -> None:
        for n in range(PUMPS):
            self._tasks.append(asyncio.create_task(self._pump(), name=f"notify-send-{n}"))
        self._tasks.append(asyncio.create_task(self._poll(), name="notify-retry-loop"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _pump(self) -> None:
        """Sends queued keys a batch at a time: ``send_concurrency`` in flight across the pumps."""
        batch_size = max(1, self.settings.send_concurrency // PUMPS)
        while True:
            keys = [await self._queue.get()]
            while len(keys) < batch_size and not self._queue.empty():
                keys.append(self._queue.get_nowait())
            self._queued.difference_update(keys)
            try:
                await self.send(keys)
            except PyMongoError as exc:  # the store is away: the retry loop finds the records again
                log.warning("deliveries %s...: store unavailable (%s)", keys[0], exc)
            except Exception:
                log.exception("deliveries %s...: unexpected failure", keys[0])

    async def _poll(self) -> None:
        """The retry loop: due retries, lapsed leases (a crashed send) and owed announcements."""
        while True:
            try:
                if self._finished:
                    done = list(self._finished)
                    await self.deliveries.forget_many(done)
                    self._finished.difference_update(done)
                if self._queue.qsize() < self.settings.send_concurrency:  # busy workers find their own work
                    for key in await self.deliveries.due(utcnow(), limit=500):
                        self._enqueue(key)
                for delivery in await self.deliveries.unannounced(limit=100):
                    await self._announce(delivery)
            except (PyMongoError, PublishFailed) as exc:
                log.warning("retry loop: %s", exc)
            except Exception:
                log.exception("retry loop failed")
            await asyncio.sleep(self.settings.poll_interval_s)

    # -- one send -------------------------------------------------------------------------

    async def send(self, keys: Sequence[str]) -> None:
        """Claim the due ones among ``keys`` (others are not due, held elsewhere, or done) and send them."""
        now = utcnow()
        held = await self.claims.take(keys, uuid4().hex, self.settings.lease_s)
        todo: list[Delivery] = []
        for delivery in await self.deliveries.pending(held, now):
            if await self.deliveries.outcome(delivery.id) is not None:  # done before: recorded again by a redelivery
                await self.deliveries.forget(delivery.id)
            else:
                todo.append(delivery.model_copy(update={"attempts": delivery.attempts + 1}))
        # One failing send never stops the others' outcomes from being written.
        results = await asyncio.gather(*(self._attempt(d, now) for d in todo), return_exceptions=True)
        for d, result in zip(todo, results, strict=True):
            if isinstance(result, BaseException):  # its lease lapses and the retry loop tries again
                log.warning("delivery %s: %s: %s", d.id, type(result).__name__, result)
        sent = [d for d, result in zip(todo, results, strict=True) if result is True]
        await self.deliveries.record_outcomes(sent, "sent", utcnow())
        self._finished.update(d.id for d in sent)  # out of the outbox with the retry loop's next bulk delete
        for d in sent:
            OUTCOMES.labels(d.channel, "sent").inc()
        # Released only once the outcomes are stored; after a failure the leases lapse instead.
        await self.claims.release(held)

    async def _attempt(self, delivery: Delivery, now: datetime) -> bool:
        """Deliver one; True when the provider took it (its outcome is written with its batch's)."""
        key = delivery.id
        channel = self.channels.get(delivery.channel)
        try:
            if channel is None:
                raise PermanentDeliveryError(f"no {delivery.channel} channel in this process")
            notice = await self._notice(delivery, now)
            await channel.deliver(notice)
        except NoAddressYet as exc:
            if now - delivery.created_at > timedelta(seconds=self.settings.contact_wait_s):
                await self._give_up(delivery, "skipped", str(exc))
            else:
                await self._later(delivery, now, str(exc))
        except TransientDeliveryError as exc:
            if delivery.attempts >= self.settings.max_attempts:
                await self._give_up(delivery, "failed", f"exhausted: {exc}")
            else:
                await self._later(delivery, now, str(exc))
        except PermanentDeliveryError as exc:
            await self._give_up(delivery, "skipped" if "no email address" in str(exc) else "failed", str(exc))
        except PyMongoError:
            raise  # the lease lapses and the retry loop tries again
        except Exception as exc:  # a template or data bug fails the same way every time
            log.exception("delivery %s cannot be built", key)
            await self._give_up(delivery, "failed", f"{type(exc).__name__}: {exc}")
        else:
            return True
        return False

    async def _later(self, delivery: Delivery, now: datetime, error: str) -> None:
        delay = backoff_s(delivery.attempts, base_s=self.settings.retry_base_s, max_s=self.settings.retry_max_s)
        await self.deliveries.retry_at(delivery.id, delivery.attempts, now + timedelta(seconds=delay), error[:1000])
        OUTCOMES.labels(delivery.channel, "retry").inc()
        log.info("delivery %s: retry in %.1fs (%s)", delivery.id, delay, error[:200])

    async def _give_up(self, delivery: Delivery, status: str, error: str) -> None:
        await self.deliveries.give_up(delivery.id, status, error[:1000])
        OUTCOMES.labels(delivery.channel, status).inc()
        log.warning("delivery %s %s: %s", delivery.id, status, error[:300])
        updated = await self.deliveries.get(delivery.id)
        if updated is not None:
            with contextlib.suppress(PublishFailed):  # the retry loop announces it later
                await self._announce(updated)

    async def _announce(self, delivery: Delivery) -> None:
        error = delivery.error or ""
        reason = (
            "no_address"
            if delivery.status == "skipped"
            else ("exhausted" if error.startswith("exhausted") else "permanent")
        )
        event = NotificationFailed(
            correlation_id=f"notify-{delivery.cause_id}"[:128],
            causation_id=delivery.cause_id[:128],
            recipient_id=delivery.recipient_id,
            notification_key=delivery.id,
            channel=delivery.channel,
            moment=delivery.moment,
            cause_id=delivery.cause_id[:128],
            attempts=delivery.attempts,
            reason=reason,
            error=error[:1000],
        )
        await publish(
            self.runtime.broker,
            Topic.NOTIFY_EVENTS,
            event,
            source=self.runtime.source,
            timeout_s=self.runtime.publish_timeout_s,
        )
        await self.deliveries.finish(delivery, delivery.status, utcnow(), error)

    async def _notice(self, delivery: Delivery, now: datetime) -> Notice:
        contact = await self.contacts.get(delivery.recipient_id)
        data: dict[str, str] = {"cause_id": delivery.cause_id, "channel": delivery.channel}
        if issue_id := delivery.context.get("issue_id"):
            data["issue_id"] = str(issue_id)
        display_name = contact.display_name if contact else ""
        unsubscribe_url = None
        if delivery.channel == EMAIL:
            address = delivery.address or (contact.email if contact else None)
            if contact is None and not address:
                raise NoAddressYet(f"no contact known for {delivery.recipient_id} yet")
            if not address:
                raise PermanentDeliveryError(f"no email address for {delivery.recipient_id}")
            data["email"] = address
            if delivery.moment not in ACCOUNT:
                unsubscribe_url = self.tokens.url(delivery.recipient_id, delivery.moment)
                data["unsubscribe_url"] = unsubscribe_url
        if display_name:
            data["display_name"] = display_name
        rendered = self.renderer.render(
            delivery.moment,
            delivery.context,
            display_name=display_name,
            unsubscribe_url=unsubscribe_url,
            greeting=delivery.channel == EMAIL,
        )
        return Notice(
            key=delivery.id,
            recipient_id=delivery.recipient_id,
            moment=delivery.moment,
            title=rendered.subject,
            text=rendered.text,
            html=rendered.html if delivery.channel == EMAIL else None,
            link=str(delivery.context.get("issue_url") or "") or None,
            data=data,
        )
