"""The gateway's copy of the category catalogue, kept from ``issues.catalogue.v1``.

At start the compacted topic is read from its beginning up to the end offsets found then
(``loaded``: ``/readyz`` waits for it); after that the copy follows new records as they come.
No consumer group: every replica reads the whole (small) topic and commits nothing. A record
that does not validate is skipped and counted (each replica would dead-letter it again at every
start); the issues consumer, which checks every report again, stays the authority.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from fastapi import Depends, Request
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from snapfix_shared.kafka_security import aiokafka_options
from snapfix_shared.messages.catalogue import CATALOGUE_RECORDS, CategorySpec
from snapfix_shared.settings import KafkaSettings
from snapfix_shared.tasks import cancelled
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)

SKIPPED = Counter("snapfix_gateway_catalogue_skipped_total", "Catalogue records that did not validate")
CATEGORIES = Gauge("snapfix_gateway_catalogue_categories", "Categories in the gateway's copy of the catalogue")
RETRY_S = 2.0
# aiokafka's consumer is untyped (mypy refuses untyped calls here): reached through Any.
_Consumer: Any = AIOKafkaConsumer


class CatalogueNotLoaded(RuntimeError):
    """The copy has not read the topic up to where it ended at start yet."""


class CatalogueCopy:
    """Categories by code, as last published by their owner."""

    def __init__(self, settings: KafkaSettings, *, client_id: str, topic: str = Topic.ISSUES_CATALOGUE) -> None:
        self.settings, self.client_id, self.topic = settings, client_id, topic
        self._specs: dict[str, CategorySpec] = {}
        self._loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- reading --------------------------------------------------------------------------

    def get(self, code: str) -> CategorySpec | None:
        """The category, or None: unknown here (perhaps created a moment ago), or the copy is not loaded."""
        return self._specs.get(code) if self._loaded.is_set() else None

    def all(self) -> list[CategorySpec]:
        return sorted(self._specs.values(), key=lambda s: s.code)

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    async def wait_loaded(self) -> None:
        await self._loaded.wait()

    async def ready(self) -> None:
        """The readiness check: fails until the first load is complete."""
        if not self._loaded.is_set():
            raise CatalogueNotLoaded(f"{self.topic} not read to its end yet")

    def apply(self, record: ConsumerRecord[Any, Any]) -> None:
        """One record: a category as it stands now; a tombstone (no value) removes the code."""
        if record.value is None:
            if record.key is not None:
                self._specs.pop(record.key.decode(errors="replace"), None)
            return
        try:
            message = CATALOGUE_RECORDS.validate_json(record.value)
        except ValidationError as exc:
            SKIPPED.inc()
            log.warning("catalogue record at offset %d skipped: %s", record.offset, exc)
            return
        self._specs[message.category.code] = message.category
        CATEGORIES.set(len(self._specs))

    # -- the follower ---------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="catalogue-copy")

    async def stop(self) -> None:
        await cancelled(self._task)

    async def _run(self) -> None:
        while True:  # a broker that is away comes back: read again from where this copy stands
            try:
                await self._follow()
            except KafkaError as exc:
                log.warning("catalogue copy: %s; reading again in %.0fs", exc, RETRY_S)
                await asyncio.sleep(RETRY_S)
            except Exception:  # a copy that stops following goes stale unseen: log, and follow again
                log.exception("catalogue copy failed; reading again in %.0fs", RETRY_S)
                await asyncio.sleep(RETRY_S)

    async def _follow(self) -> None:
        consumer = _Consumer(
            bootstrap_servers=[s.strip() for s in self.settings.kafka_bootstrap_servers.split(",") if s.strip()],
            client_id=self.client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **aiokafka_options(self.settings),
        )
        await consumer.start()
        try:
            # Without a group, a subscription is assigned every partition of the topic (once it exists).
            consumer.subscribe([self.topic])
            ends: dict[TopicPartition, int] | None = None
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for records in batches.values():
                    for record in records:
                        self.apply(record)
                if self._loaded.is_set():
                    continue
                if ends is None and (assigned := consumer.assignment()):
                    ends = await consumer.end_offsets(sorted(assigned))  # where the topic ends now
                if ends is not None and await _caught_up(consumer, ends):
                    self._loaded.set()
                    log.info("catalogue copy loaded: %d categories", len(self._specs))
        finally:
            await consumer.stop()


async def _caught_up(consumer: Any, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True


async def get_catalogue(request: Request) -> CatalogueCopy:
    return request.app.state.catalogue  # type: ignore[no-any-return]


CatalogueDep = Annotated[CatalogueCopy, Depends(get_catalogue)]
