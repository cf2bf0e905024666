"""GridFS: the blob store in the service's own database, the default (``SNAPFIX_STORAGE_BACKEND=gridfs``).

The storage sub-package's repository: its only module that imports pymongo (import-linter).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable
from datetime import UTC, datetime
from typing import Any

from bson import Binary, Int64
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure

from snapfix_media.storage.blobs import TooLarge

GRIDFS_CHUNK = 255 * 1024  # GridFS's default chunk size
# GridFS's connection failures are pymongo's: transient, like StoreUnavailable.
GridFsUnavailable = ConnectionFailure


class GridFsStore:
    """GridFS: chunks of 255 KiB in ``fs.files``/``fs.chunks``; the key is the file's ``_id``.

    Intended shard key of ``fs.chunks``: ``{files_id: 1, n: 1}`` (as MongoDB documents for GridFS).
    Connection failures surface as pymongo's ``ConnectionFailure`` (callers treat it as transient).
    """

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = database
        self._bucket = AsyncGridFSBucket(database)
        self._indexed = False

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int, content_type: str) -> int:
        # Written chunk by chunk rather than through pymongo's upload stream, which gathers up
        # to 32 MiB of chunks before it inserts them: a whole photo would sit in memory.
        # The documents are GridFS's own (fs.chunks, then fs.files last), so reads are unchanged.
        await self.delete(key)
        if not self._indexed:  # what GridFS's upload stream would ensure (FerretDB: one index per call)
            await self._db["fs.chunks"].create_index([("files_id", 1), ("n", 1)], unique=True)
            self._indexed = True
        pending = bytearray()
        size = n = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"more than {max_bytes} bytes")
                pending += chunk
                while len(pending) >= GRIDFS_CHUNK:
                    await self._chunk(key, n, bytes(pending[:GRIDFS_CHUNK]))
                    del pending[:GRIDFS_CHUNK]
                    n += 1
            if pending:
                await self._chunk(key, n, bytes(pending))
            await self._db["fs.files"].insert_one(
                {
                    "_id": key,
                    "filename": key,
                    "length": Int64(size),
                    "chunkSize": GRIDFS_CHUNK,
                    "uploadDate": datetime.now(UTC),
                    "metadata": {"content_type": content_type},
                }
            )
        except BaseException:
            await self._db["fs.chunks"].delete_many({"files_id": key})
            raise
        return size

    async def _chunk(self, key: str, n: int, data: bytes) -> None:
        await self._db["fs.chunks"].insert_one({"files_id": key, "n": n, "data": Binary(data)})

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await self.delete(key)
        await self._bucket.upload_from_stream_with_id(key, key, data, metadata={"content_type": content_type})

    async def get(self, key: str) -> bytes | None:
        try:
            stream = await self._bucket.open_download_stream(key)
        except NoFile:
            return None
        return await stream.read()

    async def get_range(self, key: str, start: int, end: int) -> bytes | None:
        try:
            stream = await self._bucket.open_download_stream(key)
        except NoFile:
            return None
        await stream.seek(start)  # reads only the chunks the range touches
        return await stream.read(end - start + 1)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(NoFile):
            await self._bucket.delete(key)
