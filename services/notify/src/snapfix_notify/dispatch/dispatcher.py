"""Notices (email, in-app, push): every notification is recorded before it is sent, and sent until it is done.

The outbox's plug on the delivery engine (``engine.py``: leases, the send loop, retries,
announcements); the channels (``channels/``) are plugged in here by name.

1. ``record()`` inserts one ``Delivery`` per (cause, recipient, channel) into the outbox under
   that unique key, then schedules the keys (``Engine.schedule``). Consumers commit their
   offsets only after this returns, so a crash after the commit still leaves the records and
   their schedule. The outbox is insert-only: FerretDB scans a collection for every update or
   delete, so the hot path never updates it.
2. A key taken again (a retry, a lapsed lease, a redelivered event) is read back by ``_id``
   and dropped if its ``Outcome`` exists: never sent twice. Each sent notice's outcome is
   inserted (by the batch) before its key leaves the queue, and the engine frees a send slot
   only then, so a crash repeats at most ``send_concurrency`` messages, whose deterministic
   Message-ID lets the receiver drop them.
3. Transient failures are postponed (``HalfJitter``, stored on the record and in the queue) and
   survive a restart; permanent ones (and transient ones past ``max_attempts``) are announced
   as ``NotificationFailed`` and recorded ``failed``; a recipient without an address is a
   recorded ``skipped``, announced too. Nothing is dropped silently. Should Redis lose the
   queue, the engine rebuilds it from the outbox and the outcomes (a one-time scan).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property

from prometheus_client import Counter
from redis.exceptions import RedisError

from snapfix_notify.channels import Channel, Notice, PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.claims import DueQueue
from snapfix_notify.config import NotifySettings
from snapfix_notify.dispatch.engine import BATCHES, DONE, Announce, Engine, HalfJitter, Later, Loaded, announcer
from snapfix_notify.dispatch.repository import Deliveries
from snapfix_notify.models import Contact, Delivery
from snapfix_notify.preferences import ACCOUNT, EMAIL
from snapfix_notify.repository import Contacts, StoreError
from snapfix_notify.templates import Renderer
from snapfix_notify.unsubscribe import UnsubscribeTokens
from snapfix_shared.kafka import PublishFailed
from snapfix_shared.messages import NotificationFailed
from snapfix_shared.messages.base import utcnow
from snapfix_shared.runtime import Runtime

log = logging.getLogger(__name__)

OUTCOMES = Counter("snapfix_notifications_total", "Notification send attempts by outcome", ["channel", "outcome"])


class NoAddressYet(Exception):
    """The recipient's contact is not known yet (its users event may still be on its way)."""


