"""What every SnapFix subscriber shares.

- ``raw_body``: a decoder that leaves decoding to the handler, so a body that is not JSON
  becomes a dead letter rather than a crash;
- ``batch_records``: the Kafka records behind a (batch) message;
- ``retry_transient``: transient failures retried with exponential backoff and jitter; past
  the deadline the error propagates, the batch is not committed and comes back later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from prometheus_client import Counter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

P = ParamSpec("P")
T = TypeVar("T")

RETRY_DEADLINE_S = 30.0

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
        before_sleep=_counting(getattr(fn, "__qualname__", "unknown")),
        reraise=True,
    ):
        with attempt:
            return await fn(*args, **kwargs)
    raise AssertionError("unreachable: the retry loop returns or raises")
