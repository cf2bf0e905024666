"""``snapfix media``: run a photo through the media service's pipeline again, and collect orphans.

Reprocessing hands the photo back to the media service: its record goes back to ``pending``
(a compare-and-set from the status read) and ``ProcessMedia`` is published on
``media.commands.v1``, so the service's own consumer runs its own pipeline and announces the
outcome as it would for a new upload. Garbage collection runs the service's own sweeps
(``snapfix_media.sweeper``: photos no report named within the grace period, upload URLs never
used) and then deletes blobs in storage that no photo record accounts for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any, get_args
from uuid import UUID, uuid4

import typer
from rich.progress import Progress
from rich.table import Table

from snapfix_cli.support import CliError, console, err_console, guarded, progress, run
from snapfix_shared.kafka import create_broker, publish
from snapfix_shared.messages import MediaDeleted, ProcessMedia
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.media import VariantName
from snapfix_shared.mongo import init_documents, mongo_client
from snapfix_shared.topics import Topic

if TYPE_CHECKING:  # the media service's modules are imported when a command runs (snapfix starts faster)
    from snapfix_media.config import MediaSettings
    from snapfix_media.models import Media, MediaStatus
    from snapfix_media.repository import MediaRepository
    from snapfix_media.storage import BlobStore

app = typer.Typer(
    help="Photos: run them through the pipeline again, collect orphans.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

# A photo in one of these may be processed again; the others have no original worth processing.
REPROCESSABLE: frozenset[str] = frozenset({"rejected", "failed", "processed", "pending"})
# Blobs of a photo in these states are garbage: their bytes should be gone already.
BYTES_GONE: frozenset[str] = frozenset({"deleted", "expired"})
KNOWN_NAMES = frozenset({"original", *get_args(VariantName)})
WAIT_POLL_S = 0.25
MAX_LISTED = 100_000  # orphan photos a dry run lists, at most


@dataclass
class MediaClients:
    """The media service's clients, opened for one command."""

    settings: MediaSettings
    repo: MediaRepository
    store: BlobStore
    db: Any
    publish: Callable[[Any], Awaitable[None]]


@contextlib.asynccontextmanager
async def media_service(settings: MediaSettings | None = None) -> AsyncIterator[MediaClients]:
    """The media service's store, blob store and producer, with its own settings (``SNAPFIX_*``)."""
    from snapfix_media.config import MediaSettings
    from snapfix_media.models import Media, UploadSlot
    from snapfix_media.repository import MediaRepository
    from snapfix_media.storage import S3Store

    settings = settings or MediaSettings()
    client = mongo_client(settings, app_name="snapfix-cli")
    broker = create_broker(settings, client_id="snapfix-cli")
    store = make_store_for_cli(settings, client)
    try:
        await init_documents(client, settings.mongo_database, [Media, UploadSlot])
        await asyncio.wait_for(broker.start(), settings.kafka_request_timeout_ms / 1000 * 3)
        timeout_s = settings.kafka_request_timeout_ms / 1000 + 1.0

        async def send(message: Any) -> None:
            topic = Topic.MEDIA_EVENTS if isinstance(message, MediaDeleted) else Topic.MEDIA_COMMANDS
            await publish(broker, topic, message, source="/snapfix/cli", timeout_s=timeout_s)

        yield MediaClients(settings, MediaRepository(), store, client[settings.mongo_database], send)
    finally:
        await broker.stop()
        if isinstance(store, S3Store):
            await store.close()
        await client.close()


def make_store_for_cli(settings: MediaSettings, client: Any) -> BlobStore:
    """The blob store the service uses (``SNAPFIX_STORAGE_BACKEND``)."""
    from snapfix_media.app import make_store

    # make_store hangs the S3 client's start and stop on a runtime's hooks: the command closes it itself.
    hooks = SimpleNamespace(mongo=client, on_startup=[], after_stop=[])
    return make_store(settings, hooks)  # type: ignore[arg-type]


# -- reprocess ---------------------------------------------------------------------------------


def parse_media_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a media id (a UUID such as 0190d7e2-...)") from exc


async def reopen(media_svc: MediaClients, media: Media) -> bool:
    """Put ``media`` back to ``pending`` (from the status it was read in) and send it to the pipeline.

    False when its status changed meanwhile. If the command cannot be published, the photo goes
    back to what it was, so nothing is left half done.
    """
    if media.status not in REPROCESSABLE:
        raise CliError(
            f"photo {media.id} is {media.status}: only {', '.join(sorted(REPROCESSABLE))} can be reprocessed"
        )
    from snapfix_media.storage import original_key

    if await media_svc.store.get_range(original_key(media.id), 0, 0) is None:
        raise CliError(f"photo {media.id} has no original in storage any more: it cannot be processed again")
    status: MediaStatus = media.status
    if status != "pending" and not await media_svc.repo.move(media.id, status, "pending", event=None, reason=None):
        return False  # changed meanwhile
    command = ProcessMedia(
        media_id=media.id,
        owner_id=media.owner_id,
        content_type=media.declared_type,  # validated when the upload was created
        size=media.size or 0,
        correlation_id=f"cli-reprocess-{uuid4()}",
    )
    try:
        await media_svc.publish(command)
    except Exception:
        if status != "pending":
            await media_svc.repo.move(media.id, "pending", status, event=media.event, reason=media.reason)
        raise
    return True


