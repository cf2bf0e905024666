"""The media flow on the S3 backend: the real media process stores in the stack's S3 server
(S3Proxy), and the photo is uploaded, processed and served with ranges through the gateway.

The session's media process runs on GridFS; this module restarts it with
``SNAPFIX_STORAGE_BACKEND=s3`` (and 5 MiB parts, so a 6 MB photo is a real multipart
upload) and restores it afterwards.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from PIL import Image

from tests.e2e.api import citizen, eventually
from tests.e2e.conftest import System
from tests.e2e.test_media import path_of, photo, settled, ticket, upload
from tests.media_s3 import S3Server, s3_server

pytestmark = pytest.mark.e2e


async def restart_media(system: System, env: dict[str, str]) -> None:
    """Restart the media process with ``env``, and wait until it processes a photo: its
    consumer group is assigned and its worker pool warm (a busy machine takes a while)."""
    await asyncio.to_thread(system.stop, "media")
    system.envs["media"] = env
    await asyncio.to_thread(system.start, "media")
    warm = await citizen(system, verified=True)
    try:
        media_id = await upload(warm, photo("PNG", (64, 64)))
        state = await eventually(warm, f"/v1/media/{media_id}", settled, timeout_s=180)
        assert state["status"] == "processed", state
    finally:
        await warm.aclose()


@pytest.fixture(scope="module")
async def s3_system(system: System) -> AsyncIterator[tuple[System, S3Server]]:
    server = s3_server()
    gridfs_env = dict(system.envs["media"])
    s3_env = gridfs_env | server.env() | {"SNAPFIX_STORAGE_BACKEND": "s3", "SNAPFIX_S3_PART_MB": "5"}
    await restart_media(system, s3_env)
    try:
        yield system, server
    finally:  # the other tests' media process: on GridFS again, and ready for them
        await restart_media(system, gridfs_env)


@pytest.fixture
async def client(s3_system: tuple[System, S3Server]) -> AsyncIterator[httpx.AsyncClient]:
    signed_in = await citizen(s3_system[0], verified=True)
    yield signed_in
    await signed_in.aclose()


async def object_etag(server: S3Server, key: str) -> str | None:
    store = server.store()
    try:
        s3 = await store.client()
        try:
            head = await s3.head_object(Bucket=server.bucket, Key=key)
        except s3.exceptions.ClientError:
            return None
        return str(head["ETag"]).strip('"')
    finally:
        await store.close()


def noisy_jpeg(size: tuple[int, int] = (3000, 2000)) -> bytes:
    """A photo of noise: it compresses badly, so it is large (about 6 MB)."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


async def test_a_photo_is_stored_in_s3_processed_and_served_with_ranges(
    s3_system: tuple[System, S3Server], client: httpx.AsyncClient
) -> None:
    system, server = s3_system
    media_id = await upload(client, photo())
    state = await eventually(client, f"/v1/media/{media_id}", settled)
    assert state["status"] == "processed", state
    assert await object_etag(server, f"{media_id}/original") is not None  # the original went to S3, privately
    assert await object_etag(server, f"{media_id}/medium.jpg") is not None

    async with httpx.AsyncClient(base_url=system.gateway) as anonymous:
        whole = await anonymous.get(state["variants"]["medium.jpg"])
        assert whole.status_code == 200
        assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert Image.open(io.BytesIO(whole.content)).size == (1024, 768)
        length = len(whole.content)

        part = await anonymous.get(state["variants"]["medium.jpg"], headers={"range": "bytes=100-299"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-299/{length}"
        assert part.content == whole.content[100:300]

        tail = await anonymous.get(state["variants"]["medium.jpg"], headers={"range": "bytes=-50"})
        assert tail.status_code == 206
        assert tail.content == whole.content[-50:]

        beyond = await anonymous.get(state["variants"]["medium.jpg"], headers={"range": f"bytes={length}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{length}"

        again = await anonymous.get(state["variants"]["medium.jpg"], headers={"if-none-match": whole.headers["etag"]})
        assert again.status_code == 304

        unknown = await anonymous.get(f"/v1/media/{uuid4()}/thumb.webp")
        assert unknown.status_code == 404
        assert unknown.headers["cache-control"] == "no-store"  # a cache must not remember a miss


async def test_a_large_upload_streams_into_s3_as_a_multipart_upload(
    s3_system: tuple[System, S3Server], client: httpx.AsyncClient
) -> None:
    _, server = s3_system
    data = noisy_jpeg()
    assert len(data) > 5 * 1024 * 1024
    issued = await ticket(client, "image/jpeg", len(data))

    async def in_pieces() -> Any:
        for offset in range(0, len(data), 256 * 1024):
            yield data[offset : offset + 256 * 1024]

    response = await client.put(path_of(issued["upload_url"]), content=in_pieces())
    assert response.status_code == 202, response.text
    parts = -(-len(data) // (5 * 1024 * 1024))
    etag = await object_etag(server, f"{issued['id']}/original")
    assert etag is not None
    assert etag.endswith(f"-{parts}")  # stored part by part, never whole in the service's memory
    state = await eventually(client, f"/v1/media/{issued['id']}", settled, timeout_s=60)
    assert state["status"] == "processed", state
    assert (state["width"], state["height"]) == (3000, 2000)
