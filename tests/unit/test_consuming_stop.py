"""The pure parts of bounded stops and poison checks: a waiting retry gives up once the process
stops; CloudEvents headers that contradict a body are found; undecodable headers parse."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import ConsumerRecord
from uuid_utils.compat import uuid7

from snapfix_shared.consuming import ShuttingDown, bind_stopping, retry_transient
from snapfix_shared.kafka import cloudevent_headers, cloudevents_mismatch, tolerant_parser
from snapfix_shared.messages import UserRegistered

pytestmark = pytest.mark.unit


async def test_a_retry_waiting_for_a_store_gives_up_at_once_when_the_process_stops() -> None:
    stopping, calls = asyncio.Event(), 0

    async def store() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("the store is down")

    async def handler() -> None:
        bind_stopping(stopping)  # this task's context only, as the runtime does for its consumers
        await retry_transient((ConnectionError,), store)

    task = asyncio.create_task(handler())
    await asyncio.sleep(0.3)
    assert not task.done()  # retrying (its deadline is 30 s)
    stopping.set()
    started = time.monotonic()
    with pytest.raises(ShuttingDown):
        await asyncio.wait_for(task, 2)
    assert time.monotonic() - started < 1
    assert calls >= 1


async def test_without_a_stop_a_retry_goes_on_until_the_store_is_back() -> None:
    calls = 0

    async def store() -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("not yet")
        return calls

    async def handler() -> int:
        bind_stopping(asyncio.Event())  # bound, never set
        return await retry_transient((ConnectionError,), store)

    assert await asyncio.create_task(handler()) == 3


def _record(value: bytes, headers: list[tuple[str, Any]]) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic="users.events.v1",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value),
        headers=headers,
    )


def _registered() -> UserRegistered:
    return UserRegistered(
        correlation_id=f"t-{uuid4()}", user_id=uuid7(), email="a@example.org", display_name="A", role="citizen"
    )


def test_cloudevents_headers_that_agree_or_are_absent_are_fine_and_a_contradiction_is_named() -> None:
    event = _registered()
    agreeing = [(k, v.encode()) for k, v in cloudevent_headers(event, "/t").items()]
    assert cloudevents_mismatch(_record(b"{}", agreeing), event) is None
    assert cloudevents_mismatch(_record(b"{}", []), event) is None
    other = [(k, b"dev.snapfix.Other.v1" if k == "ce_type" else v) for k, v in agreeing]
    found = cloudevents_mismatch(_record(b"{}", other), event)
    assert found is not None
    assert "ce_type" in found
    assert "UserRegistered" in found
    another_id = [(k, str(uuid7()).encode() if k == "ce_id" else v) for k, v in agreeing]
    assert "ce_id" in (cloudevents_mismatch(_record(b"{}", another_id), event) or "")


async def test_header_values_that_are_not_text_or_null_still_parse() -> None:
    async def strict(msg: Any) -> Any:  # FastStream's parser decodes every value as UTF-8
        records = msg if isinstance(msg, tuple) else (msg,)
        return [{k: v.decode() for k, v in r.headers} for r in records]

    bad = _record(b"x", [("ce_type", b"\xff\xfe"), ("x-null", None), ("ok", b"fine")])
    parsed = await tolerant_parser((bad, _record(b"y", [("ok", b"fine")])), strict)
    assert parsed[0]["ok"] == "fine"
    assert parsed[0]["x-null"] == ""
    assert "\ufffd" in parsed[0]["ce_type"]
    assert parsed[1] == {"ok": "fine"}
    with pytest.raises(UnicodeDecodeError):
        await strict(bad)
