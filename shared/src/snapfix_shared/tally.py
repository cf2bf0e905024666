"""Prometheus counters for the hot path: counted in a plain int, added to the counter in bulk.

``Counter.inc`` costs about 58 bytecodes (two checks, a lock, its value's own ``inc``), and an
accepted report made four of them at the edge, with one histogram observation beside. A
``Tally`` counts in an int (``tally.count += 1``); ``flush_all`` adds what each one counted to
its counter's child:
- before every ``/metrics`` answer (``health``), so a scrape of a process sees all it counted;
- every ``FLUSH_EVERY_S`` while a ``Runtime``'s app runs, and once more at its stop, so that with
  several workers (multiprocess mode: a scrape reads every worker's files) the others' counts
  are at most that old.

Counted and flushed on the event loop's thread only (``count += 1`` is not atomic across
threads). Read a tallied counter from ``REGISTRY`` directly only after ``flush_all()``.
"""

from __future__ import annotations

from typing import Any

# How stale another worker's counts may be in a multiprocess scrape.
FLUSH_EVERY_S = 1.0

_ALL: list[Tally] = []


class Tally:
    """One child of a Prometheus counter (``Counter.labels(...)``, or an unlabelled counter)."""

    __slots__ = ("child", "count")

    def __init__(self, child: Any) -> None:
        self.child, self.count = child, 0
        _ALL.append(self)

    def flush(self) -> None:
        count, self.count = self.count, 0
        if count:
            self.child.inc(count)


def flush_all() -> None:
    """Add every tally's count to its counter."""
    for tally in _ALL:
        tally.flush()


async def flush_all_async() -> None:  # for ``tasks.Flusher``
    flush_all()
