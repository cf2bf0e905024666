"""``snapfix consumers``: the groups it knows, the --to argument, the lag arithmetic, refusals before any I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition
from typer.testing import CliRunner

from snapfix_cli import consumers
from snapfix_cli.app import app
from snapfix_cli.kafka_admin import Bounds
from snapfix_cli.support import CliError

pytestmark = pytest.mark.unit

runner = CliRunner()


def test_every_group_of_snapfix_is_known_with_the_topics_it_reads() -> None:
    known = consumers.known_groups()
    # The groups tests/integration/test_kafka_poison.py finds subscribed in every process.
    assert set(known) == {
        "issues",
        "issues-media",
        "media",
        "media-cdn-purge",
        "notify-users",
        "notify-issues",
        "notify-webhooks",
        "analytics-issues",
        "gateway-live",
    }
    assert known["issues"] == ("issues.commands.v1",)
    assert known["notify-users"] == ("users.events.v1",)
    assert known["media-cdn-purge"] == ("media.events.v1",)


def test_to_is_earliest_latest_a_datetime_or_an_offset() -> None:
    assert consumers.parse_target("earliest") == ("earliest", None)
    assert consumers.parse_target("latest") == ("latest", None)
    assert consumers.parse_target("42") == ("offset", 42)
    assert consumers.parse_target("2026-12-01T08:00:00Z") == ("datetime", datetime(2026, 12, 1, 8, tzinfo=UTC))
    assert consumers.parse_target("2026-12-01") == ("datetime", datetime(2026, 12, 1, tzinfo=UTC))  # UTC unless said
    for wrong in ("yesterday", "-5", "1.5", ""):
        with pytest.raises(CliError, match="earliest, latest"):
            consumers.parse_target(wrong)


def test_lag_counts_from_the_commit_or_from_what_is_still_retained() -> None:
    a, b, c = (TopicPartition("issues.events.v1", p) for p in range(3))
    limits = Bounds(begin={a: 0, b: 50, c: 10}, end={a: 100, b: 80, c: 10})
    rows = consumers.lag_rows("notify-issues", limits, {a: 90, b: 20})
    assert [(r.partition, r.committed, r.lag) for r in rows] == [
        (0, 90, 10),  # ten records after the commit
        (1, 20, 30),  # committed before what retention kept: the retained 30
        (2, None, 0),  # never committed, nothing retained
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["consumers", "reset-offsets", "notify-issues", "--to", "yesterday"], "earliest, latest"),
        (["consumers", "reset-offsets", "notify-issues", "--to", "earliest", "--partition", "1"], "needs --topic"),
    ],
)
def test_a_wrong_argument_is_refused_before_any_broker_is_asked(args: list[str], message: str) -> None:
    result = runner.invoke(app, args, env={"SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_a_group_with_members_is_not_stopped() -> None:
    assert consumers.GroupState("Empty", 0).stopped
    assert consumers.GroupState("Dead", 0).stopped
    assert not consumers.GroupState("Stable", 1).stopped
    assert not consumers.GroupState("PreparingRebalance", 2).stopped


@pytest.mark.parametrize("command", ["lag", "reset-offsets"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, ["consumers", command, "--help"])
    assert result.exit_code == 0
    assert "Example: snapfix consumers" in result.output
