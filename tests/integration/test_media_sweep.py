"""The sweep of upload URLs issued but never used, on FerretDB and each blob store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest
from pymongo import AsyncMongoClient
from uuid_utils.compat import uuid7

from snapfix_media.models import Media, MediaStatus
from snapfix_media.repository import MediaRepository
from snapfix_media.storage import BlobStore, GridFsStore, original_key
from snapfix_media.sweeper import EXPIRED_REASON, UploadSweeper
from snapfix_shared.messages.base import utcnow
from snapfix_shared.mongo import init_documents
from tests.media_s3 import s3_server
from tests.stack import Stack

pytestmark = pytest.mark.integration
GRACE_S = 300


@pytest.fixture(params=["gridfs", "s3"])
async def env(request: pytest.FixtureRequest, stack: Stack) -> AsyncIterator[tuple[MediaRepository, BlobStore]]:
    # A database of its own: the sweep looks at every record, and earlier runs leave some.
    database = f"snapfix_media_sweep_{uuid4().hex[:8]}"
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        stack.mongo_url, timeoutMS=10_000, uuidRepresentation="standard", tz_aware=True
    )
    await init_documents(client, database, [Media])  # binds Media (Beanie) to this database
    s3 = s3_server().store(prefix=f"{database}/") if request.param == "s3" else None
    yield MediaRepository(), s3 or GridFsStore(client[database])
    if s3 is not None:
        await s3.close()
    await client.drop_database(database)
    await client.close()


async def photo(repo: MediaRepository, status: MediaStatus, url_expired: datetime) -> UUID:
    media_id = UUID(str(uuid7()))
    await repo.create(
        Media(
            id=media_id,
            owner_id="user-1",
            declared_type="image/jpeg",
            declared_size=1000,
            status=status,
            created_at=url_expired - timedelta(minutes=15),
            upload_expires_at=url_expired,
        )
    )
    return media_id


async def test_unused_uploads_past_expiry_and_grace_are_given_up_with_their_partial_bytes(
    env: tuple[MediaRepository, BlobStore],
) -> None:
    repo, store = env
    now = utcnow()
    abandoned = await photo(repo, "awaiting_upload", now - timedelta(seconds=GRACE_S + 60))
    await store.put(original_key(abandoned), b"half an upload", content_type="original")
    in_grace = await photo(repo, "awaiting_upload", now - timedelta(seconds=GRACE_S - 60))
    uploaded = await photo(repo, "pending", now - timedelta(hours=2))
    await store.put(original_key(uploaded), b"a whole photo", content_type="original")
    still_valid = await photo(repo, "awaiting_upload", now + timedelta(minutes=10))

    sweeper = UploadSweeper(repo, store, interval_s=60, grace_s=GRACE_S, batch=100)
    assert await sweeper.sweep(now) == 1

    gone = await repo.get(abandoned)
    assert gone is not None
    assert gone.status == "expired"
    assert gone.reason == EXPIRED_REASON
    assert gone.expired_at is not None
    assert await store.get(original_key(abandoned)) is None
    for kept, status in ((in_grace, "awaiting_upload"), (uploaded, "pending"), (still_valid, "awaiting_upload")):
        media = await repo.get(kept)
        assert media is not None
        assert media.status == status
    assert await store.get(original_key(uploaded)) == b"a whole photo"

    assert await sweeper.sweep(now) == 0  # nothing twice
    # An upload that was still streaming when it was given up cannot complete it any more.
    assert not await repo.uploaded(abandoned, 14, now)


async def test_a_sweep_gives_up_at_most_a_batch_and_the_next_one_goes_on(
    env: tuple[MediaRepository, BlobStore],
) -> None:
    repo, store = env
    now = utcnow()
    for _ in range(5):
        await photo(repo, "awaiting_upload", now - timedelta(hours=1))
    sweeper = UploadSweeper(repo, store, interval_s=60, grace_s=GRACE_S, batch=3)
    assert await sweeper.sweep(now) == 3
    assert await sweeper.sweep(now) == 2
    assert await sweeper.sweep(now) == 0
