"""``/v1/categories``: the catalogue (Open311 services), public and cacheable; admins edit it.

Staff and admins also see each category's ``canned_responses`` (prepared replies); everyone
else gets the lean public body. Both vary on ``Authorization``, and the staff answer is
``private``, so no shared cache hands one viewer's body to the other.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Path, Request, Response

from snapfix_issues.catalogue import Catalogue, CategoryBody, CategorySpec
from snapfix_issues.catalogue_sync import CatalogueSync
from snapfix_issues.schemas import CategoryPage
from snapfix_shared.conditional import etag_matches
from snapfix_shared.messages.issues import CategoryCode
from snapfix_shared.problems import Problem
from snapfix_shared.viewer import AdminDep, OptionalViewerDep, Viewer

PUBLIC_CACHE = "public, max-age=60"
STAFF_CACHE = "private, max-age=60"
# Only staff pick canned responses: the public payload stays lean without them.
STAFF_ONLY_FIELDS = frozenset({"canned_responses"})

router = APIRouter(prefix="/v1/categories", tags=["categories"])


async def get_catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue  # type: ignore[no-any-return]


async def get_sync(request: Request) -> CatalogueSync:
    return request.app.state.catalogue_sync  # type: ignore[no-any-return]


CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
CodePath = Annotated[CategoryCode, Path()]


def _shown(spec: CategorySpec, viewer: Viewer) -> dict[str, object]:
    """The category as this viewer sees it: staff-only fields for staff and admins alone."""
    return spec.model_dump(mode="json", exclude=None if viewer.is_staff else set(STAFF_ONLY_FIELDS))


def _cacheable(body: object, if_none_match: str | None, viewer: Viewer) -> Response:
    """A cacheable answer with a content ETag; 304 when the client already has it."""
    raw = orjson.dumps(body)
    etag = f'"{hashlib.sha256(raw).hexdigest()[:32]}"'
    cache = STAFF_CACHE if viewer.is_staff else PUBLIC_CACHE
    headers = {"ETag": etag, "Cache-Control": cache, "Vary": "Authorization"}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(raw, media_type="application/json", headers=headers)


@router.get("", responses={200: {"model": CategoryPage}})
async def list_categories(
    catalogue: CatalogueDep, viewer: OptionalViewerDep, if_none_match: Annotated[str | None, Header()] = None
) -> Response:
    items = [_shown(spec, viewer) for spec in catalogue.all()]
    return _cacheable({"items": items, "next_cursor": None}, if_none_match, viewer)


@router.get("/{code}", responses={200: {"model": CategorySpec}, 404: {}})
async def get_category(
    code: CodePath,
    catalogue: CatalogueDep,
    viewer: OptionalViewerDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    spec = catalogue.get(code)
    if spec is None:
        raise Problem(404, "Not Found", f"No category {code}.")
    return _cacheable(_shown(spec, viewer), if_none_match, viewer)


@router.put("/{code}", responses={200: {"model": CategorySpec}, 201: {"model": CategorySpec}, 401: {}, 403: {}})
async def put_category(
    code: CodePath,
    body: CategoryBody,
    sync: Annotated[CatalogueSync, Depends(get_sync)],
    _admin: AdminDep,
) -> Response:
    """Create (201) or replace (200) a category. Admins only (the gateway's internal token)."""
    spec, created = await sync.put(code, body)
    return Response(
        orjson.dumps(spec.model_dump(mode="json")),
        status_code=201 if created else 200,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
