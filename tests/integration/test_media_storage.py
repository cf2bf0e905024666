"""The BlobStore contract, run against both backends: GridFS (FerretDB) and S3 (S3Proxy).

Each test runs once per store, on the real servers of the stack; the S3 store uses a
5 MiB part size, so the 12 MiB stream below is a real three-part multipart upload.
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from snapfix_media.storage import BlobStore, GridFsStore, S3Store, StoreUnavailable, TooLarge
from tests.media_s3 import s3_server
from tests.stack import Stack, free_port

pytestmark = pytest.mark.integration
MiB = 1024 * 1024


@pytest.fixture(params=["gridfs", "s3"])
async def store(request: pytest.FixtureRequest, stack: Stack) -> AsyncIterator[BlobStore]:
    if request.param == "gridfs":
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.mongo_url, timeoutMS=10_000)
        yield GridFsStore(client["snapfix_media_store_test"])
        await client.close()
    else:
        s3 = s3_server().store(prefix=f"contract-{uuid4().hex[:8]}/")
        await s3.ensure_bucket()
        yield s3
        await s3.close()


def key() -> str:
    return f"{uuid4()}/original"


def pattern(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]  # no period that divides a part size


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def test_put_get_and_replace(store: BlobStore) -> None:
    k = key()
    assert await store.get(k) is None
    await store.put(k, b"first", content_type="image/jpeg")
    assert await store.get(k) == b"first"
    await store.put(k, b"second, longer", content_type="image/jpeg")
    assert await store.get(k) == b"second, longer"


async def test_ranges_read_only_the_asked_bytes(store: BlobStore) -> None:
    k, data = key(), pattern(300_000)  # more than one GridFS chunk (255 KiB)
    await store.put(k, data, content_type="image/webp")
    assert await store.get_range(k, 0, 99) == data[:100]
    assert await store.get_range(k, 261_000, 262_000) == data[261_000:262_001]  # across a chunk boundary
    assert await store.get_range(k, len(data) - 1, len(data) - 1) == data[-1:]
    assert await store.get_range(key(), 0, 10) is None


async def test_delete_is_idempotent(store: BlobStore) -> None:
    k = key()
    await store.put(k, b"bytes", content_type="image/jpeg")
    await store.delete(k)
    assert await store.get(k) is None
    await store.delete(k)  # a missing key: no error


async def test_a_small_stream_is_stored_whole(store: BlobStore) -> None:
    k, data = key(), pattern(70_000)
    assert await store.put_stream(k, chunks(data), max_bytes=15 * MiB, content_type="original") == len(data)
    assert await store.get(k) == data


async def test_a_large_stream_is_stored_in_parts_and_read_back_across_them(store: BlobStore) -> None:
    k, data = key(), pattern(12 * MiB + 12_345)
    assert await store.put_stream(k, chunks(data), max_bytes=15 * MiB, content_type="original") == len(data)
    assert await store.get(k) == data
    boundary = 5 * MiB  # the first S3 part ends here
    assert await store.get_range(k, boundary - 10, boundary + 10) == data[boundary - 10 : boundary + 11]


async def test_a_stream_over_its_cap_keeps_nothing(store: BlobStore) -> None:
    k = key()
    with pytest.raises(TooLarge):
        await store.put_stream(k, chunks(pattern(7 * MiB)), max_bytes=6 * MiB, content_type="original")
    assert await store.get(k) is None


async def test_s3_multipart_upload_is_really_multipart_and_leaves_no_open_upload() -> None:
    server = s3_server()
    prefix = f"multipart-{uuid4().hex[:8]}/"
    s3 = server.store(prefix=prefix)
    try:
        k = key()
        await s3.put_stream(k, chunks(pattern(11 * MiB)), max_bytes=15 * MiB, content_type="original")
        client = await s3.client()
        head = await client.head_object(Bucket=server.bucket, Key=prefix + k)  # stored under the prefix
        assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 1 MiB: three parts
        with pytest.raises(TooLarge):
            await s3.put_stream(key(), chunks(pattern(11 * MiB)), max_bytes=8 * MiB, content_type="original")
        pending = await client.list_multipart_uploads(Bucket=server.bucket, Prefix=prefix)
        assert not pending.get("Uploads")  # the refused upload was aborted
    finally:
        await s3.close()


async def test_an_unreachable_s3_is_store_unavailable_after_bounded_retries() -> None:
    s3 = S3Store(
        bucket="nowhere",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="x",
        secret_access_key=os.urandom(8).hex(),
        path_style=True,
        connect_timeout_s=0.5,
        read_timeout_s=0.5,
        max_attempts=2,
    )
    try:
        with pytest.raises(StoreUnavailable):
            await s3.get("a/original")
        with pytest.raises(StoreUnavailable):
            await s3.put("a/original", b"x", content_type="image/jpeg")
    finally:
        await s3.close()


async def test_a_stream_is_never_held_whole_in_memory(store: BlobStore) -> None:
    size = 30 * MiB
    block = pattern(64 * 1024)

    async def blocks() -> AsyncIterator[bytes]:
        for _ in range(size // len(block)):
            yield block  # the same block: the source itself holds 64 KiB

    k = key()
    tracemalloc.start()
    try:
        assert await store.put_stream(k, blocks(), max_bytes=size, content_type="original") == size
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"{type(store).__name__}: peak {peak / MiB:.1f} MiB for a {size // MiB} MiB stream")
    assert peak < 20 * MiB  # bounded by a part (S3: 5 MiB here) or a chunk (GridFS), not by the photo
    assert await store.get_range(k, size - 3, size - 1) == block[-3:]
    await store.delete(k)
