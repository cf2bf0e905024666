"""The sweeps, on FerretDB and each blob store: upload URLs issued but never used, and photos
no report named in time (collected, announced, and never one a report names meanwhile)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest
from pymongo import AsyncMongoClient
from uuid_utils.compat import uuid7

from snapfix_media.models import Media, MediaStatus, UploadSlot
from snapfix_media.repository import MediaRepository
from snapfix_media.service import blob_keys
from snapfix_media.storage import BlobStore, GridFsStore, original_key, variant_key
from snapfix_media.sweeper import EXPIRED_REASON, NEVER_ATTACHED, OrphanSweeper, UploadSweeper
from snapfix_shared.messages import MediaDeleted
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
    await init_documents(client, database, [Media, UploadSlot])  # binds them (Beanie) to this database
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


# -- photos no report named ------------------------------------------------------------------

AFTER_S = 24 * 3600


@dataclass
class Announced:
    events: list[MediaDeleted] = field(default_factory=list)

    async def __call__(self, event: MediaDeleted) -> None:
        self.events.append(event)


def orphan_sweeper(repo: MediaRepository, store: BlobStore, announced: Announced, batch: int = 100) -> OrphanSweeper:
    return OrphanSweeper(repo, store, announced, interval_s=600, after_s=AFTER_S, batch=batch)


async def uploaded_photo(
    repo: MediaRepository, store: BlobStore, *, age: timedelta, owner: str = "user-1", status: MediaStatus = "processed"
) -> UUID:
    """A photo asked for ``age`` ago (its slot taken), uploaded and stored with a variant."""
    media_id = UUID(str(uuid7()))
    created = utcnow() - age
    await repo.create(
        Media(
            id=media_id,
            owner_id=owner,
            declared_type="image/jpeg",
            declared_size=1000,
            status=status,
            created_at=created,
            upload_expires_at=created + timedelta(minutes=15),
            unattached_since=created,
        )
    )
    assert await repo.take_slot(owner, media_id, limit=50, at=created)
    await store.put(original_key(media_id), b"the original", content_type="original")
    await store.put(variant_key(media_id, "thumb.webp"), b"a thumbnail", content_type="image/webp")
    return media_id


async def slot_holders(owner: str) -> set[UUID]:
    return {doc["media_id"] async for doc in UploadSlot.get_pymongo_collection().find({"owner_id": owner})}


async def test_photos_no_report_named_in_time_are_deleted_and_announced_once(
    env: tuple[MediaRepository, BlobStore],
) -> None:
    repo, store = env
    announced = Announced()
    orphan = await uploaded_photo(repo, store, age=timedelta(hours=25))
    rejected = await uploaded_photo(repo, store, age=timedelta(hours=30), status="rejected")
    recent = await uploaded_photo(repo, store, age=timedelta(hours=23))
    named = await uploaded_photo(repo, store, age=timedelta(hours=26))
    assert await repo.attach(named, uuid4(), "user-1")

    sweeper = orphan_sweeper(repo, store, announced)
    assert await sweeper.sweep() == 2

    for gone in (orphan, rejected):
        media = await repo.get(gone)
        assert media is not None
        assert media.status == "deleted"
        assert media.unattached_since is None  # off the sweep's list
        for key in blob_keys(gone):
            assert await store.get(key) is None
    assert {(e.media_id, e.reason, e.issue_id) for e in announced.events} == {
        (orphan, NEVER_ATTACHED, None),
        (rejected, NEVER_ATTACHED, None),
    }
    assert await slot_holders("user-1") == {recent}  # freed: the orphans' (and the named photo's)
    for kept in (recent, named):
        media = await repo.get(kept)
        assert media is not None
        assert media.status == "processed"
        assert await store.get(variant_key(kept, "thumb.webp")) == b"a thumbnail"

    assert await sweeper.sweep() == 0  # nothing twice, nothing announced twice
    assert len(announced.events) == 2


async def test_an_orphan_sweep_collects_at_most_a_batch_and_the_next_one_goes_on(
    env: tuple[MediaRepository, BlobStore],
) -> None:
    repo, store = env
    announced = Announced()
    for _ in range(5):
        await uploaded_photo(repo, store, age=timedelta(days=2))
    sweeper = orphan_sweeper(repo, store, announced, batch=3)
    assert [await sweeper.sweep() for _ in range(3)] == [3, 2, 0]
    assert len({e.media_id for e in announced.events}) == 5


async def test_a_report_naming_the_photo_while_it_is_swept_keeps_it_whole(
    env: tuple[MediaRepository, BlobStore],
) -> None:
    """The order: the sweep marks the photo deleted at the links_version it read, and only then
    deletes bytes; a report that linked the photo in between makes the mark fail."""
    repo, store = env
    announced = Announced()
    photo_id = await uploaded_photo(repo, store, age=timedelta(hours=30))
    issue_id = uuid4()

    class LinkedMeanwhile(MediaRepository):
        async def unattached_before(self, before: datetime, limit: int) -> list[Media]:
            found = await super().unattached_before(before, limit)
            assert await repo.attach(photo_id, issue_id, "user-1")  # the report lands right after the read
            return found

    sweeper = orphan_sweeper(LinkedMeanwhile(), store, announced)
    assert await sweeper.sweep() == 0
    media = await repo.get(photo_id)
    assert media is not None
    assert media.status == "processed"
    assert media.issue_ids == [issue_id]
    assert await store.get(original_key(photo_id)) == b"the original"
    assert await store.get(variant_key(photo_id, "thumb.webp")) == b"a thumbnail"
    assert announced.events == []
    assert await orphan_sweeper(repo, store, announced).sweep() == 0  # and it is off the list

    # The other order: the photo was swept first; a report naming it then links nothing.
    late = await uploaded_photo(repo, store, age=timedelta(hours=30))
    assert await orphan_sweeper(repo, store, announced).sweep() == 1
    assert not await repo.attach(late, uuid4(), "user-1")
    media = await repo.get(late)
    assert media is not None
    assert media.status == "deleted"


async def test_a_sweep_that_died_after_the_mark_is_finished_by_the_next_with_the_same_event(
    env: tuple[MediaRepository, BlobStore],
) -> None:
    repo, store = env
    photo_id = await uploaded_photo(repo, store, age=timedelta(hours=30))

    class DiesAfterTheMark(Announced):
        async def __call__(self, _event: MediaDeleted) -> None:
            raise ConnectionError("the broker went away")

    with pytest.raises(ConnectionError):
        await orphan_sweeper(repo, store, DiesAfterTheMark()).sweep()
    marked = await repo.get(photo_id)
    assert marked is not None
    assert marked.status == "deleted"
    assert marked.unattached_since is not None  # still listed: not finished

    announced = Announced()
    assert await orphan_sweeper(repo, store, announced).sweep() == 0  # collected before
    [event] = announced.events
    assert marked.deleted_event is not None
    assert str(event.message_id) == marked.deleted_event["message_id"]
    assert await store.get(original_key(photo_id)) is None
    done = await repo.get(photo_id)
    assert done is not None
    assert done.unattached_since is None
