"""Telling caches in front of the variants (nginx, a CDN) to forget a deleted photo.

Variants are served ``immutable`` for a year, so a cache keeps a deleted photo unless it is
told otherwise. The origin itself answers ``410`` with ``Cache-Control: no-store`` once a
photo is deleted; with ``SNAPFIX_CDN_PURGE_URL`` set (a template such as
``http://cache.internal/purge{path}``), the subscriber of ``media.events.v1`` (consumers.py, its own
group, ``media-cdn-purge``) sends ``SNAPFIX_CDN_PURGE_METHOD`` (``PURGE`` by default: nginx's
cache purge, Varnish, Fastly; ``BAN`` for Varnish bans) for each variant path of every
``MediaDeleted``. The deployment owns the cache and its purge endpoint (issue 8).

At least once: a purge that fails with a connection error or a 5xx is retried with backoff,
then the record is not committed and comes back; 2xx and 404 (not cached) count as done.
Purging is idempotent, so a redelivery only repeats it. Poison (not JSON, too large, a
``MediaDeleted`` that does not validate) goes to the dead-letter topic under this group.
"""

from __future__ import annotations

import logging
from typing import get_args

import aiohttp

from snapfix_shared.consuming import retry_transient
from snapfix_shared.messages import MediaDeleted
from snapfix_shared.messages.media import VariantName

log = logging.getLogger(__name__)
GROUP = "media-cdn-purge"
PURGED = frozenset({"MediaDeleted"})


class PurgeFailed(ConnectionError):
    """The cache did not confirm the purge: worth retrying."""


def variant_paths(media_id: object) -> list[str]:
    return [f"/v1/media/{media_id}/{name}" for name in get_args(VariantName)]


class CachePurger:
    def __init__(self, url_template: str, *, method: str, timeout_s: float) -> None:
        self.url_template, self.method = url_template, method
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def purge(self, path: str) -> None:
        url = self.url_template.format(path=path)
        try:
            async with self._client().request(self.method, url) as answer:
                if answer.status >= 500:
                    raise PurgeFailed(f"{self.method} {url} -> {answer.status}")
                if answer.status >= 400 and answer.status != 404:  # a misconfiguration: retrying won't help
                    log.error("%s %s -> %d: the cache refused the purge", self.method, url, answer.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PurgeFailed(f"{self.method} {url}: {exc!r}") from exc

    async def forget(self, event: MediaDeleted) -> None:
        for path in variant_paths(event.media_id):
            await retry_transient((PurgeFailed,), self.purge, path)
        log.info("purged the cached variants of media %s", event.media_id)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
