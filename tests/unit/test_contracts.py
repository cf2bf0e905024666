"""The message contracts: strict, frozen, keyed by aggregate, described by CloudEvents headers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from snapfix_shared.kafka import cloudevent_headers
from snapfix_shared.messages import ISSUE_COMMANDS, ISSUE_EVENTS, IssueReported
from snapfix_shared.topics import READ_WHOLE, TOPIC_SPECS, Topic
from tests.builders import make_report_command

pytestmark = pytest.mark.unit


def test_a_command_round_trips_through_json_by_its_type() -> None:
    command = make_report_command()
    parsed = ISSUE_COMMANDS.validate_json(command.model_dump_json())
    assert parsed == command
    assert parsed.type == "ReportIssue"


def test_unknown_fields_are_refused() -> None:
    data = make_report_command().model_dump(mode="json") | {"surprise": 1}
    with pytest.raises(ValidationError, match="surprise"):
        ISSUE_COMMANDS.validate_python(data)


def test_an_unknown_type_is_refused() -> None:
    data = make_report_command().model_dump(mode="json") | {"type": "DeleteEverything"}
    with pytest.raises(ValidationError):
        ISSUE_COMMANDS.validate_python(data)


def test_an_event_is_not_a_command() -> None:
    command = make_report_command()
    with pytest.raises(ValidationError):
        ISSUE_EVENTS.validate_json(command.model_dump_json())


def test_messages_are_frozen() -> None:
    command = make_report_command()
    with pytest.raises(ValidationError):
        command.title = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(("lat", "lon"), [(91.0, 0.0), (-90.5, 0.0), (0.0, 180.01), (0.0, -181.0)])
def test_locations_outside_the_globe_are_refused(lat: float, lon: float) -> None:
    with pytest.raises(ValidationError):
        make_report_command(location={"lat": lat, "lon": lon})


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        make_report_command(occurred_at="2026-01-01T00:00:00")


def test_the_partition_key_is_the_issue_id() -> None:
    command = make_report_command()
    assert command.partition_key() == str(command.issue_id)


def test_cloudevents_headers_name_the_message() -> None:
    command = make_report_command()
    headers = cloudevent_headers(command, "/snapfix/test")
    assert headers["ce_id"] == str(command.message_id)
    assert headers["ce_type"] == "dev.snapfix.ReportIssue.v1"
    assert headers["ce_source"] == "/snapfix/test"
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_time"] == command.occurred_at.isoformat()


def test_message_ids_are_uuid7() -> None:
    assert make_report_command().message_id.version == 7
    assert IssueReported.model_fields["message_id"].default_factory is not None


def test_every_consumed_topic_has_a_dead_letter_topic() -> None:
    for topic in Topic:
        if not topic.value.startswith("analytics.") and topic not in READ_WHOLE:
            assert topic.dlq in TOPIC_SPECS
    assert TOPIC_SPECS[Topic.ISSUES_CATALOGUE].config["cleanup.policy"] == "compact"
    assert Topic.ISSUES_CATALOGUE.dlq not in TOPIC_SPECS
    assert TOPIC_SPECS[Topic.ISSUES_COMMANDS].config["message.timestamp.type"] == "LogAppendTime"
    assert TOPIC_SPECS[Topic.ANALYTICS_ISSUE_STATS].config["cleanup.policy"] == "compact"
