"""Kafka wiring: the broker factory, publishing with CloudEvents headers, dead letters.

Every producer is ``acks=all`` with idempotence; every subscriber gets an explicit
group and an ack policy that commits only after the handler returned.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from murmurhash2 import murmurhash2
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.semconv.trace import SpanAttributes
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY, CollectorRegistry, Counter

from snapfix_shared import consumer_lag
from snapfix_shared.kafka_security import broker_security
from snapfix_shared.messages.base import Command, Message
from snapfix_shared.publish_window import PublishWindow
from snapfix_shared.settings import KafkaSettings

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord
    from opentelemetry.trace import TracerProvider

log = logging.getLogger(__name__)

CLOUDEVENTS_SPEC = "1.0"
_SPEC = CLOUDEVENTS_SPEC.encode()
# Far above any valid message (the largest, a report, is a few tens of KiB), far below the
# broker's limit (1 MiB by default): a larger body is poison, refused before it is parsed,
# and its dead letter keeps this much of it (the whole record stays in its topic).
MAX_MESSAGE_BYTES = 256 * 1024
# Bounded stop: in-flight handlers get this long to finish (then they are cancelled, uncommitted).
STOP_GRACE_S = 4.0

DEAD_LETTERS = Counter(
    "snapfix_dead_letters_total",
    "Messages sent to a dead-letter topic",
    ["topic", "group", "reason"],
)
# The broker did not acknowledge a publish in time (the alert "Kafka publish errors" reads it).
PUBLISH_FAILURES = Counter("snapfix_publish_failures_total", "Publishes the broker did not acknowledge", ["topic"])
PUBLISHED = Counter("snapfix_published_messages_total", "Messages the broker acknowledged", ["topic"])
# Each topic's child, looked up once (``labels`` takes a lock and checks its values every time).
_published = functools.cache(PUBLISHED.labels)


_tracer = trace.get_tracer("snapfix_shared.kafka")


class PublishFailed(RuntimeError):
    """The broker did not acknowledge a message in time: the caller must not report success."""


_AIOKAFKA_PARTITIONER = DefaultPartitioner()
# Java's Utils.murmur2 seed: keyed records land where Java's producer (and aiokafka's) puts them.
_MURMUR2_SEED = 0x9747B28C


def java_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's default partitioner (Java's, for a keyed record) with murmur2 compiled.

    aiokafka's murmur2 is pure Python: about 12 µs per key, a fortieth of a report's CPU in the
    gateway; this one, 0.2 µs. The partition is the same (a unit test compares them), so an
    aggregate's records stay in the partition they always went to. An unkeyed record goes where
    aiokafka's own puts it.
    """
    if key is None:
        return int(_AIOKAFKA_PARTITIONER(key, all_partitions, available))
    return all_partitions[(murmurhash2(key, _MURMUR2_SEED) & 0x7FFFFFFF) % len(all_partitions)]


# The window of each broker made by create_broker (the broker is FastStream's; its producer is
# made when it connects, so the window is kept beside it rather than on it).
_WINDOWS: weakref.WeakKeyDictionary[KafkaBroker, PublishWindow] = weakref.WeakKeyDictionary()


