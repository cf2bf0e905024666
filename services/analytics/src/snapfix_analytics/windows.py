"""Tumbling windows on event time, and the watermark that decides when an event is too late.

Windows are aligned on the Unix epoch (UTC): a 1-hour window starts on the hour, a 1-day
window at midnight UTC. The watermark is kept per partition of ``issues.events.v1``: the
newest event time seen in that partition minus the allowed lateness. A partition's order
is fixed by the log, so every replay makes the same on-time/late decisions; one global
clock would make them depend on how the consumer happened to interleave partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from snapfix_shared.messages.analytics import WindowSize

WINDOW_SECONDS: dict[WindowSize, int] = {"1m": 60, "1h": 3600, "1d": 86400}
WINDOWS: tuple[WindowSize, ...] = ("1m", "1h", "1d")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def window_start(at: datetime, size: WindowSize) -> datetime:
    """The start of the ``size`` window holding instant ``at``."""
    seconds = WINDOW_SECONDS[size]
    elapsed = int((at.astimezone(UTC) - EPOCH).total_seconds() // seconds) * seconds
    return EPOCH + timedelta(seconds=elapsed)


def window_end(at: datetime, size: WindowSize) -> datetime:
    return window_start(at, size) + timedelta(seconds=WINDOW_SECONDS[size])


@dataclass
class PartitionClock:
    """The newest event time seen in one partition; the watermark trails it by the lateness."""

    newest: datetime | None = None

    def watermark(self, lateness: timedelta) -> datetime | None:
        return None if self.newest is None else self.newest - lateness

    def is_late(self, at: datetime, size: WindowSize, lateness: timedelta) -> bool:
        """True when the ``size`` window of ``at`` closed: it ended at or before the watermark."""
        mark = self.watermark(lateness)
        return mark is not None and window_end(at, size) <= mark

    def observe(self, at: datetime) -> None:
        if self.newest is None or at > self.newest:
            self.newest = at
