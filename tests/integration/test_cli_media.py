"""``snapfix media`` against the real stack: a rejected photo processed again by the media service's
own pipeline, and orphans collected while named photos stay.

The command runs as its own process (``python -m snapfix_cli``), as an operator runs it; the
media service runs in this process, on a database and consumer groups of this test's own.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from PIL import Image, ImageDraw
from pymongo import AsyncMongoClient
from uuid_utils.compat import uuid7

from snapfix_media.app import create_app
from snapfix_media.config import MediaSettings
from snapfix_media.models import Media, MediaStatus, UploadSlot
from snapfix_media.repository import MediaRepository
from snapfix_media.storage import GridFsStore, original_key, variant_key
from snapfix_shared.messages import MediaRejected
from snapfix_shared.messages.base import utcnow
from snapfix_shared.mongo import init_documents
from snapfix_shared.topics import Topic
from tests.integration.media_app import media_settings
from tests.integration.test_cli_export import snapfix
from tests.stack import Stack, start_groups_at_end

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def jpeg() -> bytes:
    image = Image.new("RGB", (800, 600), (30, 120, 200))
    ImageDraw.Draw(image).ellipse((100, 100, 500, 400), fill=(240, 200, 20))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


@dataclass
class Env:
    settings: MediaSettings
    cli_env: dict[str, str]
    repo: MediaRepository
    store: GridFsStore
    db: Any


@pytest.fixture
async def env(stack: Stack) -> AsyncIterator[Env]:
    settings = media_settings(stack, "cli")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.mongo_url, timeoutMS=10_000, uuidRepresentation="standard", tz_aware=True
    )
    await init_documents(client, settings.mongo_database, [Media, UploadSlot])
    cli_env = {
        "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
        "SNAPFIX_MONGO_URL": stack.mongo_url,
        "SNAPFIX_REDIS_URL": stack.redis_url,
        "SNAPFIX_MONGO_DATABASE": settings.mongo_database,
        "SNAPFIX_STORAGE_BACKEND": "gridfs",  # the store this test reads
    }
    db = client[settings.mongo_database]
    yield Env(settings, cli_env, MediaRepository(), GridFsStore(db), db)
    await client.drop_database(settings.mongo_database)
    await client.close()


async def photo(env: Env, status: MediaStatus, **fields: Any) -> UUID:
    """A photo record with its original stored (and its variants, when processed)."""
    media_id = UUID(str(uuid7()))
    now = utcnow()
    data = jpeg()
    if status == "rejected":
        rejected = MediaRejected(media_id=media_id, owner_id="user-1", reason="Too dark.", correlation_id="t")
        fields |= {"event": rejected.model_dump(mode="json"), "reason": "Too dark."}
    await env.repo.create(
        Media(
            id=media_id,
            owner_id="user-1",
            declared_type="image/jpeg",
            declared_size=len(data),
            status=status,
            size=len(data),
            created_at=now - timedelta(hours=2),
            upload_expires_at=now - timedelta(hours=2) + timedelta(minutes=15),
            uploaded_at=now - timedelta(hours=2),
            **fields,
        )
    )
    await env.store.put(original_key(media_id), data, content_type="original")
    if status == "processed":
        await env.store.put(variant_key(media_id, "thumb.webp"), b"variant", content_type="image/webp")
    return media_id


async def test_a_rejected_photo_is_processed_again_by_the_media_service(env: Env, stack: Stack) -> None:
    first, second = await photo(env, "rejected"), await photo(env, "rejected")
    groups: dict[str, str] = {  # from now on: not the stack's whole history
        env.settings.consumer_group: Topic.MEDIA_COMMANDS,
        env.settings.media_users_group: Topic.USERS_EVENTS,
    }
    await start_groups_at_end(stack.kafka, groups)
    service = create_app(env.settings)
    async with service.router.lifespan_context(service):
        code, out, err = await snapfix("media", "reprocess", str(first), "--wait", "--timeout", "90", env=env.cli_env)
        assert code == 0, err
        done = await env.repo.get(first)
        assert done is not None
        assert done.status == "processed", out
        assert done.event is not None
        assert done.event["type"] == "MediaProcessed"
        assert {v["name"] for v in done.variants} >= {"thumb.webp", "large.jpg"}
        assert await env.store.get(variant_key(first, "thumb.webp"))
        still = await env.repo.get(second)
        assert still is not None
        assert still.status == "rejected"  # one id: only that photo

        code, out, err = await snapfix("media", "reprocess", "--rejected", "--wait", env=env.cli_env)
        assert code == 0, err
        again = await env.repo.get(second)
        assert again is not None
        assert again.status == "processed", out


async def test_an_unknown_photo_gets_a_clear_error(env: Env) -> None:
    missing = uuid4()
    code, _, err = await snapfix("media", "reprocess", str(missing), env=env.cli_env)
    assert code == 1
    assert f"there is no photo {missing}" in err


async def test_gc_removes_orphans_and_keeps_named_photos(env: Env) -> None:
    now = utcnow()
    orphan = await photo(env, "processed", unattached_since=now - timedelta(hours=1))
    named = await photo(env, "processed", issue_ids=[uuid4()], links_version=1)
    waiting = await photo(env, "processed", unattached_since=now - timedelta(seconds=30))  # within the grace
    stray_key = f"{uuid4()}/original"
    await env.store.put(stray_key, b"nobody's bytes", content_type="original")
    # Every blob stored an hour ago: past the grace, only its photo record may keep it.
    await env.db["fs.files"].update_many({}, {"$set": {"uploadDate": now - timedelta(hours=1)}})

    code, out, err = await snapfix("media", "gc", "--grace", "600", "--dry-run", env=env.cli_env)
    assert code == 0, err
    assert str(orphan) in out
    assert stray_key in out
    assert str(named) not in out
    assert str(waiting) not in out
    unchanged = await env.repo.get(orphan)
    assert unchanged is not None
    assert unchanged.status == "processed"  # a dry run deletes nothing
    assert await env.store.get(stray_key) is not None

    code, out, err = await snapfix("media", "gc", "--grace", "600", env=env.cli_env)
    assert code == 0, err
    collected = await env.repo.get(orphan)
    assert collected is not None
    assert collected.status == "deleted"
    assert await env.store.get(original_key(orphan)) is None
    assert await env.store.get(variant_key(orphan, "thumb.webp")) is None
    assert await env.store.get(stray_key) is None
    for kept in (named, waiting):
        record = await env.repo.get(kept)
        assert record is not None
        assert record.status == "processed"
        assert await env.store.get(original_key(kept)) is not None
        assert await env.store.get(variant_key(kept, "thumb.webp")) is not None
