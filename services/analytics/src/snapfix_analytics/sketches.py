"""Duration distributions in DDSketch (Datadog's mergeable quantile sketch, ``ddsketch``).

A sketch is a histogram over logarithmic bins: the library maps a value to its bin key
(relative accuracy 1%) and answers quantiles from bin counts. Analytics keeps only the
bin counts, in Mongo, as counters incremented atomically (``b<key>``, ``z`` for zero,
``n`` the count, ``s`` the sum): two windows, two areas or two instances merge by adding
counters, a restart loses nothing, and no read-modify-write of a serialized blob races.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ddsketch.ddsketch import BaseDDSketch
from ddsketch.mapping import LogarithmicMapping
from ddsketch.store import DenseStore

from snapfix_shared.messages.analytics import Distribution

RELATIVE_ACCURACY = 0.01
MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
QUANTILES = (0.5, 0.9, 0.99)


def increments(seconds: float) -> dict[str, float]:
    """The counters one sample adds to a stored sketch (negative durations count as zero)."""
    value = max(seconds, 0.0)
    bin_name = f"b{MAPPING.key(value)}" if value > MAPPING.min_possible else "z"
    return {bin_name: 1, "n": 1, "s": value}


def from_counters(counters: Mapping[str, Any] | None) -> BaseDDSketch:
    """A sketch rebuilt from stored counters."""
    store = DenseStore()
    zero = 0.0
    total = 0.0
    for name, count in (counters or {}).items():
        if name.startswith("b") and count:
            store.add(int(name[1:]), float(count))
        elif name == "z":
            zero = float(count)
        elif name == "s":
            total = float(count)
    sketch = BaseDDSketch(MAPPING, store, DenseStore(), zero)
    sketch._sum = total  # the exact sum is kept beside the bins; the library exposes no setter
    return sketch


def merged(parts: Iterable[Mapping[str, Any] | None]) -> BaseDDSketch:
    sketch = from_counters(None)
    for part in parts:
        sketch.merge(from_counters(part))
    return sketch


def distribution(sketch: BaseDDSketch) -> Distribution:
    count = int(sketch.count)
    if count == 0:
        return Distribution(count=0)
    p50, p90, p99 = (round(float(sketch.get_quantile_value(q) or 0.0), 3) for q in QUANTILES)
    return Distribution(count=count, mean_s=round(sketch.sum / count, 3), p50_s=p50, p90_s=p90, p99_s=p99)