def create_broker(
    settings: KafkaSettings,
    *,
    client_id: str,
    tracer_provider: TracerProvider | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas and never duplicates on retry."""
    broker = KafkaBroker(
        # FastStream takes one host per list item (aiokafka alone also splits commas).
        [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()],
        client_id=client_id,
        # TLS / SASL per settings; None (plaintext) unless SNAPFIX_KAFKA_SECURITY_PROTOCOL says so.
        security=broker_security(settings),
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        # aiokafka's own linger is per partition: PublishWindow lingers across them instead.
        linger_ms=0,
        partitioner=java_partitioner,
        allow_auto_create_topics=False,
        # Commit after the handler returns; on an unhandled error rewind and retry.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        graceful_timeout=STOP_GRACE_S,
        parser=tolerant_parser,
        middlewares=[
            KafkaTelemetryMiddleware(tracer_provider=tracer_provider),
            KafkaPrometheusMiddleware(registry=registry, app_name=client_id),
        ],
        logger=logging.getLogger(f"snapfix.{client_id}.kafka"),
        log_level=logging.DEBUG,  # per-message "Received/Processed" lines only when debugging
    )
    consumer_lag.track(broker)
    _WINDOWS[broker] = PublishWindow(settings.kafka_linger_ms / 1000)
    return broker


def _text_headers(record: ConsumerRecord[Any, Any]) -> ConsumerRecord[Any, Any]:
    headers = tuple(
        (str(key), value.decode(errors="replace").encode() if isinstance(value, bytes) else b"")
        for key, value in record.headers or ()
    )
    return dataclasses.replace(record, headers=headers)


async def tolerant_parser(msg: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's Kafka parser, safe from header values that are not UTF-8 text (or are null).

    FastStream decodes every header value as UTF-8 before any handler runs; a record with one
    that is not failed to parse and was neither dead-lettered nor rewound: silently skipped.
    Here such values are decoded with replacement characters for FastStream's view of the
    message, so the record reaches its handler, which judges the body (and dead-letters it,
    with the reason, when it is poison). The handler's ``raw_message`` stays the record as
    consumed, so its dead letter keeps those header values byte for byte.
    """
    try:
        return await original(msg)
    except (UnicodeDecodeError, AttributeError):
        if isinstance(msg, tuple | list):
            parsed = await original(tuple(_text_headers(r) for r in msg))
        else:
            parsed = await original(_text_headers(msg))
        if isinstance(parsed, StreamMessage):
            parsed.raw_message = msg
        return parsed


def ce_type(message: Message) -> str:
    return f"{message.ce_type_prefix}.{getattr(message, 'type', type(message).__name__)}.v{message.version}"


def cloudevents_mismatch(record: ConsumerRecord[Any, Any], message: object) -> str | None:
    """Why the record's CloudEvents attributes contradict its body; None when they agree or are absent.

    The body is the contract; the headers are its copy for other tools. A record whose copy
    says otherwise (another id or type) comes from a broken or forged producer: poison.
    """
    if not isinstance(message, Message) or not getattr(record, "headers", None):
        return None
    headers = header_map(record)
    expected = {"ce_specversion": CLOUDEVENTS_SPEC, "ce_id": str(message.message_id), "ce_type": ce_type(message)}
    wrong = [f"{k}={headers[k][:100]!r}, the body says {v!r}" for k, v in expected.items() if headers.get(k, v) != v]
    return f"CloudEvents headers contradict the body: {'; '.join(wrong)}" if wrong else None


def cloudevent_record_headers(message: Message, source: str) -> list[tuple[str, bytes]]:
    """CloudEvents Kafka binding (binary mode) attributes, as a record's headers, so any tool can read the stream."""
    return [
        ("ce_specversion", _SPEC),
        ("ce_id", str(message.message_id).encode()),
        ("ce_type", ce_type(message).encode()),
        ("ce_source", source.encode()),
        ("ce_time", message.occurred_at.isoformat().encode()),
        ("content-type", b"application/json"),
    ]


def cloudevent_headers(message: Message, source: str) -> dict[str, str]:
    """The same attributes as text (FastStream's publish takes them so)."""
    return {name: value.decode() for name, value in cloudevent_record_headers(message, source)}


async def publish(
    broker: KafkaBroker,
    topic: str,
    message: Message,
    *,
    source: str,
    timeout_s: float,
) -> None:
    """Publish one message, in the current trace, and wait for the broker's ack.

    Raises PublishFailed when the broker does not acknowledge within ``timeout_s``.
    """
    await publish_all(broker, topic, [(message, otel_context.get_current())], source=source, timeout_s=timeout_s)


def raw_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """The aiokafka producer under FastStream's broker, once connected (None under its test broker)."""
    state = getattr(getattr(getattr(broker, "config", None), "producer", None), "_producer", None)
    producer = getattr(state, "producer", None)
    return producer if isinstance(producer, AIOKafkaProducer) else None


async def publish_all(
    broker: KafkaBroker,
    topic: str,
    messages: Sequence[tuple[Message, Context]],
    *,
    source: str,
    timeout_s: float,
) -> None:
    """Publish messages keyed by aggregate id, each in its own trace context; wait for every ack,
    all within ``timeout_s`` of the call (handing over included).

    Raises PublishFailed if any is missing.
    With a connected broker each message goes straight to its aiokafka producer (the same
    one, acks=all and idempotent) under a producer span of its own trace: FastStream's
    per-message publish path cost a third of a consumer's CPU. Where the broker lingers (the
    edge), they join its publish window (``publish_window``) and are handed over with every
    publish in it; otherwise they are handed over at once.
    """
    producer = raw_producer(broker)
    window = _WINDOWS.get(broker)
    try:
        if producer is not None and window is not None and window.linger_s > 0:
            await window.join(functools.partial(_hand_over_all, producer, topic, messages, source), timeout_s)
        else:
            await _publish_now(broker, producer, topic, messages, source=source, timeout_s=timeout_s)
        _published(topic).inc(len(messages))
    except Exception as exc:
        PUBLISH_FAILURES.labels(topic).inc()
        raise PublishFailed(f"{topic}: {type(exc).__name__}: {exc}") from exc


async def _hand_over_all(
    producer: AIOKafkaProducer, topic: str, messages: Sequence[tuple[Message, Context]], source: str
) -> list[asyncio.Future[Any]]:
    return [await _send(producer, topic, message, trace_context, source) for message, trace_context in messages]


async def _publish_now(
    broker: KafkaBroker,
    producer: AIOKafkaProducer | None,
    topic: str,
    messages: Sequence[tuple[Message, Context]],
    *,
    source: str,
    timeout_s: float,
) -> None:
    acks: list[asyncio.Future[Any]] = []
    try:
        # One deadline for handing over and acknowledgement together: handing over waits when a
        # leader is gone (metadata), and the gateway's accept_by (now + timeout + skew) holds
        # only if a publish that returns has been appended within timeout_s of its start.
        async with asyncio.timeout(timeout_s):
            if producer is not None:
                acks = await _hand_over_all(producer, topic, messages, source)
            else:
                acks = await _through_faststream(broker, topic, messages, source)
            if len(acks) == 1:  # one command: no gathering future around it
                await acks[0]
            else:
                await asyncio.gather(*acks)
    except Exception:
        for ack in acks:
            ack.cancel()
        raise


async def _through_faststream(
    broker: KafkaBroker, topic: str, messages: Sequence[tuple[Message, Context]], source: str
) -> list[asyncio.Future[Any]]:
    """FastStream's own publish, before the broker connects its producer (and under its test broker)."""
    acks: list[asyncio.Future[Any]] = []
    for message, trace_context in messages:
        token = otel_context.attach(trace_context)
        try:
            ack = await broker.publish(
                message.model_dump_json().encode(),
                topic,
                key=message.partition_key().encode(),
                headers=cloudevent_headers(message, source),
                correlation_id=message.correlation_id,
                no_confirm=True,
            )
        finally:
            otel_context.detach(token)
        if ack is not None:  # FastStream's in-memory test broker delivers at once
            acks.append(ack)
    return acks


async def _send(
    producer: AIOKafkaProducer, topic: str, message: Message, trace_context: Context, source: str
) -> asyncio.Future[Any]:
    parent = trace.get_current_span(trace_context).get_span_context()
    if parent.is_valid and not parent.trace_flags.sampled:
        # A trace that is not sampled records no span: the producer span would be created only to
        # be dropped (a tenth of a report's cost at the edge). The context sent on is the parent's,
        # not sampled either, so nothing downstream records a span of this trace.
        return await _handed_over(producer, topic, message, trace_context, source)
    # The attributes FastStream's telemetry gives its publish spans.
    attributes = {
        SpanAttributes.MESSAGING_SYSTEM: "kafka",
        SpanAttributes.MESSAGING_OPERATION: "publish",
        SpanAttributes.MESSAGING_DESTINATION_NAME: topic,
        SpanAttributes.MESSAGING_MESSAGE_ID: str(message.message_id),
        SpanAttributes.MESSAGING_MESSAGE_CONVERSATION_ID: message.correlation_id,
    }
    token = otel_context.attach(trace_context)  # the publish's trace, whichever task hands it over
    try:
        with _tracer.start_as_current_span(
            f"{topic} publish", context=trace_context, kind=SpanKind.PRODUCER, attributes=attributes
        ):
            return await _handed_over(producer, topic, message, otel_context.get_current(), source)
    finally:
        otel_context.detach(token)


async def _handed_over(
    producer: AIOKafkaProducer, topic: str, message: Message, trace_context: Context, source: str
) -> asyncio.Future[Any]:
    headers = cloudevent_record_headers(message, source)
    headers.append(("correlation_id", message.correlation_id.encode()))
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace_context)  # the W3C trace context, as FastStream's middleware does
    headers.extend((name, value.encode()) for name, value in carrier.items())
    key = message.partition_key().encode()
    future: asyncio.Future[Any] = await producer.send(  # type: ignore[no-untyped-call]
        topic,
        value=message.model_dump_json().encode(),
        key=key,
        partition=partition_of(producer, topic, key),
        headers=headers,
    )
    return future