async def rejected_ids(db: Any, limit: int | None) -> list[UUID]:
    """The photos processing rejected (the status index's prefix), oldest first."""
    from snapfix_media.models import Media

    cursor = db[Media.Settings.name].find({"status": "rejected"}, {"_id": 1}).sort("created_at", 1)
    if limit:
        cursor = cursor.limit(limit)
    return [doc["_id"] async for doc in cursor]


async def _wait_settled(repo: MediaRepository, ids: list[UUID], timeout_s: float, bar: Progress) -> dict[UUID, Media]:
    """The photos of ``ids`` that are no longer pending (all of them, unless ``timeout_s`` passed first)."""
    task = bar.add_task("processing", total=len(ids))
    settled: dict[UUID, Media] = {}
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(settled) < len(ids) and asyncio.get_running_loop().time() < deadline:
        for media_id in ids:
            if media_id in settled:
                continue
            media = await repo.get(media_id)
            if media is not None and media.status != "pending":
                settled[media_id] = media
                bar.advance(task)
        if len(settled) < len(ids):
            await asyncio.sleep(WAIT_POLL_S)
    return settled


async def _reprocess(media_id: UUID | None, limit: int | None, wait: bool, timeout_s: float) -> int:
    async with media_service() as svc:
        if media_id is not None:
            media = await svc.repo.get(media_id)
            if media is None:
                raise CliError(f"there is no photo {media_id}")
            targets = [media]
        else:
            targets = [m for i in await rejected_ids(svc.db, limit) if (m := await svc.repo.get(i)) is not None]
        sent: list[UUID] = []
        with progress() as bar:
            task = bar.add_task("sending to the pipeline", total=len(targets))
            for media in targets:
                if await reopen(svc, media):
                    sent.append(media.id)
                else:
                    err_console.print(f"photo {media.id} changed meanwhile (now not {media.status}): skipped")
                bar.advance(task)
            settled = await _wait_settled(svc.repo, sent, timeout_s, bar) if wait and sent else {}
        console.print(f"{len(sent)} photo(s) sent to the pipeline again")
        if not wait:
            return 0
        table = Table("photo", "status", "reason")
        table.columns[0].no_wrap = True
        for sent_id in sent:
            done = settled.get(sent_id)
            table.add_row(str(sent_id), done.status if done else "still pending", (done.reason or "") if done else "")
        console.print(table)
        return 0 if len(settled) == len(sent) else 1


@app.command()
@guarded
def reprocess(
    media_id: Annotated[
        str | None, typer.Argument(metavar="[MEDIA_ID]", help="The photo to process again (or --rejected)")
    ] = None,
    rejected: Annotated[
        bool, typer.Option("--rejected", help="Every photo processing rejected, instead of one")
    ] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="With --rejected: at most this many (oldest first)")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the media service has processed them")] = False,
    timeout: Annotated[float, typer.Option(min=1, help="With --wait: how long to wait, in seconds")] = 120.0,
) -> None:
    """Run a photo through the media service's pipeline again (one, or all rejected ones).

    The photo goes back to [bold]pending[/bold] and ProcessMedia is published on media.commands.v1:
    the running media service processes it with its own pipeline and announces the outcome
    (MediaProcessed or MediaRejected) as for a new upload. Rejected, failed, processed and pending
    photos can be reprocessed; the media service must be running for the work to happen.

    Example: snapfix media reprocess 0190d7e2-5c1a-7c3e-9b1a-3f2d4c5b6a79 --wait
    """
    if (media_id is None) == (not rejected):
        raise typer.BadParameter("give either a media id or --rejected (one of the two)")
    if limit is not None and not rejected:
        raise typer.BadParameter("--limit goes with --rejected")
    target = parse_media_id(media_id) if media_id is not None else None
    if code := run(_reprocess(target, limit, wait, timeout)):
        raise typer.Exit(code)


# -- gc ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    key: str
    stored_at: datetime | None


