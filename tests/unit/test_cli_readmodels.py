"""``snapfix readmodels``: its arguments, and what a replay takes from a record."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from aiokafka import ConsumerRecord
from typer.testing import CliRunner

from snapfix_cli import readmodels
from snapfix_cli.app import app
from snapfix_shared.messages import ISSUE_EVENTS, IssueEdited

pytestmark = pytest.mark.unit
runner = CliRunner()


def record(value: bytes | None) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic="issues.events.v1",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value or b""),
        headers=(),
    )


def test_an_unknown_service_is_refused() -> None:
    result = runner.invoke(app, ["readmodels", "rebuild", "gateway"])
    assert result.exit_code == 2
    assert "gateway" in result.output


def test_allow_partial_is_for_analytics_only() -> None:
    result = runner.invoke(app, ["readmodels", "rebuild", "issues", "--allow-partial"])
    assert result.exit_code == 2
    assert "analytics only" in result.output


def test_help_says_to_stop_the_service_and_has_an_example() -> None:
    result = runner.invoke(app, ["readmodels", "rebuild", "--help"])
    assert result.exit_code == 0
    assert "Stop that service first" in result.output
    assert "Example: snapfix readmodels rebuild issues" in result.output


def test_a_replay_takes_the_events_and_skips_what_is_not_one() -> None:
    event = IssueEdited(issue_id=uuid4(), title="New title", description="", correlation_id="req-1")
    parsed = readmodels._parsed(ISSUE_EVENTS, record(event.model_dump_json().encode()))
    assert parsed == event
    assert readmodels._parsed(ISSUE_EVENTS, record(b"not json")) is None
    assert readmodels._parsed(ISSUE_EVENTS, record(b'{"type": "SomethingNewer"}')) is None
    assert readmodels._parsed(ISSUE_EVENTS, record(None)) is None
