"""Photos through all five real processes: upload URL, streamed PUT, processing over Kafka, serving."""

from __future__ import annotations

import io
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

import httpx
import pytest
from PIL import Image, ImageDraw
from pymongo import AsyncMongoClient

from snapfix_media.config import DEV_UPLOAD_SECRET
from snapfix_media.signing import UploadSigner
from snapfix_shared.messages import ProcessMedia
from snapfix_shared.topics import Topic
from tests.e2e.api import citizen, eventually, user_id
from tests.e2e.conftest import System
from tests.stack import header, produce, read_topic

pytestmark = pytest.mark.e2e


def photo(fmt: str = "JPEG", size: tuple[int, int] = (1600, 1200)) -> bytes:
    image = Image.new("RGB", size, (30, 120, 200))
    ImageDraw.Draw(image).ellipse((100, 100, 900, 700), fill=(240, 200, 20))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0)})
    out = io.BytesIO()
    image.save(out, fmt, exif=exif)
    return out.getvalue()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def ticket(client: httpx.AsyncClient, content_type: str = "image/jpeg", size: int = 1000) -> dict[str, Any]:
    response = await client.post("/v1/media", json={"content_type": content_type, "size": size})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def upload(client: httpx.AsyncClient, data: bytes, content_type: str = "image/jpeg") -> str:
    issued = await ticket(client, content_type, max(1, len(data)))
    response = await client.put(path_of(issued["upload_url"]), content=data)
    assert response.status_code == 202, response.text
    return str(issued["id"])


def settled(body: dict[str, Any]) -> bool:
    return body["status"] in {"processed", "rejected"}


@pytest.fixture
async def client(system: System) -> Any:
    signed_in = await citizen(system, verified=True)
    yield signed_in
    await signed_in.aclose()


async def test_a_photo_is_uploaded_processed_and_served_without_its_metadata(system: System, client: Any) -> None:
    media_id = await upload(client, photo())
    state = await eventually(client, f"/v1/media/{media_id}", settled)
    assert state["status"] == "processed", state
    assert (state["width"], state["height"]) == (1600, 1200)
    assert set(state["variants"]) == {"thumb.webp", "thumb.jpg", "medium.webp", "medium.jpg", "large.webp", "large.jpg"}

    async with httpx.AsyncClient(base_url=system.gateway) as anonymous:  # variants are public
        response = await anonymous.get(state["variants"]["medium.jpg"])
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(response.content))
        assert image.size == (1024, 768)
        assert not image.getexif()
        assert b"PhoneMaker" not in response.content

        etag = response.headers["etag"]
        again = await anonymous.get(state["variants"]["medium.jpg"], headers={"if-none-match": etag})
        assert again.status_code == 304
        assert again.headers["etag"] == etag
        assert not again.content

        part = await anonymous.get(state["variants"]["medium.jpg"], headers={"range": "bytes=0-99"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 0-99/{len(response.content)}"
        assert part.content == response.content[:100]

        beyond = await anonymous.get(state["variants"]["medium.jpg"], headers={"range": "bytes=99999999-"})
        assert beyond.status_code == 416

        assert (await anonymous.get(f"/v1/media/{media_id}/original")).status_code in {404, 422}
        assert (await anonymous.get(f"/v1/media/{media_id}")).status_code == 401

    events = await read_topic(system.stack.kafka, Topic.MEDIA_EVENTS, lambda r: r.key == media_id.encode())
    assert header(events[0], "ce_type") == "dev.snapfix.MediaProcessed.v1"


async def test_a_png_declared_as_jpeg_is_processed_from_its_bytes(client: Any) -> None:
    media_id = await upload(client, photo("PNG", (400, 300)), content_type="image/jpeg")
    state = await eventually(client, f"/v1/media/{media_id}", settled)
    assert state["status"] == "processed", state


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (photo()[:5000], "could not be decoded"), (b"<html>hello</html>", "not a JPEG")],
    ids=["zero-bytes", "truncated", "html"],
)
async def test_bad_uploads_are_rejected_with_a_reason(client: Any, data: bytes, reason: str) -> None:
    media_id = await upload(client, data)
    state = await eventually(client, f"/v1/media/{media_id}", settled)
    assert state["status"] == "rejected"
    assert reason in state["reason"]


async def test_an_upload_url_works_once(client: Any) -> None:
    issued = await ticket(client)
    first = await client.put(path_of(issued["upload_url"]), content=photo("PNG", (64, 64)))
    assert first.status_code == 202, first.text
    second = await client.put(path_of(issued["upload_url"]), content=photo("PNG", (64, 64)))
    assert second.status_code == 409


