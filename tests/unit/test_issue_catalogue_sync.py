"""The issues service publishes its catalogue: all of it at start, each change at once, and what a
failed publish missed at the next refresh (a fake store, a fake broker)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from snapfix_issues.catalogue import Catalogue, CategoryBody, CategorySpec
from snapfix_issues.catalogue_sync import CatalogueSync
from snapfix_shared.kafka import PublishFailed

pytestmark = pytest.mark.unit


@dataclass
class FakeCategories:
    stored: dict[str, CategorySpec] = field(default_factory=dict)

    async def all(self) -> list[CategorySpec]:
        return list(self.stored.values())

    async def insert_absent(self, specs: Sequence[CategorySpec]) -> int:
        new = [s for s in specs if s.code not in self.stored]
        self.stored.update((s.code, s) for s in new)
        return len(new)

    async def fill_canned_responses(self, _specs: Sequence[CategorySpec]) -> int:
        return 0

    async def put(self, code: str, body: CategoryBody, _at: datetime) -> bool:
        created = code not in self.stored
        self.stored[code] = CategorySpec(code=code, **body.model_dump())
        return created


@dataclass
class FakeBroker:
    published: list[list[str]] = field(default_factory=list)
    down: bool = False

    async def announce(self, specs: Sequence[CategorySpec]) -> None:
        if self.down:
            raise PublishFailed("issues.catalogue.v1: no broker")
        self.published.append([s.code for s in specs])


BENCH = CategoryBody(name="Broken bench", department="parks", sla_hours=48)


def sync_with(broker: FakeBroker) -> tuple[CatalogueSync, FakeCategories]:
    store = FakeCategories()
    return CatalogueSync(Catalogue(), store, refresh_s=3600, announce=broker.announce), store  # type: ignore[arg-type]


async def test_the_whole_catalogue_is_published_at_start_and_then_only_changes() -> None:
    broker = FakeBroker()
    sync, _ = sync_with(broker)
    await sync.start()
    try:
        [first] = broker.published
        assert "pothole" in first
        assert len(first) == len(sync.catalogue.all())

        await sync.put("bench", BENCH)
        assert broker.published[1:] == [["bench"]]
        await sync.publish_changes()  # nothing changed since
        assert len(broker.published) == 2
    finally:
        await sync.stop()


async def test_a_change_whose_publish_failed_is_published_at_the_next_refresh() -> None:
    broker = FakeBroker()
    sync, store = sync_with(broker)
    await sync.start()
    try:
        broker.down = True
        spec, created = await sync.put("bench", BENCH)  # stored, and used here, even so
        assert created
        assert sync.catalogue.get("bench") == spec
        assert store.stored["bench"] == spec

        broker.down = False
        await sync.refresh()
        await sync.publish_changes()
        assert broker.published[-1] == ["bench"]
    finally:
        await sync.stop()


async def test_a_change_made_on_another_instance_is_published_after_the_refresh_that_sees_it() -> None:
    broker = FakeBroker()
    sync, store = sync_with(broker)
    await sync.start()
    try:
        store.stored["bench"] = CategorySpec(code="bench", **BENCH.model_dump())
        await sync.refresh()
        await sync.publish_changes()
        assert broker.published[-1] == ["bench"]
    finally:
        await sync.stop()
