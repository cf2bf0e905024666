"""``snapfix dlq``: its arguments, the letters it reads, the replay plan (no broker: the pure parts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord
from rich.json import JSON
from typer.testing import CliRunner

from snapfix_cli import dlq_letters
from snapfix_cli.app import app
from snapfix_cli.support import CliError, confirm

pytestmark = pytest.mark.unit

runner = CliRunner()


def record(
    offset: int,
    *,
    headers: dict[str, str] | None = None,
    value: bytes | None = b'{"type": "IssueReported"}',
    topic: str = "issues.events.v1.dlq",
    partition: int = 1,
    key: bytes | None = b"issue-1",
) -> ConsumerRecord[Any, Any]:
    raw = [(k, v.encode()) for k, v in (headers or {}).items()]
    return ConsumerRecord(topic, partition, offset, 0, 0, key, value, None, len(value or b""), 0, raw)


def letter_headers(original_offset: int, **extra: str) -> dict[str, str]:
    """What snapfix_shared.kafka.dead_letter writes, after the original record's own headers."""
    return {
        "ce_id": "0190-abc",
        "ce_type": "dev.snapfix.IssueReported.v1",
        "dlq_reason": "invalid",
        "dlq_error": "1 validation error",
        "dlq_original_topic": "issues.events.v1",
        "dlq_original_partition": "7",
        "dlq_original_offset": str(original_offset),
        "dlq_consumer_group": "notify-issues",
        "dlq_failed_at": "2026-12-01T08:00:00+00:00",
        **extra,
    }


def test_a_dlq_is_named_by_itself_or_by_its_topic_and_anything_else_is_refused() -> None:
    assert dlq_letters.dlq_topic("issues.commands.v1.dlq") == "issues.commands.v1.dlq"
    assert dlq_letters.dlq_topic("issues.commands.v1") == "issues.commands.v1.dlq"
    with pytest.raises(CliError, match="no dead-letter topic"):
        dlq_letters.dlq_topic("issues.catalogue.v1")  # read whole by every replica: no DLQ
    assert "analytics.issue-stats.v1.dlq" not in dlq_letters.DLQ_TOPICS
    assert dlq_letters.DLQ_TOPICS["users.events.v1.dlq"] == "users.events.v1"


@pytest.mark.parametrize("text", ["0", "a:1", "1:", "-1:3", "1:2:3", ""])
def test_a_position_is_partition_colon_offset(text: str) -> None:
    assert dlq_letters.position(" 2:41 ") == (2, 41)
    with pytest.raises(CliError, match="<partition>:<offset>"):
        dlq_letters.position(text)


def test_replay_headers_are_the_originals_without_the_dlq_ones_plus_where_the_replay_came_from() -> None:
    letter = dlq_letters.Letter.of(record(5, headers=letter_headers(120, dlq_replayed_from="x.dlq:0:1")))
    assert letter.origin == ("issues.events.v1", 7, 120)
    assert letter.reason == "invalid"
    assert letter.unreplayable() is None
    assert letter.replay_headers() == [
        ("ce_id", b"0190-abc"),
        ("ce_type", b"dev.snapfix.IssueReported.v1"),
        ("dlq_replayed_from", b"issues.events.v1.dlq:1:5"),
    ]


def test_letters_that_cannot_go_back_say_why() -> None:
    no_origin = dlq_letters.Letter.of(record(1, headers={"dlq_reason": "invalid"}))
    assert "original topic, partition and offset" in (no_origin.unreplayable() or "")
    elsewhere = dlq_letters.Letter.of(record(2, headers=letter_headers(1, dlq_original_topic="users.events.v1")))
    assert "not the one issues.events.v1.dlq holds" in (elsewhere.unreplayable() or "")
    truncated = dlq_letters.Letter.of(record(3, headers=letter_headers(1, dlq_truncated_from="900000")))
    assert "900000 bytes" in (truncated.unreplayable() or "")


