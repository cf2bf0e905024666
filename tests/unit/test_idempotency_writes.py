"""``Idempotency.write_kept``: a repeat finds an answer while it is being written, however writes overlap.

A repeat whose claim Redis answered "pending" (the first request's answer not written yet) is
answered from the process's own copy: not written yet, being written, or the last batch written.
Two writes at once (the flusher's, and a dropped claim's, written at once) used to lose the
second batch from that copy while it was still being written: the repeat got a 409.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest

from snapfix_gateway.idempotency import Claim, ClaimOutcome, Idempotency

pytestmark = pytest.mark.unit


class HeldRedis:
    """Redis pipelines whose ``execute`` waits until the test lets it go."""

    def __init__(self) -> None:
        self.held: list[tuple[list[str], asyncio.Event]] = []

    def pipeline(self, *, transaction: bool) -> HeldPipeline:
        assert not transaction  # one round trip, no MULTI
        return HeldPipeline(self)


class HeldPipeline:
    def __init__(self, redis: HeldRedis) -> None:
        self.redis = redis
        self.keys: list[str] = []

    async def __aenter__(self) -> HeldPipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def set(self, key: str, _value: bytes, *, ex: int) -> None:
        assert ex > 0  # every answer kept expires
        self.keys.append(key)

    def delete(self, key: str) -> None:
        self.keys.append(key)

    async def execute(self) -> None:
        gate = asyncio.Event()
        self.redis.held.append((self.keys, gate))
        await gate.wait()


def answer(body: bytes) -> bytes:
    return orjson.dumps(
        {"fp": "f", "state": "done", "status": 202, "headers": [], "body": base64.b64encode(body).decode()}
    )


async def repeat_of(idempotency: Idempotency, key: str) -> tuple[int, bytes]:
    """What a repeat of ``key`` is answered while Redis still holds the claim as pending."""
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def app(*_: Any) -> None:
        raise AssertionError("a repeat is not processed again")

    pending = ClaimOutcome(claimed=False, kept=orjson.dumps({"fp": "f", "state": "pending"}))
    scope = {"type": "http", "method": "POST", "path": "/v1/issues", "headers": [], "query_string": b""}
    await idempotency.respond(app, scope, receive, send, claim=Claim("u:1", key, "f"), outcome=pending)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_answer_stays_findable_while_an_earlier_write_ends_before_its_own() -> None:
    redis = HeldRedis()
    idempotency = Idempotency(redis, ttl_s=60, keep_every_s=0.1)  # type: ignore[arg-type]
    idempotency._unwritten["first"] = answer(b"one")
    flush = asyncio.create_task(idempotency.write_kept())  # the flusher's write, held in Redis
    await settle()
    # Meanwhile another request's answer, then a dropped claim written at once.
    idempotency._unwritten["second"] = answer(b"two")
    idempotency._unwritten["dropped"] = None
    at_once = asyncio.create_task(idempotency.write_kept())
    await settle()
    assert await repeat_of(idempotency, "second") == (202, b"two")

    redis.held[0][1].set()  # the first write ends, the second is still to be written or in flight
    await flush
    await settle()
    assert await repeat_of(idempotency, "second") == (202, b"two")
    assert await repeat_of(idempotency, "first") == (202, b"one")

    for _keys, gate in redis.held[1:]:
        gate.set()
    await at_once
    assert await repeat_of(idempotency, "second") == (202, b"two")
    assert sorted(k for keys, _ in redis.held for k in keys) == ["dropped", "first", "second"]
