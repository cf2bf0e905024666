"""``BatchConsumer``: the loop the batch subscribers share, with a fake runtime that records dead letters.

Poison goes to the DLQ and the batch goes on; a message repeated within the batch is applied once;
a transient failure is retried; one that outlasts the deadline, or a stop, propagates (the batch
is not committed); a permanent failure is dead-lettered as ``failed``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from uuid_utils.compat import uuid7

from snapfix_shared import consuming
from snapfix_shared.consuming import BatchConsumer, ShuttingDown, bind_stopping
from snapfix_shared.messages import USER_EVENTS, UserDeleted, UserEvent, UserRegistered
from snapfix_shared.messages.base import utcnow
from tests.builders import DeadLetters, consumed

pytestmark = pytest.mark.unit

TOPIC = "users.events.v1"

Record = ConsumerRecord[Any, Any]


def consumer(runtime: DeadLetters, *, followed: frozenset[str] | None = frozenset({"UserDeleted"})) -> Any:
    return BatchConsumer(runtime, "unit-group", USER_EVENTS, (ConnectionError,), followed)  # type: ignore[arg-type]


def deleted() -> UserDeleted:
    user = uuid7()
    return UserDeleted(correlation_id="unit", actor_id=str(user), user_id=user, deleted_at=utcnow())


def registered() -> UserRegistered:
    return UserRegistered(
        correlation_id="unit", user_id=uuid7(), email="a@example.org", display_name="A", role="citizen"
    )


async def test_poison_is_dead_lettered_others_are_skipped_and_a_repeat_is_applied_once() -> None:
    runtime, applied = DeadLetters(), []
    first, second = deleted(), deleted()

    async def erase(event: UserEvent) -> str:
        applied.append(event.message_id)
        return f"erased {event.message_id}"

    batch = consumed(TOPIC, first, b"not json", registered(), b'{"type": "UserDeleted"}', first, second, b"[1]")
    done = await consumer(runtime).apply_each(batch, erase)

    assert applied == [first.message_id, second.message_id]  # in record order, the repeat at offset 4 dropped
    assert [(result, record.offset) for result, record in done] == [
        (f"erased {first.message_id}", 0),
        (f"erased {second.message_id}", 5),
    ]
    assert [(offset, group, reason) for offset, group, reason, _ in runtime.dead] == [
        (1, "unit-group", "invalid"),
        (3, "unit-group", "invalid"),
        (6, "unit-group", "invalid"),
    ]


async def test_without_followed_types_every_message_of_the_adapter_is_taken_and_repeats_once() -> None:
    runtime = DeadLetters()
    one, two = registered(), deleted()
    parsed = await consumer(runtime, followed=None).messages(
        consumed(TOPIC, one, b'{"type": "UserFromTheFuture"}', two, one)
    )

    assert [(message, record.offset) for message, record in parsed] == [(one, 0), (two, 2)]
    assert [(offset, reason) for offset, _, reason, _ in runtime.dead] == [(1, "invalid")]


async def test_a_transient_failure_is_retried_until_the_effect_is_stored() -> None:
    runtime, attempts = DeadLetters(), 0

    async def erase(_: UserEvent) -> int:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("the store went away for a moment")
        return attempts

    done = await consumer(runtime).apply_each(consumed(TOPIC, deleted()), erase)

    assert [result for result, _ in done] == [3]
    assert runtime.dead == []


async def test_a_permanent_failure_is_dead_lettered_as_failed_and_the_batch_goes_on() -> None:
    runtime, applied = DeadLetters(), []
    broken, fine = deleted(), deleted()

    async def erase(event: UserEvent) -> None:
        if event == broken:
            raise ValueError("the same every time")
        applied.append(event.message_id)

    done = await consumer(runtime).apply_each(consumed(TOPIC, broken, fine), erase)

    assert applied == [fine.message_id]
    assert [record.offset for _, record in done] == [1]
    assert runtime.dead == [(0, "unit-group", "failed", "ValueError: the same every time")]


async def test_a_transient_failure_past_the_deadline_propagates_and_nothing_is_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consuming, "RETRY_DEADLINE_S", 0.3)
    runtime, later = DeadLetters(), []

    async def erase(event: UserEvent) -> None:
        later.append(event.message_id)
        raise ConnectionError("the store is down")

    first, second = deleted(), deleted()
    with pytest.raises(ConnectionError):
        await consumer(runtime).apply_each(consumed(TOPIC, first, second), erase)

    assert set(later) == {first.message_id}  # the batch stopped at the first: it comes back whole
    assert runtime.dead == []


async def test_a_stop_abandons_the_retry_at_once_and_leaves_the_batch_uncommitted() -> None:
    runtime, stopping, calls = DeadLetters(), asyncio.Event(), []

    async def erase(event: UserEvent) -> None:
        calls.append(event.message_id)
        raise ConnectionError("the store is down")

    async def handle() -> None:
        bind_stopping(stopping)  # this task's context, as the runtime binds its consumers'
        await consumer(runtime).apply_each(consumed(TOPIC, deleted(), deleted()), erase)

    task = asyncio.create_task(handle())
    await asyncio.sleep(0.3)
    assert not task.done()  # retrying the first record (the deadline is 30 s)
    stopping.set()
    started = time.monotonic()
    with pytest.raises(ShuttingDown):
        await asyncio.wait_for(task, 2)

    assert time.monotonic() - started < 1
    assert len(set(calls)) == 1  # the second record was never reached
    assert runtime.dead == []  # a stop is not poison


async def test_retry_runs_a_per_batch_effect_on_the_consumers_transient_errors() -> None:
    attempts = 0

    async def publish(batch: list[str]) -> int:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("not acknowledged")
        return len(batch)

    assert await consumer(DeadLetters()).retry(publish, ["a", "b"]) == 2
    assert attempts == 2
