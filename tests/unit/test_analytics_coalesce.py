"""A batch's increments go to each cell as one update per partition, spanning the offsets they came at."""

from __future__ import annotations

from typing import Any

import pytest

from snapfix_analytics.effects import CellDelta
from snapfix_analytics.ledger import Decided, coalesce, merge
from snapfix_analytics.repository import created_cell

pytestmark = pytest.mark.unit


def _decided(partition: int, offset: int, *cells: CellDelta) -> Decided:
    none: Any = None  # the event and record play no part in coalescing
    return Decided(none, none, partition, offset, list(cells), None)


def _cell(key: str, **inc: float) -> CellDelta:
    return CellDelta("windows_1h", key, {f"counts.{k}": v for k, v in inc.items()}, {"size": "1h"})


def test_increments_of_one_partition_to_one_cell_are_summed_over_the_offsets_they_span() -> None:
    per_cell = coalesce(
        [
            _decided(3, 10, _cell("a", reported=1)),
            _decided(3, 11, _cell("b", reported=1)),
            _decided(3, 14, _cell("a", acknowledged=1)),
            _decided(3, 20, _cell("a", reported=1)),
        ]
    )
    [(cell, partition, first, last)] = per_cell[("windows_1h", "a")]
    assert cell.inc == {"counts.reported": 2, "counts.acknowledged": 1}
    assert (partition, first, last) == (3, 10, 20)
    assert [(u[2], u[3]) for u in per_cell[("windows_1h", "b")]] == [(11, 11)]


def test_each_partition_keeps_its_own_update_of_a_shared_cell() -> None:
    per_cell = coalesce([_decided(1, 5, _cell("a", reported=1)), _decided(2, 7, _cell("a", reported=1))])
    assert sorted((p, first, last) for _, p, first, last in per_cell[("windows_1h", "a")]) == [(1, 5, 5), (2, 7, 7)]


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
