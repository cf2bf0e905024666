"""Photos named by a report (or its reporter's edit), checked with their owner, the media service,
before the command is accepted (``api.check_command``). Once a report, an edit or a withdrawal
is applied, the media service is told which photos the report shows (``SetIssuePhotos``, built by
``records.photos_command``); what became of them afterwards is followed by ``service.IssuePhotos``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

import orjson

from snapfix_shared.http_client import Upstream
from snapfix_shared.viewer import InternalTokens, Viewer

# The media service's states a report may name: uploaded (still processing) or processed.
USABLE = {"pending", "processed"}


async def check_photos(
    media: Upstream, media_ids: Sequence[UUID], *, actor_id: str | None, request_id: str, tokens: InternalTokens
) -> list[tuple[str, str]]:
    """Field errors for photos a report may not name: unknown, someone else's, not uploaded, rejected.

    Asked as the reporter alone, without a role: staff may see others' photos, but report only their own.
    """
    errors: list[tuple[str, str]] = []
    seen: set[UUID] = set()
    headers = {"x-request-id": request_id, **tokens.headers(Viewer(user_id=actor_id) if actor_id else None)}
    answers = await asyncio.gather(*(media.call("GET", f"/v1/media/{m}", headers=headers) for m in media_ids))
    for index, (media_id, answer) in enumerate(zip(media_ids, answers, strict=True)):
        field = f"media_ids.{index}"
        if media_id in seen:
            errors.append((field, "This photo is named twice."))
        seen.add(media_id)
        if answer.status == 404:  # the media service answers 404 for someone else's photo too
            errors.append((field, f"No photo {media_id} of yours: upload it first (POST /v1/media)."))
            continue
        state = orjson.loads(answer.body)
        if state["status"] in {"rejected", "failed"}:  # failed: its processing was dead-lettered
            errors.append((field, f"Photo {media_id} was rejected: {state.get('reason') or 'not a usable image'}."))
        elif state["status"] not in USABLE:
            errors.append((field, f"Photo {media_id} has not been uploaded yet ({state['status']})."))
    return errors
