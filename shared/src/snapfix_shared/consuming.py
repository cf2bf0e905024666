"""What every SnapFix subscriber shares.

- ``raw_body``: a decoder that leaves decoding to the handler, so a body that is not JSON
  becomes a dead letter rather than a crash;
- ``batch_records``: the Kafka records behind a (batch) message;
- ``retry_transient``: transient failures retried with exponential backoff and jitter; past
  the deadline the error propagates, the batch is not committed and comes back later. Once
  the process is stopping, a retry is abandoned (``ShuttingDown``): its batch is left
  uncommitted for the next owner of the partition, not finished;
- ``subscribe_batches``: a consumer of one topic in batches, committed after the handler;
- ``record_message``: a record's message, validated; poison to the DLQ;
- ``followed_event``: a record's event when it is one the consumer follows, poison to the DLQ;
- ``BatchConsumer``: the loop a subscriber's batch handler shares: each record parsed once
  (poison to the DLQ), repeats of a message id dropped, effects under ``retry_transient``.

Poison (every consumer alike): a body over ``MAX_MESSAGE_BYTES`` (refused by its size,
before any parsing), a body that is not JSON (including nesting too deep to parse), a
message that does not validate, and one whose CloudEvents headers contradict its body.
Headers that are not text never stop a consumer (``kafka.tolerant_parser``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar
from uuid import UUID

import orjson
from aiokafka import ConsumerRecord
from faststream.exceptions import NackMessage
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from prometheus_client import Counter
from pydantic import TypeAdapter, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from snapfix_shared.kafka import MAX_MESSAGE_BYTES, cloudevents_mismatch
from snapfix_shared.messages.base import Message

if TYPE_CHECKING:
    from faststream.kafka import KafkaBroker

    from snapfix_shared.runtime import Runtime

P = ParamSpec("P")
T = TypeVar("T")
E = TypeVar("E")
M = TypeVar("M", bound=Message)
R = TypeVar("R")
Record = ConsumerRecord[Any, Any]

log = logging.getLogger(__name__)
RETRY_DEADLINE_S = 30.0
# Set by the process runtime once it stops: retries still waiting are abandoned.
_STOPPING: ContextVar[asyncio.Event | None] = ContextVar("snapfix_stopping", default=None)


class ShuttingDown(NackMessage):
    """The process is stopping: a retry was abandoned, its batch is left uncommitted.

    A FastStream ``NackMessage``: the batch is rewound (its partition's next owner reads it
    again) and the stop is logged as one line, not as a handler's failure.
    """

    def __init__(self) -> None:
        super().__init__()

    def __str__(self) -> str:
        return "the process is stopping: retry abandoned, batch left uncommitted"


def bind_stopping(stopping: asyncio.Event) -> None:
    """Tasks created from now on in this context abandon their retries once ``stopping`` is set."""
    _STOPPING.set(stopping)


async def _sleep_unless_stopping(delay: float) -> None:
    stopping = _STOPPING.get()
    if stopping is None:
        await asyncio.sleep(delay)
        return
    if not stopping.is_set():
        try:
            await asyncio.wait_for(stopping.wait(), delay)
        except TimeoutError:
            return
    raise ShuttingDown


RETRIES = Counter(
    "snapfix_transient_retries_total",
    "Operations retried after a transient failure (by operation and error)",
    ["operation", "error"],
)


def _counting(operation: str) -> Callable[[RetryCallState], None]:
    def count(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        RETRIES.labels(operation, type(error).__name__ if error else "unknown").inc()

    return count


async def raw_body(msg: StreamMessage[Any]) -> Any:
    return msg.body


def batch_records(message: KafkaMessage) -> Sequence[ConsumerRecord[Any, Any]]:
    raw = message.raw_message
    return raw if isinstance(raw, (tuple, list)) else (raw,)


async def retry_transient(
    errors: tuple[type[BaseException], ...],
    fn: Callable[P, Awaitable[T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(errors),
        wait=wait_exponential_jitter(multiplier=0.2, max=5),
        stop=stop_after_delay(RETRY_DEADLINE_S),
        sleep=_sleep_unless_stopping,
        before_sleep=_counting(getattr(fn, "__qualname__", "unknown")),
        reraise=True,
    ):
        with attempt:
            return await fn(*args, **kwargs)
    raise AssertionError("unreachable: the retry loop returns or raises")


def subscribe_batches(
    broker: KafkaBroker,
    topic: str,
    *,
    group: str,
    handle: Callable[[Sequence[Record]], Awaitable[None]],
    max_records: int,
    title: str,
    description: str,
    batch_timeout_ms: int = 20,
    start: Literal["earliest", "latest"] = "earliest",
) -> None:
    """Consume ``topic`` in batches as ``group``; the batch is committed once ``handle`` returns.

    Bodies stay raw (decoding is the handler's, so a record that is not JSON becomes a dead
    letter rather than a crash); a new group starts at ``start``.
    """

    @broker.subscriber(
        topic,
        group_id=group,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        auto_offset_reset=start,
        decoder=raw_body,
        title=title,
        description=description,
    )
    async def consume(_bodies: list[bytes], message: KafkaMessage) -> None:
        await handle(batch_records(message))


async def admitted(runtime: Runtime, record: Record, *, group: str) -> bool:
    """False (once dead-lettered) for a body too large to be a message: refused before parsing."""
    size = len(record.value or b"")
    if size <= MAX_MESSAGE_BYTES:
        return True
    error = f"{size} bytes: over the {MAX_MESSAGE_BYTES} a message may have (not parsed)"
    await runtime.dead_letter(record, group=group, reason="too_large", error=error)
    return False


async def record_message(runtime: Runtime, record: Record, *, group: str, adapter: TypeAdapter[E]) -> E | None:
    """The record's message, validated by ``adapter`` (a topic's union); None when it is poison.

    Poison (dead-lettered, then None): a body too large, one that does not validate (not
    JSON, the wrong shape, a type this topic does not carry), or CloudEvents headers that
    contradict the body.
    """
    if not await admitted(runtime, record, group=group):
        return None
    return await _validated(runtime, record, group, lambda: adapter.validate_json(record.value or b""))


async def followed_event(
    runtime: Runtime,
    record: Record,
    *,
    group: str,
    adapter: TypeAdapter[E],
    followed: Collection[str],
) -> E | None:
    """The record's event when its ``type`` is one the consumer follows; None otherwise.

    Another type (valid for other consumers, or newer than this one) is none of its business.
    A record that is not an event, or a followed one that does not validate, is poison: it is
    dead-lettered (None), as is a body too large (refused before parsing) and a followed event
    whose CloudEvents headers contradict it.
    """
    if not await admitted(runtime, record, group=group):
        return None
    try:
        # orjson: bounded nesting (the standard json module raised RecursionError, which no
        # one caught: the batch came back forever) and no lone surrogates.
        head = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError as exc:
        await runtime.dead_letter(record, group=group, reason="invalid", error=f"not JSON: {exc}")
        return None
    kind = head.get("type") if isinstance(head, dict) else None
    if not isinstance(kind, str):
        await runtime.dead_letter(record, group=group, reason="invalid", error="not an event: no type")
        return None
    if kind not in followed:
        return None
    return await _validated(runtime, record, group, lambda: adapter.validate_python(head))


async def _validated(runtime: Runtime, record: Record, group: str, validate: Callable[[], E]) -> E | None:
    try:
        message = validate()
    except ValidationError as exc:
        await runtime.dead_letter(record, group=group, reason="invalid", error=str(exc))
        return None
    if (mismatch := cloudevents_mismatch(record, message)) is not None:
        await runtime.dead_letter(record, group=group, reason="invalid", error=mismatch)
        return None
    return message


@dataclass(frozen=True)
class BatchConsumer(Generic[M]):
    """What a subscriber's batch handler shares: parsing, retry and dead-lettering.

    ``messages`` parses each record once: poison is dead-lettered, types the consumer does not
    follow are skipped (``followed``; None takes every message of ``adapter``), and a repeat of
    a message id within the batch is dropped (the producer's at-least-once, not a new message).
    ``apply_each`` then runs a per-message effect under ``retry_transient``: a message whose
    effect fails otherwise fails the same way every time and is dead-lettered (``failed``).
    Transient failures past the deadline and ``ShuttingDown`` propagate: the handler does not
    return, so ``subscribe_batches`` does not commit and the batch comes back. Committing is
    the subscription's, once the handler has stored and published everything.
    """

    runtime: Runtime
    group: str
    adapter: TypeAdapter[M]
    transient: tuple[type[BaseException], ...]
    followed: Collection[str] | None = None

    async def parse(self, record: Record) -> M | None:
        """The record's message, or None: poison (dead-lettered) or a type not followed."""
        if self.followed is None:
            return await record_message(self.runtime, record, group=self.group, adapter=self.adapter)
        return await followed_event(
            self.runtime, record, group=self.group, adapter=self.adapter, followed=self.followed
        )

    async def messages(self, records: Sequence[Record]) -> list[tuple[M, Record]]:
        """The batch's messages in record order, each message id once (for an effect per batch)."""
        parsed: list[tuple[M, Record]] = []
        seen: set[UUID] = set()
        for record in records:
            message = await self.parse(record)
            if message is not None and message.message_id not in seen:
                seen.add(message.message_id)
                parsed.append((message, record))
        return parsed

    async def apply_each(
        self, records: Sequence[Record], effect: Callable[[M], Awaitable[R]]
    ) -> list[tuple[R, Record]]:
        """``effect`` of each message in record order (parsed as ``messages`` does), with its record.

        A message is parsed, then its effect applied, before the next record is read; one whose
        effect fails permanently is dead-lettered and left out of the result.
        """
        uncommitted: tuple[type[BaseException], ...] = (*self.transient, ShuttingDown)
        done: list[tuple[R, Record]] = []
        seen: set[UUID] = set()
        for record in records:
            message = await self.parse(record)
            if message is None or message.message_id in seen:
                continue
            seen.add(message.message_id)
            try:
                result = await retry_transient(self.transient, effect, message)
            except uncommitted:
                raise  # not committed: the batch comes back after the rebalance or restart
            except Exception as exc:  # anything else fails the same way every time: poison
                log.exception("%s %s failed permanently (%s)", type(message).__name__, message.message_id, self.group)
                await self.runtime.dead_letter(
                    record, group=self.group, reason="failed", error=f"{type(exc).__name__}: {exc}"
                )
                continue
            done.append((result, record))
        return done

    async def retry(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn`` retried on this consumer's transient errors (a per-batch effect, a publish)."""
        return await retry_transient(self.transient, fn, *args, **kwargs)
