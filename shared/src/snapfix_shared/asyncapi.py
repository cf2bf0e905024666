"""The AsyncAPI document of SnapFix's topics, generated from the code (``make asyncapi``).

Every topic of the catalogue (``topics.Topic``) is declared on a FastStream broker that
never connects, with the union of contracts it carries (``messages``); FastStream renders
the AsyncAPI 3.0 document. ``docs/asyncapi.yaml`` is this output, committed; a unit test
regenerates it and fails on any drift.

Regenerate: ``uv run --frozen python -m snapfix_shared.asyncapi > docs/asyncapi.yaml``.
"""

from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs in the lock; only safe_dump is used
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from snapfix_shared.messages.analytics import IssueStats, PublicIssueEvent
from snapfix_shared.messages.catalogue import CatalogueRecord
from snapfix_shared.messages.issues import IssueCommand, IssueEvent
from snapfix_shared.messages.media import MediaCommand, MediaEvent
from snapfix_shared.messages.notify import NotifyEvent
from snapfix_shared.messages.users import UserEvent
from snapfix_shared.topics import TOPIC_SPECS, Topic

CATALOGUE: dict[Topic, tuple[Any, str]] = {
    Topic.ISSUES_COMMANDS: (IssueCommand, "Commands to the issues service (gateway -> issues), keyed by issue id."),
    Topic.ISSUES_EVENTS: (IssueEvent, "What happened to issues (issues -> notify, analytics, gateway); by issue id."),
    Topic.ISSUES_CATALOGUE: (
        CatalogueRecord,
        "Compacted: the category catalogue (issues -> gateway), keyed by category code; the last record of a "
        "code is that category as it stands. Readers load it whole from the beginning, then follow it.",
    ),
    Topic.MEDIA_COMMANDS: (
        MediaCommand,
        "Commands to the media service: photos to process (media -> media), keyed by media id; the photos "
        "a report shows (issues -> media), keyed by issue id.",
    ),
    Topic.MEDIA_EVENTS: (MediaEvent, "Photo outcomes (media -> issues), keyed by media id."),
    Topic.USERS_EVENTS: (
        UserEvent,
        "Account events (gateway -> notify; UserDeleted -> issues, media too), keyed by user id.",
    ),
    Topic.NOTIFY_EVENTS: (NotifyEvent, "Notification outcomes (notify), keyed by user id."),
    Topic.ANALYTICS_ISSUE_STATS: (
        IssueStats,
        "Compacted: the current aggregate per key. Keys: `<1m|1h|1d>|<window start, UTC, to the minute>|"
        "<geohash5>|<category>` for a tumbling window on event time, `backlog|<geohash5>|<category>` for "
        "the open backlog. A key is re-published whenever its value changes (also for late events within "
        "the allowed lateness); `revision` grows with each change.",
    ),
    Topic.ANALYTICS_ISSUES_PUBLIC: (
        PublicIssueEvent,
        "One anonymized event per issue event for analysts: no user ids, names, free text or media ids; "
        "location as a geohash of precision 6; the issue as a keyed pseudonym; keyed by that pseudonym.",
    ),
}

HEADERS = (
    "Headers: CloudEvents Kafka binding (`ce_specversion`, `ce_id` = message_id, `ce_type` = "
    "`dev.snapfix[.analytics].<type>.v<version>`, `ce_source`, `ce_time`), `content-type: application/json`, "
    "W3C `traceparent`. Poison messages of a consumed topic go to `<topic>.dlq` with `dlq_*` headers."
)


def catalogue_broker() -> KafkaBroker:
    broker = KafkaBroker()  # never started: it only describes
    for topic, (schema, description) in CATALOGUE.items():
        spec = TOPIC_SPECS[topic]
        layout = ", ".join([f"{spec.partitions} partitions", *(f"{k}={v}" for k, v in sorted(spec.config.items()))])
        broker.publisher(
            topic.value,
            schema=schema,
            title=topic.value,
            description=f"{description} Layout: {layout}. {HEADERS}",
        )
    return broker


def document() -> str:
    spec = AsyncAPI(
        catalogue_broker(),
        title="SnapFix topics",
        version="1",
        description="Every Kafka topic SnapFix produces, with its message contracts (generated from the code).",
        schema_version="3.0.0",
    )
    # Keys sorted: FastStream lists channels in an order that changes from run to run.
    text: str = yaml.safe_dump(spec.to_specification().to_jsonable(), sort_keys=True, allow_unicode=True, width=100)
    return text


if __name__ == "__main__":
    import sys

    sys.stdout.write(document())