def partition_of(producer: AIOKafkaProducer, topic: str, key: bytes) -> int | None:
    """The partition of a keyed record, as the producer's partitioner (``java_partitioner``) picks it.

    Left to aiokafka, every record it partitions costs a new set of the topic's partitions
    that have a leader (a comprehension over all 24, about 4% of a report's Python bytecode at
    the edge) that a keyed record's partition does not depend on. None while the producer does
    not know the topic yet: aiokafka then waits for its metadata and picks the same partition.
    """
    partitions = producer.client.cluster.partitions_for_topic(topic)
    return java_partitioner(key, list(partitions), []) if partitions else None


def accepted_too_late(command: Command, record: ConsumerRecord[Any, Any]) -> bool:
    """True when the log appended the command after its sender had stopped waiting.

    Command topics use ``LogAppendTime``, so the record timestamp is the broker's clock.
    """
    if command.accept_by is None:
        return False
    appended = datetime.fromtimestamp(record.timestamp / 1000, UTC)
    return appended > command.accept_by


async def dead_letter(
    broker: KafkaBroker,
    record: ConsumerRecord[Any, Any],
    *,
    group: str,
    reason: str,
    error: str,
    timeout_s: float,
) -> None:
    """Copy a poison record, untouched, to ``<topic>.dlq`` with the error in its headers.

    Its key, body and headers are kept byte for byte (header order, repeats and null values
    too), then the ``dlq_*`` headers follow; an original header of the same name as one of
    these is replaced. With a connected broker the copy goes straight to its aiokafka producer
    (acks=all, idempotent): FastStream's publish takes text headers, adds ``content-type`` and
    ``correlation_id`` and overwrites ``traceparent`` with the consumer's span, so the letter
    lost the producer's trace context. A body over ``MAX_MESSAGE_BYTES`` keeps only that much
    (``dlq_truncated_from``: its size); whole, it could exceed the producer's limit once the
    headers are added, and never leave.
    """
    value = record.value or b""
    dlq_headers = {
        "dlq_reason": reason,
        "dlq_error": error[:2000],
        "dlq_original_topic": record.topic,
        "dlq_original_partition": str(record.partition),
        "dlq_original_offset": str(record.offset),
        "dlq_consumer_group": group,
        "dlq_failed_at": datetime.now(UTC).isoformat(),
    }
    if len(value) > MAX_MESSAGE_BYTES:
        dlq_headers["dlq_truncated_from"] = str(len(value))
        value = value[:MAX_MESSAGE_BYTES]
    original = [(str(key), header) for key, header in record.headers or () if key not in dlq_headers]
    topic = f"{record.topic}.dlq"
    try:
        async with asyncio.timeout(timeout_s):
            producer = raw_producer(broker)
            if producer is not None:
                await _send_letter(
                    producer, topic, key=record.key, value=value, original=original, dlq_headers=dlq_headers
                )
            else:  # FastStream's in-memory test broker: text headers through its publish
                headers = {key: _header_text(header) for key, header in original} | dlq_headers
                await broker.publish(value, topic, key=record.key, headers=headers)
    except Exception as exc:
        PUBLISH_FAILURES.labels(topic).inc()
        raise PublishFailed(f"{topic}: {type(exc).__name__}: {exc}") from exc
    PUBLISHED.labels(topic).inc()
    DEAD_LETTERS.labels(record.topic, group, reason).inc()
    log.warning(
        "dead-lettered %s[%d]@%d: %s: %s",
        record.topic,
        record.partition,
        record.offset,
        reason,
        error[:300],
    )


