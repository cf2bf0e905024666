"""The one delivery engine (snapfix_notify.dispatch.engine) with a fake queue and a fake plug:
what it sends from memory, what it asks the store about, and how many it holds at once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from snapfix_notify.dispatch.engine import DONE, Engine, HalfJitter, Later, Loaded


class Queue:
    """The due queue's interface (claims.DueQueue) over a dict: score = due time, take leases."""

    def __init__(self) -> None:
        self.scores: dict[str, float] = {}
        self.built = False

    async def add(self, due: Mapping[str, float]) -> None:
        for key, at in due.items():
            self.scores.setdefault(key, at)  # ZADD NX

    async def take(self, now: float, lease_s: float, limit: int) -> list[tuple[str, float]]:
        due = sorted((at, key) for key, at in self.scores.items() if at <= now)[:limit]
        for _, key in due:
            self.scores[key] = now + lease_s
        return [(key, at) for at, key in due]

    async def later(self, key: str, at: float) -> None:
        if key in self.scores:
            self.scores[key] = at

    async def done(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.scores.pop(key, None)

    async def ready(self) -> bool:
        return self.built

    async def mark_ready(self) -> None:
        self.built = True


class Plug:
    def __init__(self, stored: dict[str, Loaded[str]], unfinished: dict[str, float] | None = None) -> None:
        self.stored, self._unfinished = stored, unfinished or {}
        self.loaded: list[str] = []
        self.sent: list[list[str]] = []
        self.in_flight = self.most_in_flight = 0
        self.release = asyncio.Event()
        self.release.set()

    async def load(self, key: str, _now: datetime) -> Loaded[str]:
        self.loaded.append(key)
        return self.stored.get(key, DONE)

    async def send(self, items: list[str], _now: datetime) -> None:
        self.in_flight += len(items)
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.release.wait()
        self.sent.append(items)
        self.in_flight -= len(items)

    async def unfinished(self) -> dict[str, float]:
        return self._unfinished


def engine(queue: Queue, plug: Plug, *, concurrency: int = 4, batch: int = 2) -> Engine[str]:
    return Engine("test", queue, plug, concurrency=concurrency, batch=batch, lease_s=60, poll_s=0.01)  # type: ignore[arg-type]


async def test_fresh_items_go_from_memory_and_others_as_the_store_answers() -> None:
    queue, plug = Queue(), Plug({"retry": "retry-item", "postponed": Later(4e9), "left": None})
    queue.built = True
    e = engine(queue, plug)
    await e.schedule(
        {"fresh": 1.0, "retry": 1.0, "postponed": 1.0, "finished": 1.0, "left": 1.0}, {"fresh": "fresh-item"}
    )

    await e.send(await queue.take(2.0, 60, 10))

    assert sorted(plug.loaded) == ["finished", "left", "postponed", "retry"]  # never the fresh one
    assert sorted(x for batch in plug.sent for x in batch) == ["fresh-item", "retry-item"]
    assert "finished" not in queue.scores  # DONE: out of the queue
    assert queue.scores["postponed"] == 4e9  # Later: moved to its stored time
    assert queue.scores["left"] == 62.0  # None: left to its lease


async def test_a_fresh_item_taken_after_someone_held_it_is_read_back() -> None:
    queue, plug = Queue(), Plug({"k": "stored-version"})
    queue.built = True
    e = engine(queue, plug)
    await e.schedule({"k": 1.0}, {"k": "memory-version"})
    queue.scores["k"] = 1.5  # another holder's lease lapsed: the score moved on

    await e.send(await queue.take(2.0, 60, 10))

    assert plug.sent == [["stored-version"]]


async def test_the_loop_rebuilds_a_lost_queue_and_never_holds_more_than_its_concurrency() -> None:
    keys = {f"k{i}": 1.0 for i in range(10)}
    queue, plug = Queue(), Plug(dict.fromkeys(keys, "x"), unfinished=keys)
    plug.release.clear()
    e = engine(queue, plug, concurrency=4, batch=2)
    await e.start()
    try:
        for _ in range(100):
            if plug.in_flight >= 4:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert queue.built  # rebuilt from the plug's store
        assert plug.in_flight == 4  # two batches of two, no more until one settles
        plug.release.set()
        for _ in range(200):
            if sum(len(b) for b in plug.sent) == 10:
                break
            await asyncio.sleep(0.01)
    finally:
        await e.stop()
    assert sum(len(b) for b in plug.sent) == 10
    assert plug.most_in_flight == 4
    assert all(len(b) <= 2 for b in plug.sent)


def test_half_jitter_gives_up_once_the_attempts_are_spent() -> None:
    schedule: Any = HalfJitter(base_s=2.0, max_s=300.0, max_attempts=3)
    first, third = schedule.delay_s(1), schedule.delay_s(3)
    assert 1.0 <= first <= 2.0  # half of 2 s fixed, half random
    assert third is None
    assert 150.0 <= schedule.wait_s(20) <= 300.0  # capped; no give-up when only waiting
