"""The media service answers what its OpenAPI document (and the gateway's) says: ``snapfix_shared.schemas.media``.

The gateway relays these answers (an upload URL, with its path made a full URL) and documents
them with the same models, so each JSON answer is checked here against its model, whose
``extra="forbid"`` fails on any field the document does not name and whose required fields fail
when one is left out: an upload URL, the upload received, and a photo's state while it waits
for its bytes, once processed (with its variants) and once rejected (with the reason).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
from PIL import Image, ImageDraw
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from snapfix_media.app import create_app
from snapfix_shared.schemas.media import MediaState, Uploaded, UploadTicket
from snapfix_shared.topics import Topic
from tests.builders import AsViewer
from tests.integration.media_app import media_settings
from tests.stack import Stack, start_groups_at_end

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

OWNER = AsViewer(f"owner-{uuid4().hex[:8]}", "citizen")


@dataclass
class Media:
    http: httpx.AsyncClient


def jpeg() -> bytes:
    image = Image.new("RGB", (800, 600), (30, 120, 200))
    ImageDraw.Draw(image).ellipse((100, 100, 500, 400), fill=(240, 200, 20))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
async def media(stack: Stack) -> AsyncIterator[Media]:
    """The media service in-process, on a database and consumer groups of this module's own."""
    settings = media_settings(stack, "schemas")
    await start_groups_at_end(
        stack.kafka, {settings.consumer_group: Topic.MEDIA_COMMANDS, settings.media_users_group: Topic.USERS_EVENTS}
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://media", auth=OWNER) as http:
                yield Media(http)
    finally:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
        await client.drop_database(settings.mongo_database)
        await client.close()


def documented(response: httpx.Response, model: type[BaseModel], status: int) -> Any:
    """The answer, validated against ``model``; its body as JSON."""
    assert response.status_code == status, f"{response.request.url}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/json"
    model.model_validate_json(response.content)
    return response.json()


async def uploaded(media: Media, data: bytes) -> str:
    """An upload URL asked for, then used: the photo's id."""
    asked = await media.http.post("/v1/uploads", json={"content_type": "image/jpeg", "size": len(data)})
    ticket = documented(asked, UploadTicket, 201)
    assert ticket["upload_url"].startswith(f"/v1/media/{ticket['id']}/upload?")
    state = documented(await media.http.get(f"/v1/media/{ticket['id']}"), MediaState, 200)
    assert state["status"] == "awaiting_upload"
    query = ticket["upload_url"].partition("?")[2]
    put = await media.http.put(
        f"/v1/uploads/{ticket['id']}",
        params=httpx.QueryParams(query),
        content=data,
        headers={"content-type": "application/octet-stream"},
    )
    assert documented(put, Uploaded, 202) == {"id": ticket["id"], "status": "pending", "size": len(data)}
    return str(ticket["id"])


async def settled(media: Media, media_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """The photo's state once processing has decided (every answer on the way checked too)."""
    state: dict[str, Any] = {}
    for _ in range(int(timeout_s / 0.2)):
        state = documented(await media.http.get(f"/v1/media/{media_id}"), MediaState, 200)
        if state["status"] not in {"awaiting_upload", "pending"}:
            return state
        await asyncio.sleep(0.2)
    pytest.fail(f"{media_id} still {state.get('status')} after {timeout_s}s")


async def test_a_processed_photo_is_what_the_document_says_at_every_step(media: Media) -> None:
    media_id = await uploaded(media, jpeg())
    state = await settled(media, media_id)
    assert state["status"] == "processed", state
    assert state["variants"]
    assert all(path.startswith(f"/v1/media/{media_id}/") for path in state["variants"].values())
    assert (state["width"], state["height"], state["reason"]) == (800, 600, None)


async def test_a_rejected_photo_is_what_the_document_says(media: Media) -> None:
    media_id = await uploaded(media, b"not a photo at all" * 10)
    state = await settled(media, media_id)
    assert state["status"] == "rejected", state
    assert state["reason"]
    assert state["variants"] == {}
