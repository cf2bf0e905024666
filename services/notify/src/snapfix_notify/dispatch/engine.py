"""The one delivery engine: due times and leases, the send loop, the retry schedule's shape, the
announcement of what failed for good. Every kind of delivery runs on it, through a ``Plug``:

- the outbox of notices (``dispatcher.py``: email, in-app and push, each a ``channels.Channel``);
- the webhook delivery log (``channels/webhook/dispatcher.py``: signing, per-endpoint backoff, disabling).

What the engine owns, the same for both:

1. ``schedule`` puts stored items in the due queue (Redis, ``claims.py``) at their due time,
   before the caller commits its Kafka offsets; items stored by this process are kept in
   memory (up to ``FRESH_KEPT``) and sent without being read back.
2. The loop takes due keys with a lease (one holder at a time, across workers and instances;
   a crashed holder's lease lapses and the key is due again) while send slots are free, in
   batches of ``batch``. A key kept in memory with the score it was scheduled with was held
   by no one before: it is sent from memory. Any other (a retry, a lapsed lease, a repeat)
   is loaded from the store by the plug, which answers what is left to do: the item, ``DONE``
   (out of the queue), ``Later(at)`` (postponed meanwhile) or ``None`` (left to its lease).
3. The plug's ``send`` attempts a batch and stores its outcome; the batch's slots are freed
   only then, so a crash repeats at most ``concurrency`` attempts. A store or Redis failure
   leaves the keys to their leases.
4. A retry is ``RetrySchedule.delay_s`` after the n-th failure, or a give-up (None) once its
   attempts are spent; a give-up is announced as ``NotificationFailed`` on
   ``notify.events.v1`` (``announcer``) after it is stored.
5. When Redis lost the queue (or on a first start), it is rebuilt from the plug's store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Generic, Literal, Protocol, TypeAlias, TypeVar

from redis.exceptions import RedisError

from snapfix_notify.claims import DueQueue, finish_or_cut
from snapfix_notify.repository import StoreError
from snapfix_shared.kafka import publish
from snapfix_shared.messages import NotificationFailed
from snapfix_shared.runtime import Runtime
from snapfix_shared.tasks import cancelled
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)
T = TypeVar("T")
FRESH_KEPT = 50_000  # recorded items kept in memory until sent
BATCHES = 2  # a loop takes batches of concurrency / BATCHES, so one batch sends while another is settled
Announce = Callable[[NotificationFailed], Awaitable[None]]


@dataclass(frozen=True)
class Later:
    """The item was postponed (its new time did not reach the queue): due again at ``at`` (epoch seconds)."""

    at: float


DONE: Final = "done"
Loaded: TypeAlias = T | Later | Literal["done"] | None


class Plug(Protocol[T]):
    """What a kind of delivery brings to the engine: its store and its attempt."""

    async def load(self, key: str, now: datetime) -> Loaded[T]:
        """A key taken again, as its store has it: the item to send, DONE, Later, or None (leave it)."""
        ...

    async def send(self, items: list[T], now: datetime) -> None:
        """Attempt the items and store what became of each (sent, retried, failed) and move their keys."""
        ...

    async def unfinished(self) -> dict[str, float]:
        """Every stored item not finished yet, with its due time (epoch seconds): the rebuild's scan."""
        ...


class RetrySchedule(Protocol):
    def delay_s(self, failed_attempts: int) -> float | None:
        """Seconds to wait after the ``failed_attempts``-th failure; None once attempts are spent (give up)."""
        ...


@dataclass(frozen=True)
class HalfJitter:
    """Exponential backoff, half of it fixed and half random (so retries spread), up to ``max_s``;
    no retry after ``max_attempts`` attempts. The notices' schedule; webhooks have their own
    (``channels/webhook/policy.py``)."""

    base_s: float
    max_s: float
    max_attempts: int

    def delay_s(self, failed_attempts: int) -> float | None:
        if failed_attempts >= self.max_attempts:
            return None
        return self.wait_s(failed_attempts)

    def wait_s(self, attempts: int) -> float:
        """The backoff alone, whatever the attempts (a notice waiting for its recipient's contact)."""
        return backoff_s(attempts, base_s=self.base_s, max_s=self.max_s)


def backoff_s(attempts: int, *, base_s: float, max_s: float) -> float:
    """Exponential in the attempts so far, with jitter (half fixed, half random) so retries spread."""
    ceiling = min(max_s, base_s * 2 ** max(0, attempts - 1))
    return float(ceiling) / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


