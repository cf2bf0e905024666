"""The ledger's compact entry gives back the very decision it was written from, and entries
written in the earlier nested form are still read as they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from snapfix_analytics.effects import effects
from snapfix_analytics.ledger import decided_by, expanded, from_ledger, ledger_entry
from snapfix_analytics.windows import PartitionClock
from tests.analytics_history import make_history

pytestmark = pytest.mark.unit
SECRET = b"s" * 32


def test_a_compact_entry_gives_back_the_cells_projection_and_public_event_it_was_written_from() -> None:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    history = make_history(5, issues=3, categories=["pothole"], day=day)
    record: Any = type("R", (), {"partition": 2, "offset": 40, "headers": []})()
    clock, state = PartitionClock(None), None
    checked = 0
    for event in [e for e in history.events if e.issue_id == history.events[0].issue_id]:
        effect = effects(event, state, clock, timedelta(days=3650), SECRET)
        state = effect.state
        decided = decided_by(event, record, effect)
        entry = ledger_entry(decided)
        assert set(entry) == {"_id", "p", "o", "d", "at"}
        assert isinstance(entry["d"], str)
        back = from_ledger(event, record, expanded(entry, event, SECRET))
        assert back.cells == decided.cells
        assert back.public == decided.public
        assert expanded(entry, event, SECRET)["state"]["status"] == state.status  # type: ignore[union-attr]
        checked += len(back.cells)
    assert checked > 3  # a report and its moves touched several windows and the backlog


def test_an_entry_in_the_nested_form_is_read_unchanged() -> None:
    old = {
        "p": 1,
        "o": 7,
        "cells": [{"c": "backlog", "k": "backlog|u33db|x", "inc": [{"n": "open", "v": 1}], "ins": {}}],
    }
    assert expanded(old, None, SECRET) is old  # type: ignore[arg-type]