async def test_someone_elses_upload_url_is_refused(system: System, client: Any) -> None:
    issued = await ticket(client)
    other = await citizen(system)
    try:
        response = await other.put(path_of(issued["upload_url"]), content=photo("PNG", (64, 64)))
        assert response.status_code == 403
        assert (await other.get(f"/v1/media/{issued['id']}")).status_code == 404
    finally:
        await other.aclose()
    # Refusing the stranger did not use the URL up.
    assert (await client.put(path_of(issued["upload_url"]), content=photo("PNG", (64, 64)))).status_code == 202


@pytest.mark.parametrize("signature", ["é" * 64, "0" * 63 + "&expires=1"], ids=["non-ascii", "injected"])
async def test_a_malformed_signature_is_refused_as_forbidden(client: Any, signature: str) -> None:
    issued = await ticket(client)
    expires = dict(parse_qsl(urlsplit(issued["upload_url"]).query))["expires"]
    response = await client.put(
        f"/v1/media/{issued['id']}/upload", params={"expires": expires, "signature": signature}, content=b"x"
    )
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 403


async def test_an_expired_upload_url_is_refused(client: Any) -> None:
    issued = await ticket(client)
    expired = int(time.time()) - 1
    signature = UploadSigner(DEV_UPLOAD_SECRET).sign(UUID(issued["id"]), user_id(client), expired)
    response = await client.put(
        f"/v1/media/{issued['id']}/upload?expires={expired}&signature={signature}", content=b"x"
    )
    assert response.status_code == 410


async def test_a_body_over_the_cap_is_refused_while_streaming(client: Any) -> None:
    issued = await ticket(client)

    async def sixteen_megabytes() -> Any:
        for _ in range(16):
            yield b"\xff" * (1024 * 1024)

    response = await client.put(path_of(issued["upload_url"]), content=sixteen_megabytes())
    assert response.status_code == 413
    assert (
        await client.post("/v1/media", json={"content_type": "image/png", "size": 16 * 1024 * 1024})
    ).status_code == 413


async def test_a_redelivered_command_announces_the_same_outcome_and_poison_is_dead_lettered(
    system: System, client: Any
) -> None:
    media_id = await upload(client, photo("PNG", (64, 64)))
    await eventually(client, f"/v1/media/{media_id}", settled)
    commands = await read_topic(system.stack.kafka, Topic.MEDIA_COMMANDS, lambda r: r.key == media_id.encode())
    await produce(system.stack.kafka, Topic.MEDIA_COMMANDS, commands[0].value, key=commands[0].key)
    await produce(system.stack.kafka, Topic.MEDIA_COMMANDS, b"not json", key=media_id.encode())

    events = await read_topic(
        system.stack.kafka, Topic.MEDIA_EVENTS, lambda r: r.key == media_id.encode(), count=2, timeout_s=30
    )
    assert len(events) == 2
    assert events[0].value == events[1].value  # the very same event, message id included
    dead = await read_topic(system.stack.kafka, Topic.MEDIA_COMMANDS.dlq, lambda r: r.key == media_id.encode())
    assert header(dead[0], "dlq_reason") == "invalid"


async def test_a_photo_whose_processing_is_dead_lettered_ends_failed_and_is_announced(
    system: System, client: Any
) -> None:
    issued = await ticket(client)
    media_id = UUID(issued["id"])
    # An upload whose original the store lost: the record says pending, no bytes are stored.
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.stack.mongo_url, uuidRepresentation="standard")
    try:
        await mongo["snapfix_media"]["media"].update_one({"_id": media_id}, {"$set": {"status": "pending", "size": 10}})
    finally:
        await mongo.close()
    command = ProcessMedia(
        media_id=media_id, owner_id=user_id(client), content_type="image/jpeg", size=10, correlation_id="lost"
    )
    body, key = command.model_dump_json().encode(), str(media_id).encode()
    await produce(system.stack.kafka, Topic.MEDIA_COMMANDS, body, key=key)

    state = await eventually(
        client, f"/v1/media/{media_id}", lambda s: s["status"] not in {"pending", "awaiting_upload"}
    )
    assert state["status"] == "failed"  # never left pending
    assert "could not be processed" in state["reason"]
    dead = await read_topic(system.stack.kafka, Topic.MEDIA_COMMANDS.dlq, lambda r: r.key == key)
    assert header(dead[0], "dlq_reason") == "missing"
    events = await read_topic(system.stack.kafka, Topic.MEDIA_EVENTS, lambda r: r.key == key)
    assert header(events[0], "ce_type") == "dev.snapfix.MediaRejected.v1"
    assert json.loads(events[0].value)["reason"] == state["reason"]

    await produce(system.stack.kafka, Topic.MEDIA_COMMANDS, body, key=key)  # redelivered: the same announcement
    again = await read_topic(system.stack.kafka, Topic.MEDIA_EVENTS, lambda r: r.key == key, count=2, timeout_s=30)
    assert len(again) == 2
    assert again[0].value == again[1].value
