"""Blob storage behind one small interface: GridFS in the service's own database by default.

Keys are ``<media id>/original`` (private: never served publicly) and
``<media id>/<variant>`` (public). An S3-compatible backend is the production option:
it implements the same ``BlobStore`` protocol (multipart upload for ``put_stream``,
``GetObject`` with ``Range`` for ``get``); it is not written yet, and selecting it
(``SNAPFIX_STORAGE_BACKEND=s3``) fails at start rather than pretending to work.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable
from typing import Any, Protocol

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase


class TooLarge(Exception):
    """The stream went past its byte limit; nothing was kept."""


class BlobStore(Protocol):
    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int, content_type: str) -> int:
        """Store a stream under ``key`` (replacing it); return its size. Raises TooLarge past ``max_bytes``."""
        ...

    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes | None: ...
    async def delete(self, key: str) -> None: ...


class GridFsStore:
    """GridFS: chunks of 255 KiB in ``fs.files``/``fs.chunks``; the key is the file's ``_id``.

    Intended shard key of ``fs.chunks``: ``{files_id: 1, n: 1}`` (as MongoDB documents for GridFS).
    """

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._bucket = AsyncGridFSBucket(database)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int, content_type: str) -> int:
        await self.delete(key)
        upload = self._bucket.open_upload_stream_with_id(key, key, metadata={"content_type": content_type})
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"more than {max_bytes} bytes")
                await upload.write(chunk)
        except BaseException:
            await upload.abort()
            raise
        await upload.close()
        return size

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await self.delete(key)
        await self._bucket.upload_from_stream_with_id(key, key, data, metadata={"content_type": content_type})

    async def get(self, key: str) -> bytes | None:
        try:
            stream = await self._bucket.open_download_stream(key)
        except NoFile:
            return None
        return await stream.read()

    async def delete(self, key: str) -> None:
        with contextlib.suppress(NoFile):
            await self._bucket.delete(key)


def original_key(media_id: object) -> str:
    return f"{media_id}/original"


def variant_key(media_id: object, variant: str) -> str:
    return f"{media_id}/{variant}"
