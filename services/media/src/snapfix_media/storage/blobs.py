"""What every blob store offers (``BlobStore``), the errors it raises and the keys it is asked for."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Protocol


class TooLarge(Exception):
    """The stream went past its byte limit; nothing was kept."""


class StoreUnavailable(ConnectionError):
    """The store did not answer (in time) or answered with a server-side error: worth retrying."""


class BlobStore(Protocol):
    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int, content_type: str) -> int:
        """Store a stream under ``key`` (replacing it); return its size. Raises TooLarge past ``max_bytes``."""
        ...

    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes | None: ...

    async def get_range(self, key: str, start: int, end: int) -> bytes | None:
        """Bytes ``start`` to ``end`` (inclusive, within the blob) of ``key``; None when it does not exist."""
        ...

    async def delete(self, key: str) -> None: ...


def original_key(media_id: object) -> str:
    return f"{media_id}/original"


def variant_key(media_id: object, variant: str) -> str:
    return f"{media_id}/{variant}"
