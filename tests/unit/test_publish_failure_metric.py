"""``snapfix_publish_failures_total``: a publish the broker does not acknowledge is counted per topic."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry import context as otel_context
from prometheus_client import REGISTRY

from snapfix_shared.kafka import PublishFailed, publish_all
from snapfix_shared.topics import Topic
from tests.builders import make_report_command

pytestmark = pytest.mark.unit


class UnackedBroker:
    """Hands out acknowledgements that never arrive (a broker without enough in-sync replicas)."""

    async def publish(self, *_args: Any, **_kwargs: Any) -> asyncio.Future[None]:
        return asyncio.get_running_loop().create_future()


def failures(topic: str) -> float:
    return REGISTRY.get_sample_value("snapfix_publish_failures_total", {"topic": topic}) or 0.0


async def test_an_unacknowledged_publish_is_counted_and_raised() -> None:
    before = failures(Topic.ISSUES_COMMANDS)
    messages = [(make_report_command(), otel_context.get_current())]
    with pytest.raises(PublishFailed):
        await publish_all(UnackedBroker(), Topic.ISSUES_COMMANDS, messages, source="/test", timeout_s=0.05)  # type: ignore[arg-type]
    assert failures(Topic.ISSUES_COMMANDS) == before + 1