async def stored_blobs(svc: MediaClients) -> AsyncIterator[Blob]:
    """Every blob in the media service's storage (GridFS files, or the S3 prefix's objects), by key:
    a photo's blobs come one after the other."""
    from snapfix_media.storage import GridFsStore, S3Store

    store = svc.store
    if isinstance(store, GridFsStore):
        async for doc in svc.db["fs.files"].find({}, {"_id": 1, "uploadDate": 1}).sort("_id", 1):
            yield Blob(str(doc["_id"]), doc.get("uploadDate"))
        return
    assert isinstance(store, S3Store)
    s3 = await store.client()
    paginator = s3.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=store.bucket, Prefix=store.prefix):
        for item in page.get("Contents", []):
            yield Blob(item["Key"].removeprefix(store.prefix), item.get("LastModified"))


def media_of(key: str) -> UUID | None:
    """The photo a key belongs to (``<media id>/<name>``); None for a key no photo could have."""
    head, _, name = key.partition("/")
    if name not in KNOWN_NAMES:
        return None
    try:
        return UUID(head)
    except ValueError:
        return None


async def orphan_blobs(svc: MediaClients, before: datetime) -> list[Blob]:
    """Blobs stored before ``before`` that no live photo record accounts for (all listed before any goes)."""
    found: list[Blob] = []
    last: tuple[UUID, bool] | None = None  # the photo of the previous key, and whether it lives
    async for blob in stored_blobs(svc):
        if blob.stored_at is not None and blob.stored_at >= before:
            continue  # within the grace period: an upload or a sweep may be at work on it
        media_id = media_of(blob.key)
        if media_id is None:
            found.append(blob)
            continue
        if last is None or last[0] != media_id:
            media = await svc.repo.get(media_id)
            last = (media_id, media is not None and media.status not in BYTES_GONE)
        if not last[1]:
            found.append(blob)
    return found


async def orphan_photos(svc: MediaClients, before: datetime) -> list[Media]:
    """Photos no report named since before ``before`` (what the orphan sweep would collect)."""
    listed = await svc.repo.unattached_before(before, MAX_LISTED)
    return [m for m in listed if m.status not in BYTES_GONE and not m.issue_ids]


async def _gc(grace_s: float | None, dry_run: bool) -> None:
    async with media_service() as svc:
        now = utcnow()
        grace = timedelta(seconds=svc.settings.orphan_after_s if grace_s is None else grace_s)
        photos = await orphan_photos(svc, now - grace)
        if dry_run:
            blobs = await orphan_blobs(svc, now - grace)
            for media in photos:  # one line each, whole, whatever the terminal's width
                console.print(f"photo {media.id} (no report named it since {media.unattached_since})", soft_wrap=True)
            for blob in blobs:
                console.print(f"blob {blob.key} (stored {blob.stored_at or 'at an unknown time'})", soft_wrap=True)
            console.print(f"{len(photos)} orphan photo(s) and {len(blobs)} orphan blob(s) would be deleted")
            return

        from snapfix_media.sweeper import OrphanSweeper, UploadSweeper

        async def announce(event: MediaDeleted) -> None:
            await svc.publish(event)

        batch = svc.settings.orphan_sweep_batch
        sweeper = OrphanSweeper(svc.repo, svc.store, announce, interval_s=1, after_s=grace.total_seconds(), batch=batch)
        uploads = UploadSweeper(
            svc.repo, svc.store, interval_s=1, grace_s=svc.settings.upload_sweep_grace_s, batch=batch
        )
        collected = expired = removed = 0
        with progress() as bar:
            task = bar.add_task("orphan photos", total=len(photos))
            # Each pass collects a batch or takes photos off the list (named meanwhile, expired):
            # the list shrinks every pass; the bound only guards against a store that does not.
            for _ in range(len(photos) // batch + 10):
                if not await svc.repo.unattached_before(now - grace, 1):
                    break
                collected += await sweeper.sweep(now)
                bar.update(task, completed=min(collected, len(photos)))
            bar.update(task, completed=len(photos))
            while n := await uploads.sweep(now):
                expired += n
            blobs = await orphan_blobs(svc, now - grace)
            blob_task = bar.add_task("orphan blobs", total=len(blobs))
            for blob in blobs:
                await svc.store.delete(blob.key)
                removed += 1
                bar.advance(blob_task)
        console.print(
            f"deleted {collected} orphan photo(s), gave up {expired} unused upload(s), removed {removed} orphan blob(s)"
        )


@app.command()
@guarded
def gc(
    grace: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds a photo may wait for a report, and a blob may exist unaccounted for "
            "(default: SNAPFIX_ORPHAN_AFTER_S, 24 hours)",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing")] = False,
) -> None:
    """Delete orphans: photos no report named within the grace period, and blobs no photo accounts for.

    Runs the media service's own sweeps (photos are marked deleted, their bytes removed and
    MediaDeleted published, exactly as the service's periodic sweep does; upload URLs never used
    are given up), then removes blobs in storage whose photo record does not exist or is deleted.
    A photo that a report names is never touched. Safe while the media service runs.

    Example: snapfix media gc --dry-run
    """
    run(_gc(grace, dry_run))
