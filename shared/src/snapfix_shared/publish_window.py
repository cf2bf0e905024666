"""The publish window: Java's ``linger.ms`` across partitions, and one wait per publish.

aiokafka lingers per partition and sends only the batches whose linger is over, so keyed
messages spread over 24 partitions would still go one produce request each. Handing them to
the producer together instead (in one turn of the loop, with its own linger 0) puts every
partition's batch in one request, which costs the producer and the broker far less than a
request each (the figures: docs/operations.md, "Scale").

The first publish opens a window; every publish that joins before it closes is handed over
with it, in order, by one task of the window's (``Flight``). Its caller waits once, for one
future: settled when the broker has acknowledged all its messages, or failed with the reason
(the handing over's error, the first refused acknowledgement, or ``TimeoutError`` once its
``timeout_s`` has passed, handing over included). So a publish suspends its caller once and
arms no timer of its own: the window's flight arms one deadline for all of them (the
earliest any of them asked for). Waiting for the window and then for the acknowledgements,
each under its own deadline, cost the edge a task step, a future and a timer per report.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

# Hands a publish's messages to the producer; the futures of their acknowledgements.
HandOver = Callable[[], Awaitable[Sequence["asyncio.Future[Any]"]]]

# Flights whose task is still handing over (the loop keeps only weak references to tasks).
_FLYING: set[asyncio.Task[None]] = set()


class AckCancelled(RuntimeError):
    """The producer cancelled a message's acknowledgement (it was closed): not known to be stored."""


class PublishWindow:
    """Publishes that join within ``linger_s`` of the first are handed over together."""

    def __init__(self, linger_s: float) -> None:
        self.linger_s = linger_s
        self._open: list[Publish] = []
        self._deadline = math.inf
        self._loop: asyncio.AbstractEventLoop | None = None

    def join(self, hand_over: HandOver, timeout_s: float) -> asyncio.Future[None]:
        """A future settled when the publish's messages are all acknowledged (None) or cannot be
        (its exception). Cancelling it before the window closes keeps the publish from being
        handed over."""
        loop = asyncio.get_running_loop()
        if not self._open or loop is not self._loop:  # none open (or one a stopped loop left)
            self._open, self._loop, self._deadline = [], loop, math.inf
            loop.call_later(self.linger_s, self._close)
        publish = Publish(hand_over, loop.create_future())
        self._open.append(publish)
        self._deadline = min(self._deadline, loop.time() + timeout_s)
        return publish.done

    def _close(self) -> None:
        flight, self._open = Flight(self._open, self._deadline), []  # the next join opens another
        flight.start()


class Publish:
    """One caller's messages in a window: how to hand them over, and the future it waits for."""

    __slots__ = ("done", "flight", "hand_over", "unacked")

    def __init__(self, hand_over: HandOver, done: asyncio.Future[None]) -> None:
        self.hand_over, self.done = hand_over, done
        self.unacked = 0
        self.flight: Flight | None = None

    def wait_for(self, acks: Sequence[asyncio.Future[Any]]) -> None:
        """Settle once every ack is in (or the first one fails)."""
        self.unacked = len(acks)
        if not acks:
            self.settle(None)
        for ack in acks:
            ack.add_done_callback(self._acked)

    def _acked(self, ack: asyncio.Future[Any]) -> None:
        if ack.cancelled():
            self.settle(AckCancelled("the producer cancelled an acknowledgement"))
            return
        error = ack.exception()
        if error is not None:
            self.settle(error)
            return
        self.unacked -= 1
        if self.unacked == 0:
            self.settle(None)

    def settle(self, error: BaseException | None) -> None:
        """Tell the caller (unless it stopped waiting, or was told already), then the flight."""
        if not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)
        flight, self.flight = self.flight, None
        if flight is not None:
            flight.settled()


class Flight:
    """A closed window's publishes: handed over in order by one task, due by one deadline."""

    def __init__(self, publishes: list[Publish], deadline: float) -> None:
        self.publishes, self.deadline = publishes, deadline
        self.unsettled = len(publishes)
        self.expiry: asyncio.TimerHandle | None = None
        for publish in publishes:
            publish.flight = self

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        # A context of its own: not the one of the publish that happened to open the window.
        task = loop.create_task(self._hand_over(), context=contextvars.Context())
        _FLYING.add(task)
        task.add_done_callback(_FLYING.discard)
        self.expiry = loop.call_at(self.deadline, self._expire, task)

    async def _hand_over(self) -> None:
        for publish in self.publishes:
            if publish.done.done():  # its caller stopped waiting before its turn: not handed over
                publish.settle(None)
                continue
            try:
                acks = await publish.hand_over()
            except Exception as exc:  # noqa: BLE001 - this publish's failure, told to its caller
                publish.settle(exc)
                continue
            publish.wait_for(acks)

    def _expire(self, task: asyncio.Task[None]) -> None:
        """The deadline: every publish not settled yet fails; whatever was not handed over, never is."""
        self.expiry = None
        task.cancel()
        for publish in self.publishes:
            publish.settle(TimeoutError("not acknowledged within the publish timeout"))

    def settled(self) -> None:
        self.unsettled -= 1
        if self.unsettled == 0 and self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
