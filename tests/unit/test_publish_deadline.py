"""A publish answers within ``timeout_s`` of its start, handing over included; a dead letter keeps its body.

The gateway stamps a command ``accept_by = now + timeout + skew`` and answers 202 once
``publish`` returns; the consumer dead-letters a command the broker appended after
``accept_by`` (its sender had been told 503). When the handing over itself waits (a broker
was killed: the producer waits for the partition's new leader) and only the wait for the
acknowledgement was bounded, a publish could return after ``accept_by``: a 202 for a
report the consumer then discarded as expired (found by `make chaos`, broker fault).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from opentelemetry import context as otel_context

from snapfix_shared.kafka import PublishFailed, publish_all
from snapfix_shared.topics import Topic
from tests.builders import make_report_command

pytestmark = pytest.mark.unit


class SlowBroker:
    """Takes ``hand_over_s`` to take a message (waiting for metadata), then acknowledges it ``ack_s`` later."""

    def __init__(self, hand_over_s: float, ack_s: float) -> None:
        self.hand_over_s, self.ack_s = hand_over_s, ack_s

    async def publish(self, *_args: Any, **_kwargs: Any) -> asyncio.Future[None]:
        await asyncio.sleep(self.hand_over_s)
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(self.ack_s, lambda: ack.done() or ack.set_result(None))
        return ack


async def test_a_publish_that_hands_over_slowly_fails_within_its_timeout() -> None:
    messages = [(make_report_command(), otel_context.get_current())]
    started = time.monotonic()
    with pytest.raises(PublishFailed):
        await publish_all(SlowBroker(0.3, 0.25), Topic.ISSUES_COMMANDS, messages, source="/test", timeout_s=0.4)  # type: ignore[arg-type]
    assert time.monotonic() - started < 0.5


async def test_a_publish_within_its_timeout_succeeds() -> None:
    messages = [(make_report_command(), otel_context.get_current())]
    await publish_all(SlowBroker(0.05, 0.05), Topic.ISSUES_COMMANDS, messages, source="/test", timeout_s=0.4)  # type: ignore[arg-type]


class CapturingBroker:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, str, dict[str, str]]] = []

    async def publish(self, value: bytes, topic: str, **kwargs: Any) -> None:
        self.sent.append((value, topic, kwargs["headers"]))


async def test_a_dead_letter_keeps_the_original_body() -> None:
    """Found by `make chaos`: every dead letter's body was its record's last header value."""
    from aiokafka.structs import ConsumerRecord

    from snapfix_shared.kafka import dead_letter

    body = make_report_command().model_dump_json().encode()
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        topic=Topic.ISSUES_COMMANDS,
        partition=3,
        offset=7,
        timestamp=0,
        timestamp_type=1,
        key=b"k",
        value=body,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(body),
        headers=[
            ("ce_type", b"dev.snapfix.ReportIssue.v1"),
            ("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01"),
        ],
    )
    broker = CapturingBroker()
    await dead_letter(broker, record, group="issues", reason="expired", error="late", timeout_s=1)  # type: ignore[arg-type]
    [(value, topic, headers)] = broker.sent
    assert topic == f"{Topic.ISSUES_COMMANDS}.dlq"
    assert value == body
    assert headers["traceparent"].startswith("00-")
    assert headers["dlq_reason"] == "expired"
