"""A dead-lettered media command keeps its record: the body byte for byte, its key and headers.

Regression: dead letters on ``media.commands.v1.dlq`` with ``dlq_reason: unknown`` had the
16-byte body ``application/json`` (the record's last header value, its ``content-type``) instead
of the ``ProcessMedia`` command: ``dead_letter``'s header loop reused the name of the body.

The media service runs in this process, on a database and consumer groups of this test's own;
the commands are produced to the real ``media.commands.v1`` as a producer would, for a photo
that was never uploaded, and the dead letters are read back raw from its DLQ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from uuid_utils.compat import uuid7

from snapfix_media.app import create_app
from snapfix_media.config import MediaSettings
from snapfix_shared.kafka import cloudevent_headers
from snapfix_shared.messages import ProcessMedia
from snapfix_shared.topics import Topic
from tests.integration.media_app import media_settings
from tests.stack import Stack, header, read_topic, start_groups_at_end, wait_caught_up

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@dataclass
class Service:
    settings: MediaSettings
    producer: AIOKafkaProducer


@pytest.fixture
async def service(stack: Stack) -> AsyncIterator[Service]:
    settings = media_settings(stack, "dlq")
    await start_groups_at_end(  # from now on: not the stack's whole history
        stack.kafka,
        {
            settings.consumer_group: Topic.MEDIA_COMMANDS,
            settings.media_users_group: Topic.USERS_EVENTS,
        },
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka, acks="all", enable_idempotence=True, request_timeout_ms=15_000
    )
    await producer.start()
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            yield Service(settings, producer)
    finally:
        await producer.stop()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, timeoutMS=10_000)
        await client.drop_database(settings.mongo_database)
        await client.close()


def _unknown_photo() -> ProcessMedia:
    """What the gateway sends once a photo is uploaded, here for one that never was."""
    return ProcessMedia(
        correlation_id=f"dlq-body-{uuid4()}",
        media_id=uuid7(),
        owner_id=str(uuid7()),
        content_type="image/jpeg",
        size=1234,
    )


async def _dead_letter_of(stack: Stack, service: Service, body: bytes, key: bytes, headers: list[Any]) -> Any:
    sent = await service.producer.send_and_wait(Topic.MEDIA_COMMANDS, body, key=key, headers=headers)
    await wait_caught_up(stack.kafka, service.settings.consumer_group, Topic.MEDIA_COMMANDS, timeout_s=60)
    group = service.settings.consumer_group
    [letter] = await read_topic(
        stack.kafka,
        Topic.MEDIA_COMMANDS.dlq,
        lambda r: r.key == key and header(r, "dlq_consumer_group") == group,
        timeout_s=20,
    )
    assert header(letter, "dlq_original_topic") == Topic.MEDIA_COMMANDS
    assert (header(letter, "dlq_original_partition"), header(letter, "dlq_original_offset")) == (
        str(sent.partition),
        str(sent.offset),
    )
    return letter


def _assert_headers_kept(letter: Any, headers: list[Any]) -> None:
    """The record's headers first, byte for byte and in order, then only what the DLQ adds."""
    assert [tuple(h) for h in letter.headers[: len(headers)]] == headers
    assert all(name.startswith("dlq_") for name, _ in letter.headers[len(headers) :])


async def test_a_dead_lettered_command_keeps_its_body_and_headers(stack: Stack, service: Service) -> None:
    """The reported shape: CloudEvents headers whose last value is ``application/json``."""
    command = _unknown_photo()
    body, key = command.model_dump_json().encode(), command.partition_key().encode()
    headers = [(k, v.encode()) for k, v in cloudevent_headers(command, "/gateway").items()]
    assert headers[-1] == ("content-type", b"application/json")  # what the broken letters held

    letter = await _dead_letter_of(stack, service, body, key, headers)

    assert letter.value == body  # byte for byte, not a header's value
    assert ProcessMedia.model_validate_json(letter.value) == command
    assert header(letter, "dlq_reason") == "unknown"
    assert f"no media {command.media_id}" in (header(letter, "dlq_error") or "")
    _assert_headers_kept(letter, headers)


async def test_headers_named_like_the_body_and_the_producers_trace_context_are_kept(
    stack: Stack, service: Service
) -> None:
    """Headers called ``value`` and ``body``, and a traceparent last (as the gateway's own sends end):
    the letter keeps the producer's trace context, not the consumer's span (FastStream's publish
    overwrote it)."""
    command = _unknown_photo()
    body, key = command.model_dump_json().encode(), command.partition_key().encode()
    headers = [
        *[(k, v.encode()) for k, v in cloudevent_headers(command, "/gateway").items()],
        ("correlation_id", command.correlation_id.encode()),
        ("value", b"not the body"),
        ("body", b"nor this"),
        ("traceparent", b"00-" + uuid4().hex.encode() + b"-" + uuid4().hex[:16].encode() + b"-01"),
    ]

    letter = await _dead_letter_of(stack, service, body, key, headers)

    assert letter.value == body
    assert header(letter, "dlq_reason") == "unknown"
    _assert_headers_kept(letter, headers)


async def test_header_values_that_are_not_text_are_kept_byte_for_byte(stack: Stack, service: Service) -> None:
    """Not UTF-8, null, repeated: FastStream's parser cannot read them (tolerant_parser lets the
    record through); the letter still carries them as they were consumed."""
    command = _unknown_photo()
    body, key = command.model_dump_json().encode(), command.partition_key().encode()
    headers = [
        *[(k, v.encode()) for k, v in cloudevent_headers(command, "/gateway").items()],
        ("x-binary", b"\xff\xfe\x00\x80"),
        ("x-null", None),
        ("x-repeated", b"first"),
        ("x-repeated", b"second"),
    ]

    letter = await _dead_letter_of(stack, service, body, key, headers)

    assert letter.value == body
    assert header(letter, "dlq_reason") == "unknown"
    _assert_headers_kept(letter, headers)