def announcer(runtime: Runtime) -> Announce:
    """Publishes a ``NotificationFailed`` on ``notify.events.v1``; raises ``PublishFailed`` when Kafka did not ack."""

    async def announce(event: NotificationFailed) -> None:
        await publish(
            runtime.broker, Topic.NOTIFY_EVENTS, event, source=runtime.source, timeout_s=runtime.publish_timeout_s
        )

    return announce


class Engine(Generic[T]):
    def __init__(
        self,
        name: str,
        queue: DueQueue,
        plug: Plug[T],
        *,
        concurrency: int,
        batch: int,
        lease_s: float,
        poll_s: float,
        idle: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``idle``: run when a turn of the loop found nothing due (the webhooks' announcement sweep)."""
        self.name, self.queue, self.plug = name, queue, plug
        self.concurrency, self.batch, self.lease_s, self.poll_s = concurrency, max(1, batch), lease_s, poll_s
        self.idle = idle
        # Items this process stored first, with their due score: sent without reading them back.
        self._fresh: dict[str, tuple[float, T]] = {}
        self._busy = 0  # keys taken and not yet settled
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    # -- scheduling -----------------------------------------------------------------------

    async def schedule(self, due: Mapping[str, float], fresh: Mapping[str, T]) -> None:
        """Put stored keys in the queue at their due times (``fresh``: stored by this call, kept in memory).

        A repeat of a stored one is scheduled too (ZADD NX): the first try may have died before."""
        for key, item in fresh.items():
            self._fresh[key] = (due[key], item)
        while len(self._fresh) > FRESH_KEPT:  # taken by another instance: it reads them from the store
            del self._fresh[next(iter(self._fresh))]
        await self.queue.add(due)
        self._wake.set()

    def wake(self) -> None:
        """Look for due work now rather than at the next poll."""
        self._wake.set()

    # -- running --------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name=f"{self.name}-send")

    async def stop(self) -> None:
        await cancelled(self._loop)
        self._loop = None
        await finish_or_cut(self._sends)  # cut, not finished: their leases lapse and they are due again

    async def _run(self) -> None:
        """Takes due keys (fresh ones and retries alike) while send slots are free."""
        while True:
            free = self.concurrency - self._busy
            keys: list[tuple[str, float]] = []
            try:
                if not await self.queue.ready():
                    await self.rebuild()
                if free > 0:
                    keys = await self.queue.take(time.time(), self.lease_s, min(free, self.batch))
            except (StoreError, RedisError) as exc:
                log.warning("%s: due items cannot be read: %s", self.name, exc)
            if keys:
                self._busy += len(keys)
                task = asyncio.create_task(self._send_batch(keys), name=f"{self.name}-batch")
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)
                continue
            if self.idle is not None:
                await self.idle()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()

    async def _send_batch(self, keys: Sequence[tuple[str, float]]) -> None:
        try:
            await self.send(keys)
        except (StoreError, RedisError) as exc:  # the leases lapse and the keys are due again
            log.warning("%s: %s...: store unavailable (%s)", self.name, keys[0][0], exc)
        except Exception:
            log.exception("%s: %s...: unexpected failure", self.name, keys[0][0])
        finally:
            self._busy -= len(keys)
            self._wake.set()

    async def rebuild(self) -> None:
        """Schedule every stored item not finished (Redis was empty: first start, or lost)."""
        log.info("%s due queue: rebuilding from the store", self.name)
        due = await self.plug.unfinished()
        await self.queue.add(due)
        await self.queue.mark_ready()
        log.info("%s due queue: %d unfinished items scheduled", self.name, len(due))

    async def send(self, keys: Sequence[tuple[str, float]]) -> None:
        """Send the taken ``(key, score)``s: fresh ones from memory, others as the store has them."""
        now = datetime.now(UTC)
        items: list[T] = []
        for key, score in keys:
            cached = self._fresh.pop(key, None)
            # The score it was scheduled with: no one held it before (a holder moves it on).
            if cached is not None and cached[0] == score:
                items.append(cached[1])
                continue
            loaded = await self.plug.load(key, now)
            if loaded is None:
                continue
            if isinstance(loaded, Later):
                await self.queue.later(key, loaded.at)
            elif loaded == DONE:
                await self.queue.done([key])
            else:
                items.append(loaded)  # neither DONE, Later nor None: an item
        if items:
            await self.plug.send(items, now)