NO_CONTACT_YET = "no contact known for"  # the start of NoAddressYet's message, stored as the delivery's error


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
    # model_construct: every field is typed by the caller; Beanie's __init__ adds a collection
    # lookup and state tracking per document, which an insert-only record has no use for.
    delivery: Delivery = Delivery.model_construct(
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
    return delivery


class Dispatcher:
    def __init__(
        self,
        runtime: Runtime,
        settings: NotifySettings,
        channels: Mapping[str, Channel],
        *,
        deliveries: Deliveries,
        queue: DueQueue,
        contacts: Contacts,
        renderer: Renderer,
        tokens: UnsubscribeTokens,
    ) -> None:
        # Kept by reference: a part wired later (push) adds its channel to the same mapping.
        self.runtime, self.settings, self.channels = runtime, settings, channels
        self.deliveries, self.contacts, self.renderer, self.tokens = deliveries, contacts, renderer, tokens
        self.queue = queue

    @cached_property
    def engine(self) -> Engine[Delivery]:
        """The send loop over the outbox (built on first use: the settings are read then)."""
        s = self.settings
        concurrency = s.send_concurrency
        return Engine(
            "notify",
            self.queue,
            self,
            concurrency=concurrency,
            batch=concurrency // BATCHES,
            lease_s=s.lease_s,
            poll_s=s.poll_interval_s,
        )

    @cached_property
    def retry(self) -> HalfJitter:
        s = self.settings
        return HalfJitter(base_s=s.retry_base_s, max_s=s.retry_max_s, max_attempts=s.max_attempts)

    @cached_property
    def announce(self) -> Announce:
        return announcer(self.runtime)

    # -- recording ------------------------------------------------------------------------

    async def record(self, deliveries: Sequence[Delivery]) -> None:
        """Store the deliveries (once each), then schedule them: both before the caller commits."""
        if not deliveries:
            return
        fresh = await self.deliveries.record(deliveries)
        due = {d.id: d.due_at.timestamp() for d in deliveries}
        await self.engine.schedule(due, {d.id: d for d in deliveries if d.id in fresh})

    async def contact_known(self, recipient_id: str) -> None:
        """The users consumer stored ``recipient_id``'s contact: what waits for it is due now."""
        if await self.queue.contact_known(recipient_id, time.time()):
            self.engine.wake()

    async def start(self) -> None:
        await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()  # in-flight sends are cut: their leases lapse and they are due again

    async def unfinished(self) -> dict[str, float]:
        return await self.deliveries.unfinished()

    # -- one send -------------------------------------------------------------------------

    async def send(self, items: list[Delivery], now: datetime) -> None:
        """Attempt the taken deliveries; the outcomes of those sent are inserted together, then they leave the queue."""
        todo = [d.model_copy(update={"attempts": d.attempts + 1}) for d in items]
        contacts = await self.contacts.get_many(sorted({d.recipient_id for d in todo}))
        # One failing send never stops the others' outcomes from being written.
        results = await asyncio.gather(
            *(self._attempt(d, now, contacts[d.recipient_id]) for d in todo), return_exceptions=True
        )
        for d, result in zip(todo, results, strict=True):
            if isinstance(result, BaseException):  # its lease lapses and it is tried again
                log.warning("delivery %s: %s: %s", d.id, type(result).__name__, result)
        sent = [d for d, result in zip(todo, results, strict=True) if result is True]
        # The outcome first: a crash before the queue forgets them repeats nothing (the store says sent).
        await self.deliveries.record_outcomes(sent, "sent", utcnow())
        await self.queue.done([d.id for d in sent])
        for d in sent:
            OUTCOMES.labels(d.channel, "sent").inc()

    async def load(self, key: str, now: datetime) -> Loaded[Delivery]:
        """A key taken again (a retry, a lapsed lease, a redelivery): what the store says is left to do."""
        delivery = await self.deliveries.get(key)
        if delivery is None:
            log.warning("delivery %s is scheduled but not in the outbox", key)
            return DONE
        if await self.deliveries.outcome(key) is not None:  # done before
            return DONE
        if delivery.status in {"failed", "skipped"}:  # failed for good, not announced yet
            with contextlib.suppress(PublishFailed):  # else its lease lapses and it is announced later
                await self._announce(delivery)
            return None
        waiting = (delivery.error or "").startswith(NO_CONTACT_YET)  # woken early by contact_known: try now
        if delivery.due_at > now and not waiting:  # postponed by a retry whose new time did not reach the queue
            return Later(delivery.due_at.timestamp())
        return delivery

    async def _attempt(self, delivery: Delivery, now: datetime, contact: Contact | None) -> bool:
        """Deliver one; True when the provider took it (its outcome is written with its batch's)."""
        key = delivery.id
        if contact is not None and contact.disabled:
            await self._withhold(delivery)
            return False
        channel = self.channels.get(delivery.channel)
        try:
            if channel is None:
                raise PermanentDeliveryError(f"no {delivery.channel} channel in this process")
            notice = self._notice(delivery, contact)
            await channel.deliver(notice)
        except NoAddressYet as exc:
            await self._wait_for_contact(delivery, now, exc)
        except TransientDeliveryError as exc:
            await self._retry(delivery, now, exc)
        except PermanentDeliveryError as exc:
            await self._give_up(delivery, "skipped" if "no email address" in str(exc) else "failed", str(exc))
        except (StoreError, RedisError):
            raise  # the lease lapses and it is tried again
        except Exception as exc:  # a template or data bug fails the same way every time
            log.exception("delivery %s cannot be built", key)
            await self._give_up(delivery, "failed", f"{type(exc).__name__}: {exc}")
        else:
            return True
        return False

    async def _wait_for_contact(self, delivery: Delivery, now: datetime, exc: NoAddressYet) -> None:
        """No address known for the recipient yet: tried again when it is, skipped after contact_wait_s."""
        if now - delivery.created_at > timedelta(seconds=self.settings.contact_wait_s):
            await self._give_up(delivery, "skipped", str(exc))
            return
        # Woken as soon as the users consumer learns the contact, not at the end of a backoff
        # that may have grown long meanwhile (its users event came late: a busy broker or gateway).
        ttl = self.settings.contact_wait_s + self.settings.lease_s
        await self.queue.await_contact(delivery.recipient_id, delivery.id, ttl)
        await self._later(delivery, now, str(exc), self.retry.wait_s(delivery.attempts))

    async def _retry(self, delivery: Delivery, now: datetime, exc: TransientDeliveryError) -> None:
        """Tried again after the backoff (not before the provider's Retry-After), or failed when exhausted."""
        delay = self.retry.delay_s(delivery.attempts)
        if delay is None:
            await self._give_up(delivery, "failed", f"exhausted: {exc}")
        else:
            await self._later(delivery, now, str(exc), delay, not_before_s=exc.retry_after_s)

    async def _withhold(self, delivery: Delivery) -> None:
        """The recipient's account is disabled: nothing is sent to it, on any channel (account emails too).

        Recorded ``skipped`` (not a failure: not announced), then out of the queue; never retried, even
        if the account is enabled again later (it hears of what happens after that)."""
        await self.deliveries.finish(delivery, "skipped", utcnow(), "account disabled")
        await self.queue.done([delivery.id])
        OUTCOMES.labels(delivery.channel, "withheld").inc()
        log.info("delivery %s withheld: account disabled", delivery.id)

    async def _later(
        self, delivery: Delivery, now: datetime, error: str, delay: float, *, not_before_s: float | None = None
    ) -> None:
        delay = max(delay, not_before_s or 0.0)  # the provider's Retry-After, when it gave one
        due_at = now + timedelta(seconds=delay)
        # The store first (attempts survive a restart), then the queue (rare: one update per failure).
        await self.deliveries.retry_at(delivery.id, delivery.attempts, due_at, error[:1000])
        await self.queue.later(delivery.id, due_at.timestamp())
        OUTCOMES.labels(delivery.channel, "retry").inc()
        log.info("delivery %s: retry in %.1fs (%s)", delivery.id, delay, error[:200])

    async def _give_up(self, delivery: Delivery, status: str, error: str) -> None:
        # Stored first: a crash or a Kafka outage before the announcement leaves it for its next turn.
        await self.deliveries.give_up(delivery.id, status, error[:1000], delivery.attempts)
        OUTCOMES.labels(delivery.channel, status).inc()
        log.warning("delivery %s %s: %s", delivery.id, status, error[:300])
        updated = delivery.model_copy(update={"status": status, "error": error[:1000]})
        with contextlib.suppress(PublishFailed):  # its lease lapses and it is announced then
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
        await self.announce(event)
        await self.deliveries.finish(delivery, delivery.status, utcnow(), error)
        await self.queue.done([delivery.id])

    def _notice(self, delivery: Delivery, contact: Contact | None) -> Notice:
        data: dict[str, str] = {"cause_id": delivery.cause_id, "channel": delivery.channel}
        if issue_id := delivery.context.get("issue_id"):
            data["issue_id"] = str(issue_id)
        display_name = contact.display_name if contact else ""
        unsubscribe_url = None  # the link in the body (the web app's page when set; the header keeps the API's)
        if delivery.channel == EMAIL:
            address = delivery.address or (contact.email if contact else None)
            if contact is None and not address:
                raise NoAddressYet(f"{NO_CONTACT_YET} {delivery.recipient_id} yet")
            if not address:
                raise PermanentDeliveryError(f"no email address for {delivery.recipient_id}")
            data["email"] = address
            if delivery.moment not in ACCOUNT:
                # List-Unsubscribe: the API's one-click POST (RFC 8058), whatever the body links to.
                data["unsubscribe_url"] = self.tokens.url(delivery.recipient_id, delivery.moment)
                unsubscribe_url = self.tokens.page_url(delivery.recipient_id, delivery.moment)
        if display_name:
            data["display_name"] = display_name
        rendered = self.renderer.render(
            delivery.moment,
            delivery.context,
            display_name=display_name,
            unsubscribe_url=unsubscribe_url,
            greeting=delivery.channel == EMAIL,
            html=delivery.channel == EMAIL,  # the other channels show text
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
