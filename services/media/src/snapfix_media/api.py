"""The media service's HTTP API (internal: reached through the gateway).

The gateway authenticates and passes the viewer in its internal token (``snapfix_shared.viewer``).

- ``POST /v1/uploads``: a media id and a signed upload URL, valid once, for a while; within
  the user's quotas (quota.py): ``403`` past the photos no report names yet, ``429`` with
  ``Retry-After`` past the upload URLs of the day.
- ``PUT /v1/uploads/{id}?expires=&signature=``: the bytes, streamed into storage (never
  held whole), capped while they arrive; then ``ProcessMedia`` is published; ``202``.
- ``GET /v1/media/{id}``: the photo's state, for its owner (and staff).
- ``GET /v1/media/{id}/{variant}``: a public variant; ``ETag``, immutable caching,
  ``304`` on ``If-None-Match``, single ``Range`` requests (``206``/``416``, read from the
  store as a range); ``410`` once the photo was deleted (its report was withdrawn). Those
  ``404``/``410`` answers carry ``Cache-Control: no-store``: a cache must not keep them,
  and a deleted photo's cached variants are purged (purge.py) where a purge URL is set.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timedelta
from typing import Annotated, get_args
from uuid import UUID

from fastapi import APIRouter, FastAPI, Header, Query, Request, Response
from redis.asyncio import Redis
from redis.exceptions import RedisError
from uuid_utils.compat import uuid7

from snapfix_media.config import MediaSettings
from snapfix_media.models import Media
from snapfix_media.quota import REFUSED, DailyUploads, seconds_to_midnight
from snapfix_media.repository import MediaRepository, RecordsError
from snapfix_media.schemas import MediaState, Uploaded, UploadRequest, UploadTicket
from snapfix_media.service import UnattachedLimitReached, Uploads
from snapfix_media.signing import UploadSigner
from snapfix_media.storage import STORE_UNAVAILABLE, BlobStore, TooLarge, original_key, variant_key
from snapfix_shared.conditional import etag_matches
from snapfix_shared.kafka import PublishFailed, publish
from snapfix_shared.messages import ProcessMedia
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.media import VariantName
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic
from snapfix_shared.viewer import SignedInDep, UserIdDep

log = logging.getLogger(__name__)
IMMUTABLE = "public, max-age=31536000, immutable"
NO_STORE = {"Cache-Control": "no-store"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def upload_lock_key(media_id: UUID) -> str:
    return f"media:upload-used:{media_id}"


UserDep = UserIdDep  # the signed-in user, from the gateway's internal token (snapfix_shared.viewer)
router = APIRouter(prefix="/v1")


def _state(request: Request) -> tuple[MediaSettings, Runtime, MediaRepository, BlobStore, UploadSigner, Redis]:
    s = request.app.state
    return s.settings, s.runtime, s.repo, s.store, s.signer, s.runtime.redis


def _uploads(request: Request) -> Uploads:
    uploads: Uploads = request.app.state.uploads
    return uploads


async def _media(repo: MediaRepository, media_id: UUID) -> Media | None:
    try:
        return await repo.get(media_id)
    except RecordsError as exc:
        raise ServiceUnavailable("Media records cannot be read right now.") from exc


@router.post("/uploads", status_code=201, response_model=UploadTicket)
async def create_upload(body: UploadRequest, user: UserDep, request: Request) -> UploadTicket:
    settings, _, _, _, signer, _ = _state(request)
    if body.size > settings.max_upload_bytes:
        raise Problem(413, "Content Too Large", f"A photo may have at most {settings.max_upload_bytes} bytes.")
    now = utcnow()
    await _within_daily_limit(request.app.state.daily_uploads, user, now, settings.daily_upload_limit)
    expires_at = (now + timedelta(seconds=settings.upload_url_ttl_s)).replace(microsecond=0)
    media = Media(
        id=UUID(str(uuid7())),
        owner_id=user,
        declared_type=body.content_type,
        declared_size=body.size,
        created_at=now,
        upload_expires_at=expires_at,
        unattached_since=now,
    )
    limit = settings.unattached_photo_limit
    try:
        await _uploads(request).open(media, limit=limit)
    except UnattachedLimitReached as exc:
        REFUSED.labels("unattached").inc()
        hours = settings.orphan_after_s / 3600
        raise Problem(
            403,
            "Forbidden",
            f"You have {limit} photos that no report names yet, the most allowed. Name them in a "
            f"report first; photos no report names are deleted {hours:g} hours after their upload.",
        ) from exc
    except RecordsError as exc:
        raise ServiceUnavailable("Uploads cannot be registered right now.") from exc
    expires = int(expires_at.timestamp())
    signature = signer.sign(media.id, user, expires)
    url = f"/v1/media/{media.id}/upload?expires={expires}&signature={signature}"
    return UploadTicket(id=media.id, upload_url=url, expires_at=expires_at)


async def _within_daily_limit(daily: DailyUploads, user: str, now: datetime, limit: int) -> None:
    try:
        count = await daily.count(user, now)
    except RedisError as exc:  # closed: the upload itself needs Redis too (its one-time lock)
        raise ServiceUnavailable("Uploads cannot be counted right now.") from exc
    if count > limit:
        REFUSED.labels("daily").inc()
        raise Problem(
            429,
            "Too Many Requests",
            f"You asked for {limit} upload URLs today (UTC), the most allowed per day; try again tomorrow.",
            headers={"Retry-After": str(seconds_to_midnight(now))},
        )


@router.put("/uploads/{media_id}", status_code=202, response_model=Uploaded)
async def upload(  # noqa: PLR0917 - FastAPI injects by parameter
    media_id: UUID,
    user: UserDep,
    request: Request,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
    x_request_id: Annotated[str | None, Header()] = None,
) -> Uploaded:
    settings, runtime, repo, store, signer, redis = _state(request)
    if not signer.verify(media_id, user, expires, signature):
        raise Problem(403, "Forbidden", "This upload URL is not valid for you.")
    if time.time() > expires:
        raise Problem(410, "Gone", "This upload URL has expired; ask for a new one.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > settings.max_upload_bytes:
        raise Problem(413, "Content Too Large", f"A photo may have at most {settings.max_upload_bytes} bytes.")
    lock = upload_lock_key(media_id)
    try:
        first = await redis.set(lock, "1", nx=True, ex=settings.upload_url_ttl_s + 60)
    except RedisError as exc:
        raise ServiceUnavailable("Uploads cannot be checked right now.") from exc
    if not first:
        raise Problem(409, "Conflict", "This upload URL was used already.")
    try:
        return await _receive(media_id, user, request, x_request_id or "media-upload", settings, runtime, repo, store)
    except BaseException:
        # Nothing was accepted: the client may try the same URL again.
        try:
            await redis.delete(lock)
        except RedisError:
            log.warning("could not release the upload lock of %s", media_id)
        raise


async def _receive(  # noqa: PLR0917
    media_id: UUID,
    user: str,
    request: Request,
    request_id: str,
    settings: MediaSettings,
    runtime: Runtime,
    repo: MediaRepository,
    store: BlobStore,
) -> Uploaded:
    media = await _media(repo, media_id)
    if media is None or media.owner_id != user:
        raise Problem(404, "Not Found", f"No upload {media_id}.")
    if media.status == "expired":
        raise Problem(410, "Gone", "This upload URL has expired; ask for a new one.")
    if media.status != "awaiting_upload":
        raise Problem(409, "Conflict", "This photo was uploaded already.")
    try:
        size = await store.put_stream(
            original_key(media_id), request.stream(), max_bytes=settings.max_upload_bytes, content_type="original"
        )
    except TooLarge as exc:
        raise Problem(413, "Content Too Large", f"A photo may have at most {settings.max_upload_bytes} bytes.") from exc
    except (RecordsError, *STORE_UNAVAILABLE) as exc:
        raise ServiceUnavailable("The photo cannot be stored right now.") from exc
    now = utcnow()
    try:
        outcome = await _uploads(request).stored(media_id, size, now)
    except RecordsError as exc:
        raise ServiceUnavailable("Media records cannot be read right now.") from exc
    if outcome == "expired":  # the sweep gave it up while the bytes streamed in (past expiry and grace)
        raise Problem(410, "Gone", "This upload URL has expired; ask for a new one.")
    if outcome == "uploaded":
        raise Problem(409, "Conflict", "This photo was uploaded already.")
    command = ProcessMedia(
        media_id=media_id,
        owner_id=user,
        content_type=media.declared_type,  # validated when the upload was created
        size=size,
        correlation_id=request_id,
        actor_id=user,
        accept_by=now + timedelta(seconds=runtime.publish_timeout_s + 1),
    )
    try:
        await publish(
            runtime.broker, Topic.MEDIA_COMMANDS, command, source=runtime.source, timeout_s=runtime.publish_timeout_s
        )
    except PublishFailed as exc:
        await _uploads(request).unqueue(media_id)
        raise ServiceUnavailable("The photo could not be queued right now; please retry.", retry_after_s=5) from exc
    return Uploaded(id=media_id, status="pending", size=size)


@router.get("/media/{media_id}", response_model=MediaState)
async def media_state(media_id: UUID, viewer: SignedInDep, request: Request) -> MediaState:
    _, _, repo, _, _, _ = _state(request)
    media = await _media(repo, media_id)
    if media is None or (media.owner_id != viewer.user_id and not viewer.is_staff):
        raise Problem(404, "Not Found", f"No photo {media_id}.")
    return MediaState(
        id=media.id,
        status=media.status,
        reason=media.reason,
        width=media.width,
        height=media.height,
        variants={v["name"]: f"/v1/media/{media.id}/{v['name']}" for v in media.variants},
    )


@router.get(
    "/media/{media_id}/{variant}",
    response_class=Response,
    responses={200: {"content": {"image/webp": {}, "image/jpeg": {}}}, 206: {}, 304: {}, 410: {}, 416: {}},
)
async def variant(
    media_id: UUID,
    variant: str,
    request: Request,
    if_none_match: Annotated[str | None, Header()] = None,
    range_: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    if variant not in get_args(VariantName):  # "original" and anything else are never served
        raise Problem(404, "Not Found", f"No variant {variant!r}.", headers=NO_STORE)
    _, _, repo, store, _, _ = _state(request)
    media = await _media(repo, media_id)
    if media is not None and media.status == "deleted":
        detail = f"Photo {media_id} was deleted: {media.reason or 'its report was withdrawn'}"
        raise Problem(410, "Gone", detail, headers=NO_STORE)
    meta = media.variant(variant) if media is not None else None
    if media is None or meta is None:  # perhaps not processed yet: no cache may remember this answer
        raise Problem(404, "Not Found", f"No processed photo {media_id}.", headers=NO_STORE)
    etag = str(meta["etag"])
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE, "Accept-Ranges": "bytes"}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    content_type, size = str(meta["content_type"]), int(meta["size"])
    span = None if range_ is None else _byte_range(range_, size)
    if range_ is not None and span is None:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    key = variant_key(media_id, variant)
    try:  # a range is read from the store as a range (a ranged GET on S3), not cut from the whole
        data = await store.get(key) if span is None else await store.get_range(key, *span)
    except (RecordsError, *STORE_UNAVAILABLE) as exc:
        raise ServiceUnavailable("The photo cannot be read right now.") from exc
    if data is None:  # deleted meanwhile
        raise Problem(404, "Not Found", f"No processed photo {media_id}.", headers=NO_STORE)
    if span is None:
        return Response(data, headers=headers, media_type=content_type)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data, status_code=206, headers=headers, media_type=content_type)


def _byte_range(header: str, length: int) -> tuple[int, int] | None:
    """One ``bytes=`` range (RFC 9110 §14.1.2) as inclusive offsets; None when unsatisfiable."""
    match = _RANGE.match(header.strip())
    if match is None or length == 0:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # a suffix: the last N bytes
        n = int(last)
        return None if n == 0 else (max(0, length - n), length - 1)
    start = int(first)
    end = min(int(last), length - 1) if last else length - 1
    if start >= length or end < start:
        return None
    return start, end


def install(app: FastAPI) -> None:
    app.include_router(router)
