"""The topic catalogue: every Kafka topic SnapFix uses, declared once with its layout.

Topics are created explicitly from this enum (``ensure_topics``) by the local stack and
by the deployment; the brokers never auto-create them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DAY_MS = 24 * 3600 * 1000


class Topic(StrEnum):
    ISSUES_COMMANDS = "issues.commands.v1"
    ISSUES_EVENTS = "issues.events.v1"
    ISSUES_CATALOGUE = "issues.catalogue.v1"
    MEDIA_COMMANDS = "media.commands.v1"
    MEDIA_EVENTS = "media.events.v1"
    USERS_EVENTS = "users.events.v1"
    NOTIFY_EVENTS = "notify.events.v1"
    ANALYTICS_ISSUE_STATS = "analytics.issue-stats.v1"
    ANALYTICS_ISSUES_PUBLIC = "analytics.issues-public.v1"

    @property
    def dlq(self) -> str:
        """The dead-letter topic for poison messages read from this topic."""
        return f"{self.value}.dlq"


@dataclass(frozen=True)
class TopicSpec:
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


# Partition counts are sized for the fleet (they bound consumer parallelism), not a laptop.
_COMMANDS = TopicSpec(
    24,
    # The broker stamps append time, so a consumer can tell a command that reached the
    # log only after its sender gave up (and answered 503) from one accepted in time.
    {"retention.ms": str(7 * DAY_MS), "message.timestamp.type": "LogAppendTime"},
)
_EVENTS = TopicSpec(24, {"retention.ms": str(30 * DAY_MS)})
_DLQ = TopicSpec(3, {"retention.ms": str(30 * DAY_MS)})

TOPIC_SPECS: dict[str, TopicSpec] = {
    Topic.ISSUES_COMMANDS: _COMMANDS,
    Topic.ISSUES_EVENTS: _EVENTS,
    # The category catalogue, one record per code kept forever (compacted): every gateway replica
    # reads it whole at start. A few hundred small records; one partition keeps that read short.
    Topic.ISSUES_CATALOGUE: TopicSpec(1, {"cleanup.policy": "compact"}),
    Topic.MEDIA_COMMANDS: _COMMANDS,
    Topic.MEDIA_EVENTS: _EVENTS,
    Topic.USERS_EVENTS: _EVENTS,
    Topic.NOTIFY_EVENTS: _EVENTS,
    Topic.ANALYTICS_ISSUE_STATS: TopicSpec(12, {"cleanup.policy": "compact"}),
    Topic.ANALYTICS_ISSUES_PUBLIC: TopicSpec(12, {"retention.ms": str(365 * DAY_MS)}),
}
# Topics read whole by every replica, without a consumer group: a record they cannot use is
# skipped and logged by each reader (a dead letter per replica and restart would be noise).
READ_WHOLE: frozenset[Topic] = frozenset({Topic.ISSUES_CATALOGUE})
# Every topic a SnapFix consumer group reads gets a dead-letter topic.
TOPIC_SPECS.update({t.dlq: _DLQ for t in Topic if not t.value.startswith("analytics.") and t not in READ_WHOLE})


async def ensure_topics(
    bootstrap_servers: str,
    *,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
    client_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create every missing topic of the catalogue; return the names created.

    ``client_options``: TLS/SASL for the admin client (snapfix_shared.kafka_security.aiokafka_options).
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    min_isr = "2" if replication_factor >= 3 else "1"
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=10000, **dict(client_options or {})
    )
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await asyncio.wait_for(admin.list_topics(), timeout_s))
        missing = [
            NewTopic(
                name,
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs={"min.insync.replicas": min_isr, **spec.config},
            )
            for name, spec in TOPIC_SPECS.items()
            if name not in existing
        ]
        if missing:
            await asyncio.wait_for(admin.create_topics(missing, timeout_ms=int(timeout_s * 1000)), timeout_s)
        return [t.name for t in missing]
    finally:
        await admin.close()
