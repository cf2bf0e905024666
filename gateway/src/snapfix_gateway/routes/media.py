"""``/v1/media``: photo uploads (signed, one-time URLs; bytes streamed to the media service) and serving.

The media service owns photos: it issues and checks upload URLs, stores, processes and
serves them, within each user's quotas. The gateway authenticates, lets only citizens with a
verified e-mail address ask for upload URLs where ``SNAPFIX_REQUIRE_VERIFIED_EMAIL`` is on
(verified_email.py; staff accounts are made by an administrator),
caps the upload while it streams through (it is never held whole in memory), and relays
reads with their caching and range headers. The answers are documented by the media service's
own models (``snapfix_shared.schemas.media``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from snapfix_gateway.deps import MediaHttpDep, PrincipalDep, RequestIdDep, SettingsDep
from snapfix_gateway.upstream import UpstreamError, relay, relay_get, viewer_headers
from snapfix_gateway.verified_email import UploaderVerifiedDep
from snapfix_shared.messages.media import ContentType, VariantName
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.schemas.media import MediaState, Uploaded, UploadTicket

router = APIRouter(tags=["media"])

# Request headers a variant read needs upstream, and answer headers a cache or client needs back.
_READ_HEADERS = ("range", "if-none-match", "if-range")
_VARIANT_HEADERS = ("content-type", "etag", "cache-control", "accept-ranges", "content-range")
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {
        "description": "The e-mail address is not verified yet, the user has the most photos no report names "
        "yet, or the upload URL was not issued to this user (or is forged)"
    },
    404: {"description": "No such photo"},
    409: {"description": "The upload URL was used already"},
    410: {"description": "The upload URL has expired"},
    413: {"description": "More than 15 MB"},
    429: {"description": "The most upload URLs a user may ask for today (UTC); see Retry-After"},
    503: {"description": "The media service or Kafka is unavailable; retry after Retry-After"},
}


class UploadRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"content_type": "image/jpeg", "size": 2_400_000}]}
    )

    content_type: ContentType = Field(description="What the client believes it sends (the bytes are sniffed)")
    size: int = Field(ge=1, description="Bytes the client will send, at most 15 MB")


@router.post("/v1/media", status_code=201, response_model=UploadTicket, responses=_ERRORS)
async def create_upload(
    _verified: UploaderVerifiedDep,
    body: UploadRequest,
    principal: PrincipalDep,
    media: MediaHttpDep,
    request_id: RequestIdDep,
    settings: SettingsDep,
) -> Response:
    """Ask for a signed upload URL (valid once, for 15 minutes) for one photo.

    Needs a verified e-mail address where `SNAPFIX_REQUIRE_VERIFIED_EMAIL` is on (production's default;
    staff exempt), and is within the user's quotas: photos no report names yet (403 past it), upload URLs
    per UTC day (429 with Retry-After past it).
    """
    if body.size > settings.max_upload_bytes:
        raise Problem(413, "Content Too Large", f"A photo may have at most {settings.max_upload_bytes} bytes.")
    headers = {**viewer_headers(request_id, principal), "content-type": "application/json"}
    answer = await media.call("POST", "/v1/uploads", headers=headers, content=body.model_dump_json().encode())
    if answer.status != 201:
        refused = relay(answer)
        if retry_after := answer.headers.get("retry-after"):  # a quota of the day, or media overloaded
            refused.headers["retry-after"] = retry_after
        return refused
    ticket = UploadTicket.model_validate_json(answer.body)
    ticket.upload_url = settings.public_base_url.rstrip("/") + ticket.upload_url
    return Response(ticket.model_dump_json(), status_code=201, media_type="application/json")


@router.put(
    "/v1/media/{media_id}/upload",
    status_code=202,
    response_model=Uploaded,
    responses=_ERRORS,
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}},
)
async def upload(  # noqa: PLR0917 - FastAPI injects by parameter
    media_id: UUID,
    request: Request,
    principal: PrincipalDep,
    media: MediaHttpDep,
    request_id: RequestIdDep,
    settings: SettingsDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    """The photo's bytes, as the body. Streamed to the media service; processing follows (202)."""
    cap = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise Problem(413, "Content Too Large", f"A photo may have at most {cap} bytes.")
    overflow = False

    async def capped() -> AsyncIterator[bytes]:
        nonlocal overflow
        sent = 0
        async for chunk in request.stream():
            sent += len(chunk)
            if sent > cap:
                overflow = True
                raise UpstreamError("upload over the size cap")
            if chunk:
                yield chunk

    headers = {**viewer_headers(request_id, principal), "content-type": "application/octet-stream"}
    try:
        answer = await media.send_stream(
            "PUT",
            f"/v1/uploads/{media_id}",
            headers=headers,
            body=capped(),
            timeout_s=settings.upload_timeout_s,
            params=urlencode({"expires": expires, "signature": signature}),
        )
    except UpstreamError as exc:
        if overflow:
            raise Problem(413, "Content Too Large", f"A photo may have at most {cap} bytes.") from exc
        raise ServiceUnavailable(f"The media service is not reachable ({exc}).") from exc
    if answer.status >= 500:
        raise ServiceUnavailable(f"The media service failed ({answer.status}).")
    return relay(answer)


@router.get("/v1/media/{media_id}", response_model=MediaState, responses=_ERRORS)
async def media_state(
    media_id: UUID, principal: PrincipalDep, media: MediaHttpDep, request_id: RequestIdDep
) -> Response:
    """A photo's processing state, for its owner: pending, processed (with its variants) or rejected (why)."""
    return await relay_get(media, f"/v1/media/{media_id}", request_id=request_id, principal=principal)


@router.get(
    "/v1/media/{media_id}/{variant}",
    response_class=Response,
    responses={
        200: {"content": {"image/webp": {}, "image/jpeg": {}}, "description": "The variant; immutable"},
        206: {"description": "The requested byte range"},
        304: {"description": "Not modified (If-None-Match)"},
        404: {"description": "No such processed photo (Cache-Control: no-store)"},
        410: {"description": "The photo was deleted (Cache-Control: no-store)"},
        416: {"description": "Range not satisfiable"},
    },
)
async def variant(
    media_id: UUID,
    variant: Annotated[VariantName, Path(description="thumb (320 px), medium (1024), large (2048); WebP or JPEG")],
    request: Request,
    media: MediaHttpDep,
    request_id: RequestIdDep,
) -> Response:
    """A public, metadata-free variant of a processed photo. The original is never served here."""
    headers = {"x-request-id": request_id} | {h: v for h in _READ_HEADERS if (v := request.headers.get(h))}
    answer = await media.call("GET", f"/v1/media/{media_id}/{variant}", headers=headers)
    passed = {h: v for h in _VARIANT_HEADERS if (v := answer.headers.get(h))}
    if answer.status == 304:
        return Response(status_code=304, headers=passed)
    return Response(answer.body, status_code=answer.status, headers=passed)
