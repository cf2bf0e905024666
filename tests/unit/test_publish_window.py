"""``PublishWindow``: publishes wait for each other up to the linger, then go together."""

from __future__ import annotations

import asyncio

import pytest

from snapfix_shared.kafka import PublishWindow

pytestmark = pytest.mark.unit


def test_no_linger_never_suspends() -> None:
    waiting = PublishWindow(0).wait()
    with pytest.raises(StopIteration):  # finished on its first step: no turn of the loop given up
        waiting.send(None)


async def test_publishes_in_one_window_are_released_together_when_it_closes() -> None:
    window = PublishWindow(0.2)
    loop = asyncio.get_running_loop()
    released: dict[int, float] = {}

    async def publish(n: int) -> None:
        await window.wait()
        released[n] = loop.time()

    opened = loop.time()
    tasks = []
    for n in range(3):
        tasks.append(asyncio.create_task(publish(n)))
        await asyncio.sleep(0.05)  # the second and third join the window the first opened
    await asyncio.sleep(0.03)
    assert released == {}, "released before the window closed"
    await asyncio.gather(*tasks)
    assert min(released.values()) - opened >= 0.19
    # Released in one turn of the loop: handed to the producer before its sender runs.
    assert max(released.values()) - min(released.values()) < 0.01


async def test_a_cancelled_publish_leaves_the_others_waiting_for_the_window() -> None:
    window = PublishWindow(0.1)
    first = asyncio.create_task(window.wait())
    second = asyncio.create_task(window.wait())
    await asyncio.sleep(0.02)
    first.cancel()
    await asyncio.sleep(0)
    assert not second.done()
    await asyncio.wait_for(second, 1)
    assert first.cancelled()


async def test_a_publish_after_the_window_closed_opens_a_new_one() -> None:
    window = PublishWindow(0.05)
    loop = asyncio.get_running_loop()
    await window.wait()
    started = loop.time()
    await window.wait()
    assert loop.time() - started >= 0.045


def test_a_window_left_open_by_a_stopped_loop_does_not_hold_the_next_loops_publishes() -> None:
    window = PublishWindow(0.05)

    async def abandoned() -> None:
        waiting = asyncio.ensure_future(window.wait())
        await asyncio.sleep(0.01)
        assert not waiting.done()  # the loop ends with the window open

    asyncio.run(abandoned())

    async def next_loop() -> None:
        await asyncio.wait_for(window.wait(), 1)

    asyncio.run(next_loop())