async def _send_letter(
    producer: AIOKafkaProducer,
    topic: str,
    *,
    key: bytes | None,
    value: bytes,
    original: list[tuple[str, Any]],
    dlq_headers: dict[str, str],
) -> None:
    attributes = {
        SpanAttributes.MESSAGING_SYSTEM: "kafka",
        SpanAttributes.MESSAGING_OPERATION: "publish",
        SpanAttributes.MESSAGING_DESTINATION_NAME: topic,
    }
    # A span of the consumer's trace, not injected: the letter keeps its producer's traceparent.
    with _tracer.start_as_current_span(f"{topic} publish", kind=SpanKind.PRODUCER, attributes=attributes):
        headers = [(name, _header_bytes(header)) for name, header in original]
        headers += [(name, text.encode()) for name, text in dlq_headers.items()]
        ack: asyncio.Future[Any] = await producer.send(  # type: ignore[no-untyped-call]
            topic, value=value, key=key, headers=headers
        )
        await ack


def _header_bytes(header: Any) -> bytes | None:
    return header if header is None or isinstance(header, bytes) else str(header).encode()


def _header_text(header: Any) -> str:
    return header.decode(errors="replace") if isinstance(header, bytes) else "" if header is None else str(header)


def header_map(record: ConsumerRecord[Any, Any]) -> Mapping[str, str]:
    """A record's headers as text, for trace-context extraction."""
    return {k: _header_text(v) for k, v in record.headers or ()}
