"""``PublishWindow``: publishes join a window, are handed over together when it closes, and each
caller waits once, for its acknowledgements or the reason there are none (its deadline included)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from typing import Any

import pytest

from snapfix_shared.publish_window import AckCancelled, HandOver, PublishWindow

pytestmark = pytest.mark.unit

CALLER = contextvars.ContextVar("caller", default="none")


class Producer:
    """Takes publishes (a hand-over per publish) and acknowledges them when the test says so."""

    def __init__(self) -> None:
        self.handed: list[str] = []
        self.at: list[float] = []
        self.acks: dict[str, list[asyncio.Future[None]]] = {}
        self.contexts: list[str] = []

    def hand_over(self, name: str, messages: int = 1, stall_s: float = 0.0, fail: bool = False) -> HandOver:
        async def handing() -> Sequence[asyncio.Future[Any]]:
            loop = asyncio.get_running_loop()
            self.contexts.append(CALLER.get())
            if stall_s:
                await asyncio.sleep(stall_s)  # waiting for metadata, say
            if fail:
                raise ValueError(f"{name}: too large")
            self.handed.append(name)
            self.at.append(loop.time())
            acks: list[asyncio.Future[None]] = [loop.create_future() for _ in range(messages)]
            self.acks[name] = acks
            return acks

        return handing

    def ack(self, name: str, error: BaseException | None = None) -> None:
        for ack in self.acks[name]:
            if error is None:
                ack.set_result(None)
            else:
                ack.set_exception(error)


async def test_publishes_in_one_window_are_handed_over_together_when_it_closes() -> None:
    window, producer = PublishWindow(0.2), Producer()
    loop = asyncio.get_running_loop()
    opened = loop.time()
    waiting = []
    for name in ("a", "b", "c"):
        waiting.append(window.join(producer.hand_over(name), timeout_s=5))
        await asyncio.sleep(0.05)  # the second and third join the window the first opened
    await asyncio.sleep(0.03)
    assert producer.handed == [], "handed over before the window closed"
    await asyncio.sleep(0.1)
    assert producer.handed == ["a", "b", "c"]  # in the order they joined
    assert min(producer.at) - opened >= 0.19
    # In one turn of the loop: all handed to the producer before its sender runs.
    assert max(producer.at) - min(producer.at) < 0.01
    assert not any(w.done() for w in waiting), "settled before the broker acknowledged"
    producer.ack("a")
    producer.ack("c")
    await asyncio.sleep(0)
    assert [w.done() for w in waiting] == [True, False, True]
    producer.ack("b")
    assert await asyncio.gather(*waiting) == [None, None, None]


async def test_a_publish_waits_for_every_one_of_its_messages() -> None:
    window, producer = PublishWindow(0.01), Producer()
    waiting = window.join(producer.hand_over("three", messages=3), timeout_s=5)
    await asyncio.sleep(0.05)
    producer.acks["three"][0].set_result(None)
    producer.acks["three"][2].set_result(None)
    await asyncio.sleep(0)
    assert not waiting.done()
    producer.acks["three"][1].set_result(None)
    await asyncio.wait_for(waiting, 1)


async def test_a_refused_acknowledgement_fails_that_publish_alone() -> None:
    window, producer = PublishWindow(0.01), Producer()
    refused = window.join(producer.hand_over("refused", messages=2), timeout_s=5)
    kept = window.join(producer.hand_over("kept"), timeout_s=5)
    await asyncio.sleep(0.05)
    producer.acks["refused"][0].set_exception(ConnectionError("not enough replicas"))
    producer.ack("kept")
    with pytest.raises(ConnectionError, match="not enough replicas"):
        await asyncio.wait_for(refused, 1)
    await asyncio.wait_for(kept, 1)
    producer.acks["refused"][1].set_result(None)  # a late ack changes nothing
    await asyncio.sleep(0)


async def test_a_cancelled_acknowledgement_is_a_failure_not_a_cancellation_of_the_caller() -> None:
    window, producer = PublishWindow(0.01), Producer()
    waiting = window.join(producer.hand_over("closed"), timeout_s=5)
    await asyncio.sleep(0.05)
    producer.acks["closed"][0].cancel()
    with pytest.raises(AckCancelled):
        await asyncio.wait_for(waiting, 1)


async def test_a_hand_over_that_fails_fails_that_publish_and_the_next_is_handed_over() -> None:
    window, producer = PublishWindow(0.01), Producer()
    failing = window.join(producer.hand_over("big", fail=True), timeout_s=5)
    fine = window.join(producer.hand_over("fine"), timeout_s=5)
    with pytest.raises(ValueError, match="too large"):
        await asyncio.wait_for(failing, 1)
    assert producer.handed == ["fine"]
    producer.ack("fine")
    await asyncio.wait_for(fine, 1)


async def test_a_publish_cancelled_before_the_window_closes_is_not_handed_over() -> None:
    window, producer = PublishWindow(0.1), Producer()
    first = window.join(producer.hand_over("first"), timeout_s=5)
    second = window.join(producer.hand_over("second"), timeout_s=5)
    await asyncio.sleep(0.02)
    first.cancel()  # its caller stopped waiting (its request's own deadline, say)
    await asyncio.sleep(0.15)
    assert producer.handed == ["second"]
    producer.ack("second")
    await asyncio.wait_for(second, 1)
    assert first.cancelled()


async def test_a_hand_over_that_stalls_fails_within_the_timeout_and_the_rest_are_never_handed_over() -> None:
    window, producer = PublishWindow(0.01), Producer()
    loop = asyncio.get_running_loop()
    started = loop.time()
    stalled = window.join(producer.hand_over("stalled", stall_s=1.0), timeout_s=0.2)
    behind = window.join(producer.hand_over("behind"), timeout_s=5)
    for waiting in (stalled, behind):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(waiting, 1)
    # The window's one deadline is the earliest any publish in it asked for.
    assert 0.19 <= loop.time() - started < 0.4
    await asyncio.sleep(1.0)
    assert producer.handed == [], "handed over after its caller was told it failed"


async def test_a_publish_not_acknowledged_in_time_fails() -> None:
    window, producer = PublishWindow(0.01), Producer()
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiting = window.join(producer.hand_over("unanswered"), timeout_s=0.1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(waiting, 1)
    assert loop.time() - started < 0.3
    producer.ack("unanswered")  # the broker answers too late: nothing changes
    await asyncio.sleep(0)


async def test_a_publish_after_the_window_closed_opens_a_new_one() -> None:
    window, producer = PublishWindow(0.05), Producer()
    loop = asyncio.get_running_loop()
    first = window.join(producer.hand_over("first"), timeout_s=5)
    await asyncio.sleep(0.08)
    producer.ack("first")
    await first
    started = loop.time()
    second = window.join(producer.hand_over("second"), timeout_s=5)
    await asyncio.sleep(0.02)
    assert producer.handed == ["first"]
    await asyncio.sleep(0.05)
    assert producer.handed == ["first", "second"]
    assert producer.at[1] - started >= 0.045
    producer.ack("second")
    await second


async def test_the_hand_over_runs_in_a_context_of_its_own_not_the_opening_callers() -> None:
    window, producer = PublishWindow(0.01), Producer()
    CALLER.set("the first caller")  # trace context travels with each message, explicitly
    waiting = window.join(producer.hand_over("one"), timeout_s=5)
    await asyncio.sleep(0.05)
    assert producer.contexts == ["none"]
    producer.ack("one")
    await waiting


def test_a_window_left_open_by_a_stopped_loop_does_not_hold_the_next_loops_publishes() -> None:
    window, producer = PublishWindow(0.05), Producer()

    async def abandoned() -> None:
        waiting = window.join(producer.hand_over("abandoned"), timeout_s=5)
        await asyncio.sleep(0.01)
        assert not waiting.done()  # the loop ends with the window open

    asyncio.run(abandoned())

    async def next_loop() -> None:
        waiting = window.join(producer.hand_over("next"), timeout_s=5)
        await asyncio.sleep(0.1)
        producer.ack("next")
        await asyncio.wait_for(waiting, 1)

    asyncio.run(next_loop())
    assert producer.handed == ["next"]
