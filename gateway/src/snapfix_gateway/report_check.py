"""What the gateway checks of a report before publishing it, without asking the issues service.

- Category and attributes: against the gateway's copy of the catalogue (``catalogue.py``). A
  category the copy does not know may have been created a moment ago: the caller then asks
  the owner, as for any other command (``commands.py``).
- Photos: one request to the media service per photo, all at once: each must exist, belong to
  the reporter and not have been rejected. Someone else's photo looks unknown (media answers 404),
  so nothing leaks; a media service that cannot answer is a 503, never an unchecked photo.

The issues consumer checks the report again when it applies it, and announces a refusal
(``ReportRejected``); these checks only spare the client a report that would be refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson

from snapfix_gateway.upstream import Upstream, viewer_headers
from snapfix_shared.messages import ReportIssue
from snapfix_shared.messages.catalogue import CategorySpec, attribute_errors
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.viewer import Viewer

# The media service's states a report may name: uploaded (still processing) or processed.
USABLE = frozenset({"pending", "processed"})


def field_errors(detail: str, errors: Sequence[tuple[str, str]]) -> Problem:
    """A 422 whose ``errors`` name each field, in the shape request validation gives them."""
    listed = [{"field": f, "location": ["body", *f.split(".")], "message": m, "type": "rejected"} for f, m in errors]
    return Problem(422, "Unprocessable Content", detail, extra={"errors": listed})


def check_attributes(command: ReportIssue, spec: CategorySpec) -> None:
    """Raise a 422 naming every attribute that does not fit the category."""
    if errors := attribute_errors(spec, command.attributes):
        raise field_errors("; ".join(f"{f}: {m}" for f, m in errors), errors)


async def check_photos(media: Upstream, media_ids: Sequence[UUID], *, actor_id: str | None, request_id: str) -> None:
    """Raise a 422 naming every photo the reporter may not use; a 503 when media cannot tell."""
    if not media_ids:
        return
    # The reporter alone, without a role: staff may see others' photos, but report only their own.
    headers = viewer_headers(request_id, Viewer(user_id=actor_id) if actor_id else None)
    answers = await asyncio.gather(*(media.call("GET", f"/v1/media/{m}", headers=headers) for m in media_ids))
    errors: list[tuple[str, str]] = []
    seen: set[UUID] = set()
    for index, (media_id, answer) in enumerate(zip(media_ids, answers, strict=True)):
        field = f"media_ids.{index}"
        if media_id in seen:
            errors.append((field, "This photo is named twice."))
        seen.add(media_id)
        if answer.status == 404 or actor_id is None:
            errors.append((field, f"No photo {media_id} of yours: upload it first (POST /v1/media)."))
            continue
        if answer.status != 200:
            raise ServiceUnavailable(f"The photo service could not check photo {media_id}; please retry.")
        state: dict[str, Any] = orjson.loads(answer.body)
        if state["status"] in {"rejected", "failed"}:  # failed: its processing was dead-lettered
            errors.append((field, f"Photo {media_id} was rejected: {state.get('reason') or 'not a usable image'}."))
        elif state["status"] not in USABLE:
            errors.append((field, f"Photo {media_id} has not been uploaded yet ({state['status']})."))
    if errors:
        raise field_errors("The report names photos it cannot use.", errors)
