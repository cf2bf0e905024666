"""Delivery decisions, free of I/O: what an answer means, when to retry, when to give up on an endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tenacity import RetryCallState, wait_exponential_jitter

Outcome = Literal["delivered", "retry", "failed", "gone"]


def outcome(status: int | None) -> Outcome:
    """An attempt's answer (None: no answer, a timeout or a connection error) -> what follows.

    2xx delivered; 410 Gone: the receiver wants no more (the endpoint is disabled); other
    4xx but 408 and 429: this delivery will never be accepted; anything else (5xx, 408,
    429, a redirect, no answer) may succeed later.
    """
    if status is None:
        return "retry"
    if 200 <= status < 300:
        return "delivered"
    if status == 410:
        return "gone"
    if 400 <= status < 500 and status not in {408, 429}:
        return "failed"
    return "retry"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter (tenacity's math): base, 2x base, 4x base ... up to ``max_s``."""

    base_s: float
    max_s: float
    jitter_s: float
    max_attempts: int

    def delay_s(self, failed_attempts: int) -> float | None:
        """Seconds to wait after the ``failed_attempts``-th failure; None once attempts are spent."""
        if failed_attempts >= self.max_attempts:
            return None
        wait = wait_exponential_jitter(multiplier=self.base_s, max=self.max_s, jitter=self.jitter_s)
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = failed_attempts
        return float(wait(state))


@dataclass(frozen=True)
class DisablePolicy:
    """An endpoint is disabled after ``after_failures`` failures in a row, or failing for ``after_s``."""

    after_failures: int
    after_s: float

    def reason(self, consecutive_failures: int, failing_since: datetime | None, now: datetime) -> str | None:
        if consecutive_failures >= self.after_failures:
            return f"{consecutive_failures} consecutive failed attempts"
        if failing_since is not None and now - failing_since >= timedelta(seconds=self.after_s):
            return f"every attempt failed since {failing_since.isoformat()}"
        return None
