"""A batch's increments go to each cell as one update, with the last offset they span in each partition."""

from __future__ import annotations

from typing import Any

import pytest

from snapfix_analytics.effects import CellDelta
from snapfix_analytics.ledger import Decided, merge
from snapfix_analytics.repository import created_cell

pytestmark = pytest.mark.unit


def _decided(partition: int, offset: int, *cells: CellDelta) -> Decided:
    none: Any = None  # the event and record play no part in merging
    return Decided(none, none, partition, offset, list(cells), None)


def _cell(key: str, **inc: float) -> CellDelta:
    return CellDelta("windows_1h", key, {f"counts.{k}": v for k, v in inc.items()}, {"size": "1h"})


def test_a_batch_is_merged_into_one_update_per_cell_with_the_last_offset_of_each_partition() -> None:
    merged = merge(
        [
            _decided(3, 10, _cell("a", reported=1)),
            _decided(1, 4, _cell("a", acknowledged=1), _cell("b", reported=1)),
            _decided(3, 14, _cell("a", reported=1)),
        ]
    )
    cell, last = merged[("windows_1h", "a")]
    assert cell.inc == {"counts.reported": 2, "counts.acknowledged": 1}
    assert last == {3: 14, 1: 4}
    assert merged[("windows_1h", "b")][1] == {1: 4}


def test_a_cell_created_by_the_flush_is_known_without_reading_it_back() -> None:
    cell = CellDelta("windows_1h", "k", {"counts.reported": 2, "tta.n": 1, "tta.b5": 1}, {"size": "1h"})
    assert created_cell(cell, {3: 14}) == {
        "_id": "k",
        "size": "1h",
        "rev": 1,
        "counts": {"reported": 2},
        "tta": {"n": 1, "b5": 1},
        "o_3": 14,
    }
