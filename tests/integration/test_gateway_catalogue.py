"""The gateway's copy of the catalogue against the real broker: loaded from the beginning, then kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from snapfix_gateway.catalogue import CatalogueCopy
from snapfix_gateway.config import GatewaySettings
from snapfix_shared.messages.catalogue import CategoryPublished, CategorySpec
from snapfix_shared.topics import Topic
from tests.stack import Stack, produce

pytestmark = pytest.mark.integration


def category(code: str, name: str = "Broken bench") -> CategorySpec:
    return CategorySpec(code=code, name=name, department="parks", sla_hours=48)


async def publish(stack: Stack, spec: CategorySpec) -> None:
    message = CategoryPublished(correlation_id="test", category=spec)
    await produce(stack.kafka, Topic.ISSUES_CATALOGUE, message.model_dump_json().encode(), key=spec.code.encode())


@pytest.fixture
async def copy(stack: Stack) -> AsyncIterator[CatalogueCopy]:
    catalogue = CatalogueCopy(GatewaySettings(kafka_bootstrap_servers=stack.kafka), client_id="gateway-it")
    await catalogue.start()
    try:
        yield catalogue
    finally:
        await catalogue.stop()


async def until_known(copy: CatalogueCopy, code: str, name: str, timeout_s: float = 15.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        spec = copy.get(code)
        if spec is not None and spec.name == name:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"the copy did not learn {code} named {name!r} within {timeout_s}s")


async def test_the_copy_loads_what_was_published_before_it_started(stack: Stack) -> None:
    earlier = category(f"bench_{uuid4().hex[:8]}")
    await publish(stack, earlier)
    catalogue = CatalogueCopy(GatewaySettings(kafka_bootstrap_servers=stack.kafka), client_id="gateway-it")
    await catalogue.start()
    try:
        async with asyncio.timeout(15):
            await catalogue.wait_loaded()
        # Loaded means read up to where the topic ended at start: the earlier record is in.
        assert catalogue.get(earlier.code) == earlier
        await catalogue.ready()
    finally:
        await catalogue.stop()


async def test_the_copy_follows_records_published_after_it_loaded(stack: Stack, copy: CatalogueCopy) -> None:
    async with asyncio.timeout(15):
        await copy.wait_loaded()
    code = f"bench_{uuid4().hex[:8]}"
    assert copy.get(code) is None
    await publish(stack, category(code))
    await until_known(copy, code, "Broken bench")
    await publish(stack, category(code, name="Broken bench (park)"))
    await until_known(copy, code, "Broken bench (park)")
