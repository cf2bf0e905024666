"""Keeps the in-memory catalogue in step with the store, and publishes it on ``issues.catalogue.v1``.

Seeded at start, refreshed periodically. Every category whose content differs from what this
instance last published is published again (at start: all of them), so the compacted topic, and
the gateway's copy read from it, follow the store within ``refresh_s`` even after a failed publish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from opentelemetry.context import Context

from snapfix_issues.catalogue import Catalogue, CategoryBody, CategorySpec, seed_categories
from snapfix_issues.repository import CategoryRepository, StoreError
from snapfix_shared.kafka import PublishFailed, publish_all
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.catalogue import CategoryPublished
from snapfix_shared.runtime import Runtime
from snapfix_shared.tasks import cancelled
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)

# Publishes categories and returns once the broker acknowledged every one (else PublishFailed).
Announce = Callable[[Sequence[CategorySpec]], Awaitable[None]]


def kafka_announcer(runtime: Runtime) -> Announce:
    """Each category as a ``CategoryPublished`` on the compacted topic, keyed by its code (acks=all)."""

    async def announce(specs: Sequence[CategorySpec]) -> None:
        messages = [(CategoryPublished(correlation_id="catalogue-sync", category=s), Context()) for s in specs]
        await publish_all(
            runtime.broker,
            Topic.ISSUES_CATALOGUE,
            messages,
            source=runtime.source,
            timeout_s=runtime.publish_timeout_s,
        )

    return announce


class CatalogueSync:
    def __init__(
        self, catalogue: Catalogue, repo: CategoryRepository, refresh_s: float, announce: Announce | None = None
    ) -> None:
        self.catalogue, self.repo, self.refresh_s, self.announce = catalogue, repo, refresh_s, announce
        self._task: asyncio.Task[None] | None = None
        self._loaded = asyncio.Event()
        self._published: dict[str, CategorySpec] = {}  # what this instance last saw acknowledged
        self._publishing = asyncio.Lock()

    async def start(self) -> None:
        """Insert the seed's missing codes (admins' edits win) and its canned responses where a stored
        category predates them, load all, publish, then refresh in the background."""
        seed = seed_categories()
        inserted = await self.repo.insert_absent(seed)
        filled = await self.repo.fill_canned_responses(seed)
        await self.refresh()
        self._loaded.set()
        log.info(
            "catalogue: %d categories (%d seeded now, %d given the seed's canned responses)",
            len(self.catalogue.all()),
            inserted,
            filled,
        )
        await self.publish_changes()
        self._task = asyncio.create_task(self._refresh_forever(), name="catalogue-refresh")

    async def stop(self) -> None:
        await cancelled(self._task)

    async def loaded(self) -> None:
        """Wait until the first load (consumers may start before the start-up hooks have run)."""
        await self._loaded.wait()

    async def refresh(self) -> None:
        self.catalogue.replace(await self.repo.all())

    async def put(self, code: str, body: CategoryBody) -> tuple[CategorySpec, bool]:
        """Store an admin's category and use it here at once (other instances within ``refresh_s``).

        It is published before the answer; should that fail, the store has it and the next
        refresh publishes it.
        """
        created = await self.repo.put(code, body, utcnow())
        spec = CategorySpec(code=code, **body.model_dump())
        self.catalogue.put(spec)
        await self.publish_changes()
        return spec, created

    async def publish_changes(self) -> None:
        """Publish what differs from this instance's last acknowledged publish; a failure waits for the next round."""
        if self.announce is None:
            return
        async with self._publishing:
            due = [s for s in self.catalogue.all() if self._published.get(s.code) != s]
            if not due:
                return
            try:
                await self.announce(due)
            except PublishFailed as exc:
                log.warning("catalogue: %d categories not published (next round retries): %s", len(due), exc)
                return
            self._published.update((s.code, s) for s in due)
            log.info("catalogue: %d categories published", len(due))

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except StoreError as exc:  # keep the last good copy; try again next round
                log.warning("catalogue refresh failed: %s", exc)
                continue
            await self.publish_changes()