def test_the_plan_sends_each_original_record_once_and_never_one_replayed_before() -> None:
    # One record refused by two groups: two letters, one send; another replayed before; one truncated.
    a1 = dlq_letters.Letter.of(record(10, headers=letter_headers(100)))
    a2 = dlq_letters.Letter.of(record(11, headers=letter_headers(100, dlq_consumer_group="analytics-issues")))
    b = dlq_letters.Letter.of(record(12, headers=letter_headers(101)))
    c = dlq_letters.Letter.of(record(13, headers=letter_headers(102, dlq_truncated_from="300000")))
    plan = dlq_letters.plan_replay([a1, a2, b, c], replayed={"issues.events.v1:7:101"})
    assert plan.send == {("issues.events.v1", 7, 100): [a1, a2]}
    assert plan.already == [b]
    assert [letter for letter, _ in plan.refused] == [c]
    # Once its marker is read, the same letters plan nothing more.
    again = dlq_letters.plan_replay([a1, a2, b], replayed={"issues.events.v1:7:100", "issues.events.v1:7:101"})
    assert (again.send, len(again.already)) == ({}, 3)


def test_a_marker_names_the_original_record_and_is_told_apart_from_a_letter() -> None:
    letter = dlq_letters.Letter.of(record(10, headers=letter_headers(100)))
    value, headers = dlq_letters.marker(letter, ("issues.events.v1", 7, 100), now=datetime(2026, 12, 1, tzinfo=UTC))
    assert dict(headers)[dlq_letters.MARKER] == b"issues.events.v1:7:100"
    assert orjson.loads(value)["letter"] == "issues.events.v1.dlq:1:10"
    marker_record = record(11, headers={k: v.decode() for k, v in headers}, value=value)
    assert dlq_letters.marker_origin(marker_record) == "issues.events.v1:7:100"
    assert dlq_letters.marker_origin(record(12, headers=letter_headers(1))) is None


def test_the_list_counts_by_reason_with_the_replayed_and_the_groups() -> None:
    letters = [
        dlq_letters.Letter.of(record(1, headers=letter_headers(100))),
        dlq_letters.Letter.of(record(2, headers=letter_headers(101, dlq_consumer_group="media-issues"))),
        dlq_letters.Letter.of(
            record(3, headers=letter_headers(102, dlq_reason="too_large", dlq_failed_at="2026-12-02"))
        ),
    ]
    summary = dlq_letters.summarise(letters, replayed={"issues.events.v1:7:101"})
    assert list(summary) == ["invalid", "too_large"]
    assert (summary["invalid"].count, summary["invalid"].replayed) == (2, 1)
    assert summary["invalid"].groups == {"notify-issues", "media-issues"}
    assert summary["too_large"].last_failed_at == "2026-12-02"


def test_a_body_is_shown_as_json_text_or_hex() -> None:
    assert isinstance(dlq_letters.readable_body(b'{"a": [1, 2]}'), JSON)
    assert dlq_letters.readable_body(b"not json") == "not json"
    shown = dlq_letters.readable_body(b"\xff\xfe" * 400)
    assert shown.startswith("(not UTF-8 text: 800 bytes)")
    assert "288 more bytes" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dlq", "replay", "issues.events.v1.dlq"], "or pass --all"),
        (["dlq", "replay", "issues.events.v1.dlq", "0:1", "--all"], "not both"),
        (["dlq", "replay", "issues.events.v1.dlq", "0:1", "--reason", "invalid"], "use it with --all"),
        (["dlq", "replay", "issues.events.v1.dlq", "zero"], "<partition>:<offset>"),
        (["dlq", "show", "nothing.v1", "0:1"], "no dead-letter topic"),
        (["dlq", "purge", "analytics.issue-stats.v1.dlq", "--yes"], "no dead-letter topic"),
    ],
)
def test_a_wrong_argument_is_one_clear_error_before_any_broker_is_asked(args: list[str], message: str) -> None:
    result = runner.invoke(app, args, env={"SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    assert result.exit_code == 1, result.output
    assert "Error:" in result.stderr
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_without_a_terminal_and_without_yes_a_confirmation_refuses() -> None:
    confirm("Delete?", yes=True)  # --yes: no question
    with pytest.raises(CliError, match="pass --yes"):
        confirm("Delete?", yes=False)  # the test's stdin is no terminal


@pytest.mark.parametrize("command", ["list", "show", "replay", "purge"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, ["dlq", command, "--help"])
    assert result.exit_code == 0
    assert "Example: snapfix dlq" in result.output
    if command == "purge":
        assert "delete_records" in result.output  # says Kafka cannot delete single records
