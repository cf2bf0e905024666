"""Keeps the in-memory catalogue in step with the store: seeded at start, refreshed periodically."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pymongo.errors import PyMongoError

from snapfix_issues.catalogue import Catalogue, CategoryBody, CategorySpec, seed_categories
from snapfix_issues.repository import CategoryRepository
from snapfix_shared.messages.base import utcnow

log = logging.getLogger(__name__)


class CatalogueSync:
    def __init__(self, catalogue: Catalogue, repo: CategoryRepository, refresh_s: float) -> None:
        self.catalogue, self.repo, self.refresh_s = catalogue, repo, refresh_s
        self._task: asyncio.Task[None] | None = None
        self._loaded = asyncio.Event()

    async def start(self) -> None:
        """Insert the seed's missing codes (admins' edits win), load all, then refresh in the background."""
        inserted = await self.repo.insert_absent(seed_categories())
        await self.refresh()
        self._loaded.set()
        log.info("catalogue: %d categories (%d seeded now)", len(self.catalogue.all()), inserted)
        self._task = asyncio.create_task(self._refresh_forever(), name="catalogue-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def loaded(self) -> None:
        """Wait until the first load (consumers may start before the start-up hooks have run)."""
        await self._loaded.wait()

    async def refresh(self) -> None:
        self.catalogue.replace(await self.repo.all())

    async def put(self, code: str, body: CategoryBody) -> tuple[CategorySpec, bool]:
        """Store an admin's category and use it here at once (other instances within ``refresh_s``)."""
        created = await self.repo.put(code, body, utcnow())
        spec = CategorySpec(code=code, **body.model_dump())
        self.catalogue.put(spec)
        return spec, created

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except PyMongoError as exc:  # keep the last good copy; try again next round
                log.warning("catalogue refresh failed: %s", exc)
